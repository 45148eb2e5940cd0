/* `ward agent`: load the config and identity, start the workers, and run the
 * control loop (signals, identity reloads, drain) on the main thread. */
#include <errno.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config/config.h"
#include "lib/tls.h"
#include "agent/admin.h"
#include "agent/app_probe.h"
#include "agent/app.h"
#include "agent/cli.h"
#include "agent/fdlimit.h"
#include "agent/identity.h"
#include "lib/log.h"
#include "agent/wlidentity.h"
#include "agent/worker.h"

struct agent {
	struct ward_config *cfg;
	struct ward_tls_policy policy;
	uv_loop_t loop;
	uv_signal_t sig_term, sig_int, sig_hup;
	struct ward_identity *identity;	    /* identity.files, or */
	struct ward_wlidentity *wlidentity; /* the Workload API */
	struct ward_worker *workers;
	unsigned n_workers;
	atomic_uint active_conns;
	bool draining;
	bool config_file; /* the --config file was there (or it is an empty layer) */
	struct ward_admin *admin;
	struct ward_app_probes *probes; /* until the admin takes them */
	unsigned n_app_probes;
	uv_async_t from_workers; /* workers -> main: snapshot filled, loop finished */
	bool from_workers_open;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: ward agent --config FILE [--config-optional] [--defaults JSON]\n"
	    "                  [--override JSON] [--check]\n\n"
	    "Runs the sidecar: the outbound listener wraps the app's connections in\n"
	    "mutual TLS 1.3, the inbound listener terminates it and enforces policy.\n\n"
	    "  -c, --config FILE  JSON configuration (see README, \"Configuration\")\n"
	    "      --config-optional  a missing FILE is not an error (an empty layer)\n"
	    "      --defaults JSON  a JSON object the file is merged over, key by key\n"
	    "                     (ward inject passes the mesh-wide defaults this way)\n"
	    "      --override JSON  a JSON object merged over the file's, key by key\n"
	    "                     (e.g. '{\"inbound\":{\"mode\":\"permissive\"}}'; ward inject\n"
	    "                     passes a pod's ward.io/ annotations this way)\n"
	    "      --check        validate the configuration and identity, then exit\n"
	    "  -h, --help         this help\n\n"
	    "Signals: SIGTERM/SIGINT drain (stop accepting, finish live connections\n"
	    "for up to limits.drain_timeout_s, exit 0); SIGHUP re-reads identity files\n"
	    "or reconnects to the Workload API.\n");
}

static void on_identity(struct ward_tls_ctx *ctx, void *arg)
{
	struct agent *a = arg;

	for (unsigned i = 0; i < a->n_workers; i++)
		ward_worker_set_tls(&a->workers[i], ctx);
	ward_admin_set_identity(a->admin, ctx);
}

/* The admin stays up while the workers drain (probes see 503 "draining"),
 * and closes once every worker's loop has finished. */
static void stop_admin(struct agent *a)
{
	ward_admin_stop(a->admin);
	if (a->from_workers_open)
		uv_close((uv_handle_t *)&a->from_workers, NULL);
	a->from_workers_open = false;
}

static void on_workers(uv_async_t *h)
{
	struct agent *a = h->data;
	unsigned done = 0;

	ward_admin_poll(a->admin);
	for (unsigned i = 0; i < a->n_workers; i++)
		done += atomic_load(&a->workers[i].finished);
	if (a->draining && done == a->n_workers)
		stop_admin(a);
}

static void stop_identity(struct agent *a)
{
	ward_identity_stop(a->identity);
	ward_wlidentity_stop(a->wlidentity);
	a->identity = NULL;
	a->wlidentity = NULL;
}

static void start_drain(struct agent *a)
{
	if (a->draining)
		return;
	a->draining = true;
	ward_admin_set_draining(a->admin);
	ward_log(WARD_LOG_INFO, "draining", "{s:I,s:i}", "active_connections",
		 (json_int_t)atomic_load(&a->active_conns), "deadline_s",
		 (int)a->cfg->limits.drain_timeout_s);
	for (unsigned i = 0; i < a->n_workers; i++)
		ward_worker_drain(&a->workers[i]);
	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
	uv_close((uv_handle_t *)&a->sig_hup, NULL);
	stop_identity(a);
	if (a->n_workers == 0)
		stop_admin(a);
}

static void admin_drain(void *arg)
{
	start_drain(arg);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;

	if (signum == SIGHUP) {
		if (a->identity)
			ward_identity_reload(a->identity);
		if (a->wlidentity)
			ward_wlidentity_restart(a->wlidentity);
		return;
	}
	start_drain(a);
}

/* After the switch to proxy.uid, CAP_NET_ADMIN alone stays, and effective:
 * inbound.preserve_source binds the app's connections to the caller's
 * address (IP_TRANSPARENT). glibc has no capset wrapper; libcap would be a
 * library for these two words. */
static int keep_net_admin(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
	ENSURE(syscall(SYS_capset, &hdr, data) == 0, WARD_ERR_PERM,
	       "inbound.preserve_source needs CAP_NET_ADMIN, which the agent was not given: "
	       "%s",
	       strerror(errno));
	return 0;
}

/* Started as root (a plain container or the demo), the agent gives up root
 * for the proxy uid once its ports are bound and its key is read: the data
 * path runs unprivileged and with no capabilities but, for
 * inbound.preserve_source, CAP_NET_ADMIN. */
static int drop_privileges(const struct ward_config *cfg)
{
	bool keep = cfg->inbound.preserve_source;

	if (geteuid() != 0 || cfg->proxy.uid == 0)
		return 0;
	/* The workers are not started yet: this thread's capabilities are what
	 * they inherit. */
	ENSURE(!keep || prctl(PR_SET_KEEPCAPS, 1) == 0, WARD_ERR_PERM, "PR_SET_KEEPCAPS: %s",
	       strerror(errno));
	ENSURE(setgroups(0, NULL) == 0 && setgid(cfg->proxy.gid) == 0 &&
		   setuid(cfg->proxy.uid) == 0,
	       WARD_ERR_PERM, "cannot switch to proxy uid %u", cfg->proxy.uid);
	if (!keep)
		return 0;
	prctl(PR_SET_KEEPCAPS, 0);
	return keep_net_admin();
}

static unsigned worker_count(const struct ward_config *cfg)
{
	long n = cfg->proxy.workers ? (long)cfg->proxy.workers : sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static int start_workers(struct agent *a, struct ward_tls_ctx *tls)
{
	unsigned n = worker_count(a->cfg);

	a->workers = calloc(n, sizeof(*a->workers));
	ENSURE(a->workers, WARD_ERR_NOMEM, "workers");
	for (; a->n_workers < n; a->n_workers++) {
		GUARD(ward_worker_init(&a->workers[a->n_workers], a->n_workers, a->cfg,
				       &a->active_conns, tls));
		a->workers[a->n_workers].notify = &a->from_workers;
	}
	GUARD(drop_privileges(a->cfg));
	GUARD(ward_app_check(a->cfg));
	for (unsigned i = 0; i < n; i++)
		GUARD(ward_worker_start(&a->workers[i]));
	ward_admin_set_workers(a->admin, a->workers, a->n_workers);
	return 0;
}

static void signal_start(struct agent *a, uv_signal_t *s, int signum)
{
	uv_signal_init(&a->loop, s);
	s->data = a;
	uv_signal_start(s, on_signal, signum);
}

/* The mesh scope, as the ready line shows it: what gets mTLS, and so what
 * does not. */
static json_t *mesh_scope(const struct ward_config *cfg)
{
	json_t *list = json_array();
	char buf[64];

	for (size_t i = 0; i < cfg->outbound.n_mesh_cidrs; i++)
		json_array_append_new(list, json_string(ward_cidr_format(
						&cfg->outbound.mesh_cidrs[i], buf, sizeof(buf))));
	return list;
}

/* Packed here, not in ward_log: the scope list must be freed even when
 * info is not logged. */
static void log_ready(struct agent *a, bool have_identity)
{
	const struct ward_config *cfg = a->cfg;
	char out[64], in[64], adm[64];

	ward_log_emit(
	    WARD_LOG_INFO, "ready",
	    json_pack(
		"{s:s,s:s,s:s,s:i,s:i,s:b,s:o,s:b,s:i}", "outbound",
		ward_addr_format((struct sockaddr *)&cfg->outbound.listen.ss, out, sizeof(out)),
		"inbound",
		ward_addr_format((struct sockaddr *)&cfg->inbound.listen.ss, in, sizeof(in)),
		"admin",
		ward_addr_format((struct sockaddr *)&cfg->admin.listen.ss, adm, sizeof(adm)),
		"workers", (int)a->n_workers, "uid", (int)geteuid(), "identity", have_identity,
		"mesh_cidrs", mesh_scope(cfg), "config_file", a->config_file, "app_probes",
		(int)a->n_app_probes));
}

/* At start, before any socket: the soft limit goes up to the hard one, and a
 * hard limit that cannot carry limits.max_connections is said out loud (the
 * agent would refuse connections with EMFILE long before the limit). */
static void raise_fd_limit(const struct ward_config *cfg)
{
	struct ward_fdlimit l;
	unsigned max = cfg->limits.max_connections;

	if (ward_fdlimit_raise(max, &l) < 0) {
		ward_log(WARD_LOG_WARN, "fd_limit_low", "{s:s}", "reason", ward_err_msg());
		return;
	}
	if (l.soft != l.was)
		ward_log(WARD_LOG_INFO, "fd_limit_raised", "{s:I,s:I}", "from", (json_int_t)l.was,
			 "to", (json_int_t)l.soft);
	if (l.soft < l.needed)
		ward_log(
		    WARD_LOG_WARN, "fd_limit_low", "{s:I,s:I,s:I,s:I,s:s}", "soft",
		    (json_int_t)l.soft, "hard", (json_int_t)l.hard, "needed", (json_int_t)l.needed,
		    "max_connections", (json_int_t)max, "reason",
		    "the hard RLIMIT_NOFILE cannot carry limits.max_connections (2 descriptors "
		    "per connection): connections will be refused (EMFILE) before it; raise "
		    "LimitNOFILE / ulimit -Hn or lower limits.max_connections");
}

/* Said once: the profile's post-quantum group is left out on this build. */
static void log_key_exchange(const struct ward_tls_policy *p)
{
	char groups[160];

	if (!p->n_pq_unavailable)
		return;
	ward_tls_policy_group_names(p, groups, sizeof(groups));
	ward_log(WARD_LOG_INFO, "post_quantum_unavailable", "{s:s,s:s,s:s}", "reason",
		 "this build's wolfSSL has no ML-KEM; the profile's hybrid group is left out",
		 "wolfssl", wolfSSL_lib_version(), "groups", groups);
}

static int run(struct agent *a)
{
	struct ward_tls_ctx *tls = NULL;
	bool have_identity;
	int rc;

	raise_fd_limit(a->cfg);
	GUARD(ward_tls_policy_resolve(a->cfg, &a->policy));
	log_key_exchange(&a->policy);
	ward_metrics_process_start();
	GUARD(ward_admin_start(&a->loop, a->cfg, admin_drain, a, &a->admin));
	a->n_app_probes = ward_app_probes_count(a->probes);
	GUARD(ward_app_probes_start(a->probes, &a->loop));
	ward_admin_set_app_probes(a->admin, a->probes);
	a->probes = NULL;
	uv_async_init(&a->loop, &a->from_workers, on_workers);
	a->from_workers.data = a;
	a->from_workers_open = true;
	if (a->cfg->identity.cert_file)
		GUARD(ward_identity_start(&a->loop, a->cfg, &a->policy, on_identity, a,
					  &a->identity, &tls));
	have_identity = tls != NULL;
	if (tls)
		ward_admin_set_identity(a->admin, tls);
	rc = start_workers(a, tls);
	ward_tls_ctx_put(tls);
	if (rc < 0)
		return rc;
	/* Dialled only now, as the proxy uid: the Workload API attests the
	 * caller by its credentials at connect time. */
	if (!a->identity)
		GUARD(ward_wlidentity_start(&a->loop, a->cfg, &a->policy, on_identity, a,
					    &a->wlidentity));
	signal_start(a, &a->sig_term, SIGTERM);
	signal_start(a, &a->sig_int, SIGINT);
	signal_start(a, &a->sig_hup, SIGHUP);
	log_ready(a, have_identity);
	uv_run(&a->loop, UV_RUN_DEFAULT);
	return 0;
}

static void shutdown_agent(struct agent *a)
{
	if (a->identity || a->wlidentity) {
		stop_identity(a);
		uv_run(&a->loop, UV_RUN_NOWAIT);
	}
	stop_admin(a);
	for (unsigned i = 0; i < a->n_workers; i++) {
		if (!a->draining)
			ward_worker_drain(&a->workers[i]);
		ward_worker_join(&a->workers[i]);
	}
	uv_run(&a->loop, UV_RUN_DEFAULT); /* let closed handles finish */
	ward_admin_free(a->admin);	  /* the workers, joined, signal it no more */
	ward_app_probes_free(a->probes);  /* not handed over: run() failed early */
	free(a->workers);
	uv_loop_close(&a->loop);
	ward_config_free(a->cfg);
}

static int check_only(struct agent *a)
{
	struct ward_tls_ctx *tls = NULL;

	GUARD(ward_tls_policy_resolve(a->cfg, &a->policy));
	if (a->cfg->identity.cert_file)
		GUARD(ward_identity_load(a->cfg, &a->policy, &tls, NULL));
	else
		GUARD(ward_wlidentity_fetch_once(a->cfg, &a->policy, 5000, &tls));
	printf("config ok: trust domain %s, identity %s (expires %ld)\n", a->cfg->trust_domain,
	       tls->spiffe_id, (long)tls->not_after);
	ward_tls_ctx_put(tls);
	return 0;
}

/* Whether the override sets the key an error names (the text before its
 * first ':', as "limits.buffer_bytes" or "outbound.mesh_cidrs[2]"): then
 * the override, not the file, holds the wrong value. */
static bool override_sets(json_t *over, const char *msg)
{
	char path[256], *key, *save = NULL;
	size_t n = strcspn(msg, ":");
	json_t *v = over;

	if (n == 0 || n >= sizeof(path) || !msg[n])
		return false;
	memcpy(path, msg, n);
	path[n] = '\0';
	for (key = strtok_r(path, ".", &save); key && v; key = strtok_r(NULL, ".", &save)) {
		key[strcspn(key, "[")] = '\0';
		v = json_is_object(v) ? json_object_get(v, key) : NULL;
	}
	return v != NULL;
}

/* Where the config comes from: --defaults, the file, --override, merged key
 * by key in that order (a ConfigMap overrides the mesh-wide defaults the
 * injector passes, a pod's annotations override both). */
struct config_src {
	const char *path, *defaults, *override;
	bool optional;	   /* --config-optional: a missing file is an empty layer */
	bool file_present; /* out */
};

static int parse_layer(const char *flag, const char *text, json_t **out)
{
	json_error_t err;

	*out = text ? json_loads(text, JSON_REJECT_DUPLICATES, &err) : json_object();
	if (json_is_object(*out))
		return 0;
	ENSURE(!*out, WARD_ERR_INVALID, "%s: not a JSON object (got another JSON value)", flag);
	return ward_err_set(WARD_ERR_INVALID, "%s: not a JSON object (%s)", flag, err.text);
}

/* The file's object, or an empty one when it is optional and absent. Its
 * errors are the file loader's own (they name the file). */
static int load_file_layer(struct config_src *src, json_t **out)
{
	struct ward_config *cfg = NULL;
	json_error_t err;
	int rc;

	src->file_present = !(src->optional && access(src->path, F_OK) != 0 && errno == ENOENT);
	*out = src->file_present ? json_load_file(src->path, JSON_REJECT_DUPLICATES, &err)
				 : json_object();
	if (json_is_object(*out))
		return 0;
	json_decref(*out);
	*out = NULL;
	rc = ward_config_load_file(src->path, &cfg);
	ward_config_free(cfg);
	return rc < 0 ? rc : ward_err_set(WARD_ERR_INVALID, "%s: not a JSON object", src->path);
}

/* Which layer holds the wrong value an error names: the last that sets the
 * key (the text before the error's first ':'). */
static const char *blame(const struct config_src *src, json_t *defaults, json_t *file, json_t *over)
{
	if (override_sets(over, ward_err_msg()))
		return "--override";
	if (!override_sets(file, ward_err_msg()) && override_sets(defaults, ward_err_msg()))
		return "--defaults";
	return src->path;
}

/* The layers merged, through the same validating loader as a file (so every
 * layer gets the same key-naming errors). Errors name the file or the flag
 * that holds the wrong value. */
static int load_config(struct config_src *src, struct ward_config **out)
{
	json_t *defaults = NULL, *file = NULL, *over = NULL, *merged = NULL;
	char *text = NULL, *dir = NULL, *abs = NULL;
	int rc;

	if (!src->defaults && !src->override && !src->optional) {
		src->file_present = true;
		return ward_config_load_file(src->path, out);
	}
	rc = parse_layer("--defaults", src->defaults, &defaults);
	if (rc == 0)
		rc = parse_layer("--override", src->override, &over);
	if (rc == 0)
		rc = load_file_layer(src, &file);
	if (rc == 0 && (!(merged = json_deep_copy(defaults)) ||
			json_object_update_recursive(merged, file) < 0 ||
			json_object_update_recursive(merged, over) < 0 ||
			!(text = json_dumps(merged, JSON_COMPACT)) || !(dir = strdup(src->path))))
		rc = ward_err_set(WARD_ERR_NOMEM, "out of memory");
	/* Absolute, as the file loader makes it: identity paths must not
	 * depend on the working directory. A missing optional file may lack
	 * its directory too (a runtime that skips the mount of an absent
	 * ConfigMap): then paths are taken from the directory as written. */
	if (rc == 0 && !(abs = realpath(dirname(dir), NULL)) &&
	    (src->file_present || !(abs = strdup(dir))))
		rc = ward_err_set(WARD_ERR_IO, "%s: directory not found", src->path);
	if (rc == 0 && (rc = ward_config_load_string(text, abs, out)) < 0 && rc != WARD_ERR_NOMEM)
		ward_err_prefix(rc, "%s", blame(src, defaults, file, over));
	free(text);
	free(dir);
	free(abs);
	json_decref(merged);
	json_decref(over);
	json_decref(file);
	json_decref(defaults);
	return rc;
}

int ward_agent_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check", no_argument, NULL, 'k'},
					     {"override", required_argument, NULL, 'O'},
					     {"defaults", required_argument, NULL, 'D'},
					     {"config-optional", no_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct agent a = {0};
	struct config_src src = {0};
	bool check = false;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			src.path = optarg;
			break;
		case 'D':
			src.defaults = optarg;
			break;
		case 'o':
			src.optional = true;
			break;
		case 'k':
			check = true;
			break;
		case 'O':
			src.override = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!src.path || optind != argc) {
		fprintf(stderr, "ward agent: %s\n",
			src.path ? "unexpected argument" : "--config FILE is required");
		usage(stderr);
		return 2;
	}
	if (load_config(&src, &a.cfg) < 0) {
		fprintf(stderr, "ward agent: %s\n", ward_err_msg()); /* names the file or flag */
		return 2;
	}
	a.config_file = src.file_present;
	if (ward_app_probes_parse(getenv(WARD_APP_PROBES_ENV), &a.probes) < 0) {
		fprintf(stderr, "ward agent: %s\n", ward_err_msg());
		ward_config_free(a.cfg);
		return 2;
	}
	if (ward_log_set_level_name(a.cfg->log.level) < 0 || ward_tls_global_init() < 0) {
		fprintf(stderr, "ward agent: %s\n", ward_err_msg());
		ward_app_probes_free(a.probes);
		ward_config_free(a.cfg);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* libuv writes with write(2): a peer that reset must be an EPIPE error
	 * on that connection, not a signal that kills the agent. */
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&a.loop);
	rc = check ? check_only(&a) : run(&a);
	if (rc < 0)
		ward_log(WARD_LOG_ERROR, "agent_failed", "{s:s}", "reason", ward_err_msg());
	shutdown_agent(&a);
	curl_global_cleanup();
	ward_tls_global_cleanup();
	if (rc < 0 && check)
		fprintf(stderr, "ward agent: %s\n", ward_err_msg());
	return rc < 0 ? 1 : 0;
}
