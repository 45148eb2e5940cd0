#include "agent/admin.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/http.h"
#include "lib/log.h"
#include "agent/app_probe.h"
#include "agent/fdlimit.h"
#include "agent/metrics.h"

#define MAX_WAITING 16 /* /stats/connections requests sharing one snapshot */
#define DEFAULT_CONN_LIMIT 1000
#define MAX_CONN_LIMIT 10000

struct ward_admin {
	uv_loop_t *loop;
	const struct ward_config *cfg; /* borrowed */
	struct ward_http_server *http;
	struct ward_app_probes *probes; /* owned: the app's kubelet probes */
	ward_admin_drain_cb drain;
	void *drain_arg;
	struct ward_tls_ctx *tls;    /* owned ref: the context in service */
	struct ward_worker *workers; /* borrowed */
	unsigned n_workers;
	bool draining;
	/* one /stats/connections snapshot in flight at a time */
	struct ward_worker_snapshot *snaps; /* one per worker, owned */
	atomic_uint pending;
	bool in_flight;
	size_t snap_limit;
	struct ward_http_pending *waiting[MAX_WAITING];
	size_t n_waiting;
};

const char *ward_admin_not_ready(const struct ward_tls_ctx *ctx, bool listening, bool draining)
{
	if (draining)
		return "draining";
	if (!ctx)
		return "no SVID loaded yet";
	if (!listening)
		return "listeners not up yet";
	return NULL;
}

/* --- JSON views --- */

static json_t *cert_json(const struct ward_tls_cert_summary *s, time_t now)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "subject", s->subject, "issuer", s->issuer,
			 "serial", s->serial, "not_before", (json_int_t)s->not_before, "not_after",
			 (json_int_t)s->not_after, "expires_in_s",
			 (json_int_t)(s->not_after - now));
}

static json_t *certs_array(const struct ward_tls_cert_summary *s, size_t n, time_t now)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, cert_json(&s[i], now));
	return a;
}

json_t *ward_admin_certs_json(const struct ward_tls_ctx *t, time_t now)
{
	json_t *bundle;

	if (!t)
		return json_pack("{s:n}", "spiffe_id");
	bundle = json_pack("{s:s,s:o}", "trust_domain", t->trust_domain, "cas",
			   certs_array(t->bundle_info, t->n_bundle_info, now));
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:[o]}", "spiffe_id", t->spiffe_id,
			 "trust_domain", t->trust_domain, "serial", t->serial, "not_before",
			 (json_int_t)t->not_before, "not_after", (json_int_t)t->not_after,
			 "expires_in_s", (json_int_t)(t->not_after - now), "generation",
			 (json_int_t)t->generation, "chain",
			 certs_array(t->chain_info, t->n_chain_info, now), "bundles", bundle);
}

static void snapshot_metrics(struct ward_admin *a, struct ward_metrics_snap *snap)
{
	struct ward_metrics_worker *ptrs[256];
	unsigned n = a->n_workers < 256 ? a->n_workers : 256;

	for (unsigned i = 0; i < n; i++)
		ptrs[i] = &a->workers[i].stats;
	ward_metrics_sum(ptrs, n, snap);
}

/* The agent's own pid and descriptor limits, for `ward doctor`, which runs
 * as another process (maybe with other limits) beside it. */
static json_t *process_json(const struct ward_config *cfg)
{
	struct ward_fdlimit l;

	if (ward_fdlimit_get(cfg->limits.max_connections, &l) < 0)
		return json_pack("{s:i}", "pid", (int)getpid());
	return json_pack("{s:i,s:I,s:I,s:I}", "pid", (int)getpid(), "fd_soft", (json_int_t)l.soft,
			 "fd_hard", (json_int_t)l.hard, "fd_needed", (json_int_t)l.needed);
}

static json_t *stats_json(struct ward_admin *a)
{
	struct ward_metrics_snap snap;
	const char *why = ward_admin_not_ready(a->tls, a->workers != NULL, a->draining);
	char out[64], in[64], adm[64];
	json_t *m;

	snapshot_metrics(a, &snap);
	m = ward_metrics_json(&snap);
	if (!m)
		return NULL;
	json_object_set_new(m, "ready", json_boolean(!why));
	if (why)
		json_object_set_new(m, "not_ready", json_string(why));
	json_object_set_new(m, "spiffe_id", a->tls ? json_string(a->tls->spiffe_id) : json_null());
	json_object_set_new(m, "workers", json_integer(a->n_workers));
	json_object_set_new(m, "process", process_json(a->cfg));
	json_object_set_new(m, "log_level", json_string(ward_log_level_name()));
	json_object_set_new(
	    m, "listeners",
	    json_pack("{s:s,s:s,s:s,s:s}", "outbound",
		      ward_addr_format((const struct sockaddr *)&a->cfg->outbound.listen.ss, out,
				       sizeof(out)),
		      "inbound",
		      ward_addr_format((const struct sockaddr *)&a->cfg->inbound.listen.ss, in,
				       sizeof(in)),
		      "admin",
		      ward_addr_format((const struct sockaddr *)&a->cfg->admin.listen.ss, adm,
				       sizeof(adm)),
		      "inbound_mode",
		      a->cfg->inbound.mode == WARD_INBOUND_STRICT ? "strict" : "permissive"));
	return m;
}

/* --- responses --- */

static void json_response(struct ward_http_response *r, int status, json_t *body)
{
	char *text =
	    body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9))
		 : NULL;

	json_decref(body);
	if (!text) {
		if (ward_http_response_text(r, 500, "out of memory") < 0)
			r->status = 500;
		return;
	}
	r->status = status;
	r->content_type = "application/json";
	r->body_len = strlen(text);
	r->body = text;
}

static void text_response(struct ward_http_response *r, int status, const char *text)
{
	if (ward_http_response_text(r, status, "%s", text) < 0)
		r->status = status; /* no body: still an answer */
}

static void metrics_response(struct ward_admin *a, struct ward_http_response *r)
{
	struct ward_metrics_snap snap;

	snapshot_metrics(a, &snap);
	if (ward_metrics_render(&snap, &r->body, &r->body_len) < 0) {
		text_response(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* --- /stats/connections --- */

static void reply_all(struct ward_admin *a, int status, json_t *body)
{
	for (size_t i = 0; i < a->n_waiting; i++) {
		struct ward_http_response r = {0};

		json_response(&r, status, json_incref(body));
		ward_http_pending_reply(a->waiting[i], &r);
	}
	a->n_waiting = 0;
	json_decref(body);
}

void ward_admin_poll(struct ward_admin *a)
{
	json_t *all, *conns;
	size_t total = 0;

	if (!a || !a->in_flight || atomic_load(&a->pending) != 0)
		return;
	a->in_flight = false;
	conns = json_array();
	for (unsigned i = 0; i < a->n_workers; i++) {
		json_t *part = a->snaps[i].conns;
		size_t k;
		json_t *c;

		total += a->snaps[i].n_total;
		json_array_foreach(part, k, c)
		{
			if (json_array_size(conns) < a->snap_limit)
				json_array_append(conns, c);
		}
		json_decref(part);
		a->snaps[i].conns = NULL;
	}
	all = json_pack("{s:I,s:b,s:o}", "total", (json_int_t)total, "truncated",
			json_array_size(conns) < total, "connections", conns);
	reply_all(a, 200, all);
}

static size_t conn_limit(const struct ward_http_request *req)
{
	bool found;
	struct ward_http_slice v = ward_http_query_get(req, "limit", &found);
	size_t n = 0;

	if (!found || v.len == 0 || v.len > 6)
		return DEFAULT_CONN_LIMIT;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return DEFAULT_CONN_LIMIT;
		n = n * 10 + (size_t)(v.p[i] - '0');
	}
	return n == 0 ? DEFAULT_CONN_LIMIT : n > MAX_CONN_LIMIT ? MAX_CONN_LIMIT : n;
}

static void connections(struct ward_admin *a, struct ward_http_server *srv,
			const struct ward_http_request *req, struct ward_http_response *r)
{
	struct ward_http_pending *p;

	if (a->draining || !a->workers) {
		text_response(r, 503, a->draining ? "draining" : "workers not started");
		return;
	}
	if (a->n_waiting == MAX_WAITING || !(p = ward_http_defer(srv, req))) {
		text_response(r, 503, "too many connection snapshots in flight");
		return;
	}
	a->waiting[a->n_waiting++] = p;
	if (a->in_flight)
		return; /* shares the snapshot being taken */
	a->in_flight = true;
	a->snap_limit = conn_limit(req);
	atomic_store(&a->pending, a->n_workers);
	for (unsigned i = 0; i < a->n_workers; i++) {
		a->snaps[i] =
		    (struct ward_worker_snapshot){.limit = a->snap_limit, .pending = &a->pending};
		ward_worker_snapshot(&a->workers[i], &a->snaps[i]);
	}
}

/* --- state changes, loopback only --- */

static void set_log_level(const struct ward_http_request *req, struct ward_http_response *r)
{
	bool found;
	struct ward_http_slice v = ward_http_query_get(req, "level", &found);
	char level[16];

	if (!found)
		v = req->body;
	while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
		v.len--;
	if (v.len == 0 || v.len >= sizeof(level)) {
		text_response(r, 400, "give the level as ?level=debug|info|warn|error or the body");
		return;
	}
	memcpy(level, v.p, v.len);
	level[v.len] = '\0';
	if (ward_log_set_level_name(level) < 0) {
		text_response(r, 400, ward_err_msg());
		return;
	}
	ward_log(WARD_LOG_INFO, "log_level_changed", "{s:s,s:b}", "log_level", level, "loopback",
		 req->loopback);
	text_response(r, 200, level);
}

static bool is_read(const struct ward_http_request *req)
{
	return req->method == HTTP_GET || req->method == HTTP_HEAD;
}

/* POST endpoints: the method and the peer are checked before anything runs. */
static bool post_allowed(const struct ward_http_request *req, struct ward_http_response *r)
{
	if (req->method != HTTP_POST) {
		text_response(r, 405, "use POST");
		r->allow = "POST";
		return false;
	}
	if (!req->loopback) {
		text_response(r, 403, "state-changing requests are accepted from loopback only");
		return false;
	}
	return true;
}

static void read_endpoint(struct ward_admin *a, struct ward_http_server *srv,
			  const struct ward_http_request *req, struct ward_http_response *r)
{
	const char *why;

	if (ward_http_path_is(req, "/healthz")) {
		text_response(r, 200, "ok");
	} else if (ward_http_path_is(req, "/ready")) {
		why = ward_admin_not_ready(a->tls, a->workers != NULL, a->draining);
		text_response(r, why ? 503 : 200, why ? why : "ready");
	} else if (ward_http_path_is(req, "/metrics")) {
		metrics_response(a, r);
	} else if (ward_http_path_is(req, "/certs")) {
		json_response(r, 200, ward_admin_certs_json(a->tls, time(NULL)));
	} else if (ward_http_path_is(req, "/stats")) {
		json_response(r, 200, stats_json(a));
	} else if (ward_http_path_is(req, "/stats/connections")) {
		connections(a, srv, req, r);
	} else if (ward_http_path_is(req, "/log/level")) {
		text_response(r, 200, ward_log_level_name());
	} else {
		text_response(r, 404, "no such endpoint: see README, \"Observability\"");
	}
}

static bool is_read_path(const struct ward_http_request *req)
{
	static const char *const paths[] = {"/healthz", "/ready", "/metrics",
					    "/certs",	"/stats", "/stats/connections"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (ward_http_path_is(req, paths[i]))
			return true;
	return false;
}

static void handle(struct ward_http_server *srv, const struct ward_http_request *req,
		   struct ward_http_response *r, void *arg)
{
	struct ward_admin *a = arg;

	if (ward_app_probes_serve(a->probes, srv, req, r))
		return;
	/* /quitquitquit: the name Envoy and Istio's agent use, which a Job's
	 * app may already call when it is done. */
	if (ward_http_path_is(req, "/drain") || ward_http_path_is(req, "/quitquitquit")) {
		if (post_allowed(req, r)) {
			text_response(r, 200, "draining");
			if (a->drain)
				a->drain(a->drain_arg);
		}
	} else if (ward_http_path_is(req, "/log/level") && !is_read(req)) {
		if (post_allowed(req, r))
			set_log_level(req, r);
	} else if (!is_read(req) && is_read_path(req)) {
		text_response(r, 405, "use GET");
		r->allow = "GET, HEAD";
	} else {
		read_endpoint(a, srv, req, r);
	}
}

/* --- lifetime --- */

int ward_admin_start(uv_loop_t *loop, const struct ward_config *cfg, ward_admin_drain_cb drain,
		     void *arg, struct ward_admin **out)
{
	struct ward_admin *a = calloc(1, sizeof(*a));
	struct ward_http_limits l;
	int rc;

	ENSURE(a, WARD_ERR_NOMEM, "admin");
	*a = (struct ward_admin){.loop = loop, .cfg = cfg, .drain = drain, .drain_arg = arg};
	ward_http_limits_default(&l);
	l.body_bytes = 4096; /* nothing the admin accepts is bigger */
	rc = ward_http_server_new(loop, &l, handle, a, &a->http);
	if (rc == 0)
		rc = ward_http_server_listen_tcp(a->http, &cfg->admin.listen);
	if (rc < 0) {
		ward_admin_stop(a);
		ward_admin_free(a);
		return ward_err_prefix(rc, "admin.listen");
	}
	*out = a;
	return 0;
}

void ward_admin_set_identity(struct ward_admin *a, struct ward_tls_ctx *ctx)
{
	ward_tls_ctx_put(a->tls);
	a->tls = ctx ? ward_tls_ctx_get(ctx) : NULL;
	ward_metrics_identity_set(ctx ? ctx->not_after : 0);
}

void ward_admin_set_workers(struct ward_admin *a, struct ward_worker *workers, unsigned n)
{
	struct ward_worker_snapshot *snaps = calloc(n, sizeof(*snaps));

	if (!snaps)
		return; /* stays not ready: the reason is visible on /ready */
	free(a->snaps);
	a->snaps = snaps;
	a->workers = workers;
	a->n_workers = n;
}

void ward_admin_set_app_probes(struct ward_admin *a, struct ward_app_probes *probes)
{
	ward_app_probes_free(a->probes);
	a->probes = probes;
}

void ward_admin_set_draining(struct ward_admin *a)
{
	if (a)
		a->draining = true;
}

void ward_admin_stop(struct ward_admin *a)
{
	if (!a || !a->http)
		return;
	ward_app_probes_free(a->probes); /* answers the probes in flight */
	a->probes = NULL;
	ward_http_server_free(a->http); /* deferred replies still come to us */
	a->http = NULL;
}

void ward_admin_free(struct ward_admin *a)
{
	if (!a)
		return;
	ward_admin_poll(a);
	reply_all(a, 503, json_pack("{s:s}", "error", "shutting down"));
	for (unsigned i = 0; a->snaps && i < a->n_workers; i++)
		json_decref(a->snaps[i].conns);
	free(a->snaps);
	ward_tls_ctx_put(a->tls);
	free(a);
}
