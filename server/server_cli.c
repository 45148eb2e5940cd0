/* `ward server` on the command line: run the server, or talk to a running
 * one through its admin socket. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "server/cli.h"
#include "lib/jsonline.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "server/server.h"

#define DEFAULT_ADMIN "/run/ward/server-admin.sock"
/* A forced rotation answers once done: at most twice rotation.max_wait_ms
 * plus rotation.grace_ms (3 minutes with the largest values). */
#define ADMIN_TIMEOUT_MS 200000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ward server --config FILE [--check]\n"
		"       ward server rotate svids|ca|root [--admin SOCKET]\n"
		"       ward server entries|svids|cas [--admin SOCKET]\n\n"
		"Runs a SPIFFE identity server for this machine: a CA, registration\n"
		"entries, and the SPIFFE Workload API on a unix socket (see README,\n"
		"\"ward server\"). The other forms ask a running server, through its\n"
		"admin socket, to rotate SVIDs, the CA or the trust anchor now, or to\n"
		"list its entries, issued SVIDs or CAs (JSON on stdout).\n\n"
		"  -c, --config FILE    JSON configuration\n"
		"      --check          validate the configuration, entries and CA, then exit\n"
		"  -a, --admin SOCKET   admin socket (default " DEFAULT_ADMIN ")\n"
		"  -h, --help           this help\n");
}

static int run(const char *config, bool check)
{
	struct ward_server_config *cfg;
	struct ward_server s;
	int rc;

	if (ward_server_config_load_file(config, &cfg) < 0) {
		fprintf(stderr, "ward server: %s\n", ward_err_msg()); /* it names the file */
		return 2;
	}
	if (ward_log_set_level_name(cfg->log_level) < 0 || ward_tls_global_init() < 0) {
		fprintf(stderr, "ward server: %s\n", ward_err_msg());
		ward_server_config_free(cfg);
		return 1;
	}
	rc = ward_server_init(&s, cfg, check);
	if (rc < 0) {
		fprintf(stderr, "ward server: %s\n", ward_err_msg());
		ward_server_uninit(&s);
		ward_tls_global_cleanup();
		return rc == WARD_ERR_INVALID ? 2 : 1;
	}
	if (check && ward_ca_manager_active_is_new(s.ca))
		printf("config ok: trust domain %s, %zu entries, a new CA to be created in %s "
		       "when the server starts (--check writes nothing)\n",
		       cfg->trust_domain, s.reg->n, cfg->data_dir);
	else if (check)
		printf("config ok: trust domain %s, %zu entries, CA %s\n", cfg->trust_domain,
		       s.reg->n, ward_ca_manager_active(s.ca)->serial_hex);
	else
		rc = ward_server_run(&s);
	ward_server_uninit(&s);
	ward_tls_global_cleanup();
	return rc < 0 ? 1 : 0;
}

/* One admin request; the response is printed as it came, indented. */
static int admin(const char *path, json_t *req)
{
	json_t *resp;
	char *text;
	int rc;

	if (!req || ward_jsonline_call_sync(path, req, ADMIN_TIMEOUT_MS, &resp) < 0) {
		fprintf(stderr, "ward server: %s\n", req ? ward_err_msg() : "out of memory");
		json_decref(req);
		return 1;
	}
	json_decref(req);
	rc = json_is_true(json_object_get(resp, "ok")) ? 0 : 1;
	if (rc) {
		fprintf(stderr, "ward server: %s\n",
			json_string_value(json_object_get(resp, "error")) ?: "request failed");
	} else if ((text = json_dumps(resp, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		puts(text);
		free(text);
	}
	json_decref(resp);
	return rc;
}

static int client(int argc, char **argv, const char *path)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "rotate")) {
		if (argc != 2 || (strcmp(argv[1], "svids") && strcmp(argv[1], "ca") &&
				  strcmp(argv[1], "root"))) {
			fprintf(stderr, "ward server rotate: say what: svids, ca or root\n");
			return 2;
		}
		return admin(path, json_pack("{s:s,s:s}", "command", "rotate", "what", argv[1]));
	}
	if (argc != 1 || (strcmp(cmd, "entries") && strcmp(cmd, "svids") && strcmp(cmd, "cas"))) {
		fprintf(stderr, "ward server: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	return admin(path, json_pack("{s:s}", "command", cmd));
}

int ward_server_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check", no_argument, NULL, 'k'},
					     {"admin", required_argument, NULL, 'a'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *admin_path = DEFAULT_ADMIN;
	bool check = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:a:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'a':
			admin_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return client(argc - optind, argv + optind, admin_path);
	if (!config) {
		fprintf(stderr, "ward server: --config FILE is required\n");
		usage(stderr);
		return 2;
	}
	return run(config, check);
}
