/* `ward doctor`: runs the checks of doctor.c and prints them for people, or
 * as JSON with --json. Exit status 1 when a check fails. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <curl/curl.h>

#include "agent/admin_client.h"
#include "agent/cli.h"
#include "agent/doctor.h"
#include "lib/log.h"
#include "agent/tls_ctx.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: ward doctor [--config FILE] [--json]\n\n"
		     "Checks this host or pod the way an operator would before blaming the\n"
		     "application: kernel TCP settings, TIME-WAIT/CLOSE-WAIT sockets, the\n"
		     "file-descriptor limit, ward's capture rules, the Workload API socket, the\n"
		     "SVID's expiry and the clock. Reads only; changes nothing.\n\n"
		     "  -c, --config FILE  the agent's configuration (ports, limits, identity);\n"
		     "                     without it the defaults are assumed and the SVID\n"
		     "                     checks are skipped\n"
		     "      --json         one JSON object instead of text\n"
		     "  -h, --help         this help\n\n"
		     "Exit status: 0 no check failed (warnings allowed), 1 a check failed,\n"
		     "2 bad usage or configuration.\n");
}

static void print_text(const struct ward_check *c, size_t n)
{
	static const char *const tag[] = {"ok  ", "WARN", "FAIL", "skip"};
	size_t counts[4] = {0};

	for (size_t i = 0; i < n; i++) {
		counts[c[i].status]++;
		printf("[%s] %-20s %s\n", tag[c[i].status], c[i].name, c[i].value);
		printf("       recommended: %s\n       why: %s\n", c[i].recommended, c[i].why);
	}
	printf("\n%zu checks: %zu ok, %zu warnings, %zu failed, %zu skipped\n", n, counts[0],
	       counts[1], counts[2], counts[3]);
}

/* The check is about the agent's limits, not the doctor's: ask the agent
 * (its /stats carries its pid and RLIMIT_NOFILE); fall back to the
 * doctor's own, saying so. */
static void fd_limits(struct ward_doctor_env *env, char *why, size_t len)
{
	json_t *stats = NULL, *p;
	struct rlimit rl;

	if (ward_admin_get_json(&env->cfg->admin.listen, "/stats", &stats) == 0 &&
	    (p = json_object_get(stats, "process")) &&
	    json_integer_value(json_object_get(p, "fd_soft")) > 0) {
		env->agent_pid = (int)json_integer_value(json_object_get(p, "pid"));
		env->fd_limit = (unsigned long)json_integer_value(json_object_get(p, "fd_soft"));
		env->fd_hard = (unsigned long)json_integer_value(json_object_get(p, "fd_hard"));
		json_decref(stats);
		return;
	}
	json_decref(stats);
	snprintf(why, len, "%s", stats ? "its /stats has no limits" : ward_err_msg());
	env->agent_error = why;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		env->fd_limit = (unsigned long)rl.rlim_cur;
		env->fd_hard = (unsigned long)rl.rlim_max;
	}
}

static int load_config(const char *path, struct ward_config **cfg)
{
	if (path)
		return ward_config_load_file(path, cfg);
	*cfg = calloc(1, sizeof(**cfg));
	ENSURE(*cfg, WARD_ERR_NOMEM, "config");
	return ward_config_init_defaults(*cfg);
}

int ward_doctor_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct ward_check checks[WARD_DOCTOR_CHECKS];
	struct ward_doctor_env env = {.proc = "/proc", .now = time(NULL)};
	struct ward_config *cfg = NULL;
	const char *config = NULL;
	char agent_error[200];
	bool json = false;
	int opt, failed;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ward doctor: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (load_config(config, &cfg) < 0) {
		/* A config file's errors name it already. */
		fprintf(stderr, "ward doctor: %s%s\n", config ? "" : "defaults: ", ward_err_msg());
		if (!config && cfg) {
			ward_config_uninit(cfg);
			free(cfg);
		}
		return 2;
	}
	env.cfg = cfg;
	env.have_config = config != NULL;
	/* The identity checks may fetch an SVID from the Workload API; its
	 * client's progress is not the doctor's output, its failures are. */
	ward_log_set_level(WARD_LOG_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	fd_limits(&env, agent_error, sizeof(agent_error));
	if (ward_tls_global_init() < 0) {
		fprintf(stderr, "ward doctor: %s\n", ward_err_msg());
		return 1;
	}
	failed = ward_doctor_run(&env, checks);
	ward_tls_global_cleanup();
	curl_global_cleanup();
	if (json) {
		json_t *j = ward_doctor_json(checks, WARD_DOCTOR_CHECKS);

		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		print_text(checks, WARD_DOCTOR_CHECKS);
	}
	if (config) {
		ward_config_free(cfg);
	} else {
		ward_config_uninit(cfg);
		free(cfg);
	}
	return failed ? 1 : 0;
}
