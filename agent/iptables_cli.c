/* `ward iptables`: the command line. It renders ward's capture rules and
 * applies them with iptables-restore. The init container runs it once per
 * pod; it must be safe to run again (a restarted init container) and to undo
 * (--cleanup). */
#include "agent/iptables.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/iptables_ssh.h"
#include "config/capture.h"

enum {
	OPT_PROXY_UID = 256,
	OPT_PROXY_GID,
	OPT_OUTBOUND_PORT,
	OPT_INBOUND_PORT,
	OPT_ADMIN_PORT,
	OPT_IN_INCLUDE,
	OPT_IN_EXCLUDE,
	OPT_OUT_INCLUDE,
	OPT_OUT_EXCLUDE,
	OPT_CIDR_INCLUDE,
	OPT_CIDR_EXCLUDE,
	OPT_IPV6,
	OPT_PRESERVE_SOURCE,
	OPT_DRY_RUN,
	OPT_CLEANUP,
	OPT_CAPTURE_SSH,
};

static const struct option long_opts[] = {
    {"proxy-uid", required_argument, NULL, OPT_PROXY_UID},
    {"proxy-gid", required_argument, NULL, OPT_PROXY_GID},
    {"outbound-port", required_argument, NULL, OPT_OUTBOUND_PORT},
    {"inbound-port", required_argument, NULL, OPT_INBOUND_PORT},
    {"admin-port", required_argument, NULL, OPT_ADMIN_PORT},
    {"include-inbound-ports", required_argument, NULL, OPT_IN_INCLUDE},
    {"exclude-inbound-ports", required_argument, NULL, OPT_IN_EXCLUDE},
    {"include-outbound-ports", required_argument, NULL, OPT_OUT_INCLUDE},
    {"exclude-outbound-ports", required_argument, NULL, OPT_OUT_EXCLUDE},
    {"include-outbound-cidrs", required_argument, NULL, OPT_CIDR_INCLUDE},
    {"exclude-outbound-cidrs", required_argument, NULL, OPT_CIDR_EXCLUDE},
    {"ipv6", required_argument, NULL, OPT_IPV6},
    {"preserve-source", no_argument, NULL, OPT_PRESERVE_SOURCE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"cleanup", no_argument, NULL, OPT_CLEANUP},
    {"capture-ssh", no_argument, NULL, OPT_CAPTURE_SSH},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: ward iptables [options]\n\n"
	    "Installs (or with --cleanup removes) the nat-table rules that send this network\n"
	    "namespace's TCP traffic through the ward agent. Run once per pod, as the init\n"
	    "container, with CAP_NET_ADMIN. Running it again leaves one set of rules.\n\n"
	    "  --proxy-uid N                  uid of the ward agent, never captured (%d)\n"
	    "  --proxy-gid N                  gid of the ward agent, never captured (= uid)\n"
	    "  --outbound-port PORT           agent's outbound listener (%d)\n"
	    "  --inbound-port PORT            agent's inbound listener (%d)\n"
	    "  --admin-port PORT              agent's admin port, never captured inbound (%d)\n"
	    "  --include-inbound-ports LIST   inbound ports to capture, '*' = all (*)\n"
	    "  --exclude-inbound-ports LIST   inbound ports never captured (none)\n"
	    "  --include-outbound-ports LIST  outbound ports to capture, '*' = all (*)\n"
	    "  --exclude-outbound-ports LIST  outbound ports never captured (none)\n"
	    "  --include-outbound-cidrs LIST  destinations to capture, '*' = all (*)\n"
	    "  --exclude-outbound-cidrs LIST  destinations never captured (none)\n"
	    "  --ipv6 auto|on|off             IPv6 rules too; auto = when ip6tables-restore\n"
	    "                                 exists and the namespace has IPv6 (auto)\n"
	    "  --preserve-source              add the mangle/raw rules and policy routing\n"
	    "                                 the agent's inbound.preserve_source needs\n"
	    "                                 (runs iproute2's ip); a run without it\n"
	    "                                 removes them\n"
	    "  --dry-run                      print the iptables-restore input, change nothing\n"
	    "  --cleanup                      remove ward's rules and chains, nothing else\n"
	    "  --capture-ssh                  capture the port of the SSH session this runs\n"
	    "                                 from (refused without it: see README)\n"
	    "  -h, --help                     this text\n\n"
	    "LIST is comma-separated. Traffic leaving through lo (localhost, the pod's own\n"
	    "address) is never captured. Exit status: 0 ok, 1 failed, 2 bad usage.\n",
	    WARD_IPTABLES_DEFAULT_ID, WARD_IPTABLES_DEFAULT_OUTBOUND_PORT,
	    WARD_IPTABLES_DEFAULT_INBOUND_PORT, WARD_IPTABLES_DEFAULT_ADMIN_PORT);
}

static int parse_ipv6(const char *s, enum ward_iptables_ipv6 *v)
{
	if (!strcmp(s, "auto"))
		*v = WARD_IPTABLES_IPV6_AUTO;
	else if (!strcmp(s, "on"))
		*v = WARD_IPTABLES_IPV6_ON;
	else if (!strcmp(s, "off"))
		*v = WARD_IPTABLES_IPV6_OFF;
	else
		return ward_err_set(WARD_ERR_INVALID, "'%s' is not one of auto, on, off", s);
	return 0;
}

static int parse_one(struct ward_iptables_opts *o, int opt, const char *arg, bool *gid_set)
{
	uint32_t id;

	switch (opt) {
	case OPT_PROXY_UID:
		GUARD(ward_capture_parse_id(arg, &id));
		o->proxy_uid = id;
		return 0;
	case OPT_PROXY_GID:
		GUARD(ward_capture_parse_id(arg, &id));
		o->proxy_gid = id;
		*gid_set = true;
		return 0;
	case OPT_OUTBOUND_PORT:
		return ward_capture_parse_port(arg, &o->outbound_port);
	case OPT_INBOUND_PORT:
		return ward_capture_parse_port(arg, &o->inbound_port);
	case OPT_ADMIN_PORT:
		return ward_capture_parse_port(arg, &o->admin_port);
	case OPT_IN_INCLUDE:
		return ward_capture_parse_ports(arg, true, &o->in_include);
	case OPT_IN_EXCLUDE:
		return ward_capture_parse_ports(arg, false, &o->in_exclude);
	case OPT_OUT_INCLUDE:
		return ward_capture_parse_ports(arg, true, &o->out_include);
	case OPT_OUT_EXCLUDE:
		return ward_capture_parse_ports(arg, false, &o->out_exclude);
	case OPT_CIDR_INCLUDE:
		return ward_capture_parse_cidrs(arg, true, &o->out_cidr_include);
	case OPT_CIDR_EXCLUDE:
		return ward_capture_parse_cidrs(arg, false, &o->out_cidr_exclude);
	case OPT_IPV6:
		return parse_ipv6(arg, &o->ipv6);
	}
	return ward_err_set(WARD_ERR_INVALID, "unhandled option");
}

/* getopt_long's own messages would say "iptables: ..." on some paths and
 * nothing useful on others; ward names the option itself. */
static int bad_option(int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return ward_err_set(WARD_ERR_INVALID, "option '%s' needs a value", arg);
	return ward_err_set(WARD_ERR_INVALID, "unknown option '%s' (see --help)", arg);
}

/* The options that take no value. */
static bool *flag_of(struct ward_iptables_opts *o, int opt)
{
	switch (opt) {
	case OPT_DRY_RUN:
		return &o->dry_run;
	case OPT_CLEANUP:
		return &o->cleanup;
	case OPT_CAPTURE_SSH:
		return &o->capture_ssh;
	}
	return NULL;
}

int ward_iptables_opts_parse(struct ward_iptables_opts *o, int argc, char **argv)
{
	bool gid_set = false, *flag;
	int opt, idx;

	ward_iptables_opts_init(o);
	optind = 0; /* full re-initialisation: the tests parse more than once */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_opts, &idx)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 1;
		}
		if ((flag = flag_of(o, opt))) {
			*flag = true;
			continue;
		}
		if (opt == OPT_PRESERVE_SOURCE) {
			o->preserve_source = true;
			continue;
		}
		if (opt == '?' || opt == ':')
			return bad_option(opt, argv);
		if (parse_one(o, opt, optarg, &gid_set) < 0)
			return ward_err_prefix(WARD_ERR_INVALID, "--%s '%s'", long_opts[idx].name,
					       optarg);
	}
	ENSURE(optind == argc, WARD_ERR_INVALID, "unexpected argument '%s'", argv[optind]);
	if (!gid_set)
		o->proxy_gid = o->proxy_uid;
	ENSURE(o->inbound_port != o->outbound_port, WARD_ERR_INVALID,
	       "--inbound-port and --outbound-port must differ (both %u)", o->inbound_port);
	/* The admin port is never captured inbound: a listener on it would be
	 * left out of capture, and probes would reach the proxy's listener. */
	ENSURE(o->admin_port != o->outbound_port && o->admin_port != o->inbound_port,
	       WARD_ERR_INVALID, "--%s-port and --admin-port must differ (both %u)",
	       o->admin_port == o->outbound_port ? "outbound" : "inbound", o->admin_port);
	return 0;
}

int ward_iptables_main(int argc, char **argv)
{
	struct ward_iptables_opts o;
	int rc;

	ward_err_clear();
	rc = ward_iptables_opts_parse(&o, argc, argv);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "ward iptables: %s\n", ward_err_msg());
		return 2;
	}
	if (!o.dry_run && ward_iptables_ssh_guard(&o, getenv("SSH_CONNECTION")) < 0) {
		fprintf(stderr, "ward iptables: %s\n", ward_err_msg());
		return 2;
	}
	rc = o.dry_run ? ward_iptables_dry_run(&o, stdout) : ward_iptables_apply(&o);
	if (rc < 0) {
		fprintf(stderr, "ward iptables: %s\n", ward_err_msg());
		return 1;
	}
	return 0;
}
