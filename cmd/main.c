/* ward: a service-mesh sidecar. This file only dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "agent/cli.h"
#include "kube/cli.h"
#include "lib/version.h"
#include "server/cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"agent", ward_agent_main, "run the sidecar proxy (mTLS 1.3 in and out)"},
    {"iptables", ward_iptables_main, "install or remove the pod's capture rules"},
    {"inject", ward_inject_main, "add ward's sidecar to Kubernetes manifests"},
    {"uninject", ward_uninject_main, "remove what inject added from manifests"},
    {"webhook", ward_webhook_main, "serve the Kubernetes sidecar-injection webhook"},
    {"wait", ward_wait_main, "wait until the local agent is ready (postStart hook)"},
    {"doctor", ward_doctor_main, "check the host or pod's TCP, limits, capture and identity"},
    {"status", ward_status_main, "summarise a running agent (identity, connections, handshakes)"},
    {"server", ward_server_main, "SPIFFE identity server: CA, entries, Workload API"},
    {"drill", ward_drill_main, "rotate certificates under load and prove nothing broke"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ward <command> [options]\n\n"
		     "ward is a service-mesh sidecar: it captures a pod's TCP traffic and\n"
		     "wraps it in mutual TLS 1.3 with SPIFFE identities.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-10s %s\n\n", "version", "print the version");
	fprintf(out, "Run 'ward <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("ward %s\n", WARD_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ward: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
