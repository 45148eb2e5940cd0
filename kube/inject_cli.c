/* `ward inject` and `ward uninject`: manifests in, manifests out. The whole
 * output is built in memory and written only when every document went
 * through, so a bad document leaves no half-written file behind. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cli.h"
#include "kube/inject.h"
#include "kube/manifest.h"

struct run {
	const char *cmd;
	const char *input, *output;
	enum ward_inject_action act;
	struct ward_inject_opts opts;
};

static void usage(FILE *out, enum ward_inject_action act)
{
	if (act == WARD_UNINJECT) {
		fprintf(out,
			"usage: ward uninject [-f FILE] [-o FILE]\n\n"
			"Removes what `ward inject` added (as its ward.io/status annotation\n"
			"records it) from every pod template of the manifests.\n\n"
			"  -f, --filename FILE  manifests to read, YAML or JSON ('-' = stdin, the "
			"default)\n"
			"  -o, --output FILE    where to write them ('-' = stdout, the default)\n"
			"  -h, --help           this text\n");
		return;
	}
	fprintf(
	    out,
	    "usage: ward inject [-f FILE] [-o FILE] [options]\n\n"
	    "Adds ward's capture init container, proxy and volumes to every pod template\n"
	    "(Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,\n"
	    "Job, CronJob, and Lists of them). Other objects pass through unchanged.\n"
	    "Pods with ward.io/inject: \"false\", hostNetwork pods and pods already\n"
	    "injected are left alone, with the reason on stderr.\n\n"
	    "  -f, --filename FILE               manifests, YAML or JSON ('-' = stdin, default)\n"
	    "  -o, --output FILE                 output, same format ('-' = stdout, default)\n"
	    "      --config FILE                 injector defaults (JSON; see README)\n"
	    "      --image IMAGE                 the ward image for both containers\n"
	    "      --legacy-sidecar              proxy as a regular container held ready by a\n"
	    "                                    postStart `ward wait` (before Kubernetes 1.29)\n"
	    "      --workload-socket-hostpath DIR  Workload API socket from this node directory\n"
	    "                                    instead of the SPIFFE CSI driver\n"
	    "      --workload-socket-name NAME   the socket's file name (spire-agent.sock with\n"
	    "                                    the CSI driver, agent.sock from a node dir)\n"
	    "  -h, --help                        this text\n");
}

static int parse_args(struct run *r, int argc, char **argv)
{
	enum { OPT_CONFIG = 256, OPT_IMAGE, OPT_LEGACY, OPT_HOSTPATH, OPT_SOCKET_NAME };
	static const struct option opts[] = {
	    {"filename", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"image", required_argument, NULL, OPT_IMAGE},
	    {"legacy-sidecar", no_argument, NULL, OPT_LEGACY},
	    {"workload-socket-hostpath", required_argument, NULL, OPT_HOSTPATH},
	    {"workload-socket-name", required_argument, NULL, OPT_SOCKET_NAME},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	json_t *flags = json_object();
	int opt, rc = 0;

	optind = 1;
	while (rc == 0 && (opt = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		if (r->act == WARD_UNINJECT && opt >= OPT_CONFIG)
			opt = '?';
		switch (opt) {
		case 'f':
			r->input = optarg;
			break;
		case 'o':
			r->output = optarg;
			break;
		case OPT_CONFIG:
			rc = ward_inject_opts_load(&r->opts, optarg);
			break;
		/* Flags win over the config file, whatever their order. */
		case OPT_IMAGE:
			json_object_set_new(flags, "image", json_string(optarg));
			break;
		case OPT_LEGACY:
			json_object_set_new(flags, "legacy_sidecar", json_true());
			break;
		case OPT_HOSTPATH:
			json_object_set_new(flags, "workload_socket_hostpath", json_string(optarg));
			break;
		case OPT_SOCKET_NAME:
			json_object_set_new(flags, "workload_socket_name", json_string(optarg));
			break;
		case 'h':
			usage(stdout, r->act);
			rc = 1;
			break;
		default:
			usage(stderr, r->act);
			rc = ward_err_set(WARD_ERR_INVALID, "bad usage");
		}
	}
	if (rc == 0 && optind < argc)
		rc = ward_err_set(WARD_ERR_INVALID, "unexpected argument '%s'", argv[optind]);
	if (rc == 0 && ward_inject_opts_load_json(&r->opts, flags) < 0)
		rc = ward_err_prefix(WARD_ERR_INVALID, "flag");
	json_decref(flags);
	return rc;
}

static void print_notes(const char *cmd, json_t *notes)
{
	json_t *n;
	size_t i;

	json_array_foreach(notes, i, n) fprintf(stderr, "ward %s: %s\n", cmd, json_string_value(n));
}

static int transform(struct run *r)
{
	struct ward_manifest m = {0};
	struct ward_buf out;
	json_t *notes = json_array(), *doc;
	size_t len, i;
	char *data;
	int rc;

	ward_buf_init(&out, WARD_MANIFEST_MAX_BYTES);
	if ((rc = ward_manifest_slurp(r->input, &data, &len)) < 0)
		goto done;
	rc = ward_manifest_parse(data, len, &m);
	free(data);
	if (rc < 0)
		goto done;
	json_array_foreach(m.docs, i, doc)
	{
		if ((rc = ward_inject_doc(&r->opts, r->act, doc, (unsigned)i + 1, notes)) < 0)
			goto done;
	}
	if ((rc = ward_manifest_render(&m, &out)) < 0)
		goto done;
	rc = ward_manifest_write_out(r->output, out.data ? (char *)out.data : "",
				     ward_buf_len(&out));
done:
	print_notes(r->cmd, notes);
	json_decref(notes);
	ward_manifest_free(&m);
	ward_buf_drop(&out);
	return rc;
}

static int run_main(enum ward_inject_action act, int argc, char **argv)
{
	struct run r = {.cmd = argv[0], .input = "-", .output = "-", .act = act};
	int rc;

	if (ward_inject_opts_init(&r.opts) < 0) {
		fprintf(stderr, "ward %s: %s\n", r.cmd, ward_err_msg());
		return 1;
	}
	rc = parse_args(&r, argc, argv);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "ward %s: %s\n", r.cmd, ward_err_msg());
		ward_inject_opts_free(&r.opts);
		return rc < 0 ? 2 : 0;
	}
	rc = transform(&r);
	if (rc < 0)
		fprintf(stderr, "ward %s: %s\n", r.cmd, ward_err_msg());
	ward_inject_opts_free(&r.opts);
	return rc < 0 ? 1 : 0;
}

int ward_inject_main(int argc, char **argv)
{
	return run_main(WARD_INJECT, argc, argv);
}

int ward_uninject_main(int argc, char **argv)
{
	return run_main(WARD_UNINJECT, argc, argv);
}
