#include "agent/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

const double ward_hist_bounds[WARD_HIST_BOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

static const char *const reason_names[WARD_REASONS] = {
    "no_client_cert", "bad_chain",	  "unknown_ca",	      "expired", "spiffe_id_denied",
    "bad_svid",	      "protocol_version", "no_shared_cipher", "no_alpn", "timeout",
    "peer_reset",     "not_tls",	  "peer_alert",	      "other",
};
static const char *const dir_names[WARD_DIRS] = {"outbound", "inbound"};
static const char *const result_names[2] = {"success", "failure"};
static const char *const mode_names[WARD_MODES] = {"mtls", "passthrough", "permissive-plaintext",
						   "tunnel"};
static const char *const stream_result_names[WARD_STREAM_RESULTS] = {
    "opened", "bad_request", "denied", "forbidden", "unavailable", "failed"};
static const char *const pool_names[WARD_POOL_RESULTS] = {"reused", "opened", "fallback"};
static const char *const flow_names[WARD_FLOWS] = {"to_peer", "from_peer"};
static const char *const version_names[WARD_TLS_VERSIONS] = {"TLSv1.3", "other"};
static const char *const cipher_names[WARD_TLS_CIPHERS] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "other"};
/* IANA's names, as ward_tls_group() gives them (the hybrids in IANA's case). */
static const char *const group_names[WARD_TLS_GROUPS] = {
    "x25519",	      "secp256r1",	   "secp384r1",		 "secp521r1",
    "X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "other"};
/* gRPC status names (spiffe/grpc.h) and the client's transport failures
 * (agent/wlclient.h); the last is the catch-all. */
static const char *const code_names[] = {
    "cancelled",	 "invalid_argument",   "deadline_exceeded", "not_found",
    "permission_denied", "resource_exhausted", "unimplemented",	    "internal",
    "unavailable",	 "unauthenticated",    "connect_failed",    "protocol_error",
    "stream_ended",	 "transport",	       "unknown",
};
#define N_CODES (sizeof(code_names) / sizeof(code_names[0]))

/* Process-wide identity state: written by identity sources, read by scrapes. */
static struct {
	atomic_llong svid_expiry;
	atomic_ullong svid_rotations, bundle_updates;
	atomic_ullong workload_api_errors[N_CODES];
	atomic_bool workload_api_connected;
	atomic_llong start_ms;
} proc;

static size_t lookup(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return n - 1; /* every table ends with its catch-all */
}

enum ward_stream_result ward_metrics_stream_result(int status)
{
	switch (status) {
	case 200:
		return WARD_STREAM_OPENED;
	case 400:
		return WARD_STREAM_BAD_REQUEST;
	case 401:
		return WARD_STREAM_DENIED;
	case 403:
		return WARD_STREAM_FORBIDDEN;
	case 503:
		return WARD_STREAM_UNAVAILABLE;
	}
	return WARD_STREAM_FAILED;
}

enum ward_reason ward_metrics_reason(const char *name)
{
	return (enum ward_reason)lookup(reason_names, WARD_REASONS, name);
}

const char *ward_metrics_reason_name(enum ward_reason r)
{
	return r < WARD_REASONS ? reason_names[r] : "other";
}

void ward_hist_observe(struct ward_hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < WARD_HIST_BOUNDS && s > ward_hist_bounds[i])
		i++;
	ward_metric_add(&h->buckets[i], 1);
	ward_metric_add(&h->sum_ns, ns);
}

void ward_metrics_negotiated(struct ward_metrics_worker *m, int dir, const char *version,
			     const char *cipher, const char *group)
{
	size_t v = lookup(version_names, WARD_TLS_VERSIONS, version);
	size_t c = lookup(cipher_names, WARD_TLS_CIPHERS, cipher);
	size_t g = lookup(group_names, WARD_TLS_GROUPS, group);

	ward_metric_add(&m->negotiated[dir][v][c][g], 1);
}

/* --- identity sources --- */

void ward_metrics_identity_set(time_t not_after)
{
	atomic_store(&proc.svid_expiry, (long long)not_after);
}

void ward_metrics_identity_rotated(void)
{
	atomic_fetch_add(&proc.svid_rotations, 1);
}

void ward_metrics_bundle_updated(void)
{
	atomic_fetch_add(&proc.bundle_updates, 1);
}

void ward_metrics_workload_api_error(const char *code)
{
	atomic_fetch_add(&proc.workload_api_errors[lookup(code_names, N_CODES, code)], 1);
}

void ward_metrics_workload_api_connected(bool connected)
{
	atomic_store(&proc.workload_api_connected, connected);
}

static long long now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void ward_metrics_process_start(void)
{
	atomic_store(&proc.start_ms, now_ms());
}

/* --- summing --- */

static uint64_t rd(const atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void ward_hist_snap_add(struct ward_hist_snap *acc, const struct ward_hist *h)
{
	for (int i = 0; i <= WARD_HIST_BOUNDS; i++) {
		uint64_t n = rd(&h->buckets[i]);

		acc->buckets[i] += n;
		acc->count += n;
	}
	acc->sum += (double)rd(&h->sum_ns) / 1e9;
}

static void add_n(uint64_t *dst, const atomic_ullong *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += rd(&src[i]);
}

/* opened - closed. closed is read first: a close racing the scrape can
 * only make the gauge look one higher, never wrap below zero. */
static uint64_t gauge(const atomic_ullong *opened, const atomic_ullong *closed)
{
	uint64_t c = rd(closed), o = rd(opened);

	return o >= c ? o - c : 0;
}

#define ADD_ALL(field)                                                                             \
	add_n((uint64_t *)s->field, (const atomic_ullong *)m->field,                               \
	      sizeof(m->field) / sizeof(atomic_ullong))

static void sum_budget(struct ward_metrics_snap *s, const struct ward_budget_counts *b)
{
	/* released first, as closed below */
	uint64_t released = rd(&b->released), admitted = rd(&b->admitted);

	s->handshakes_in_progress += admitted >= released ? admitted - released : 0;
	for (int r = 0; r < WARD_BUDGET_REASONS; r++)
		s->handshakes_shed[r] += rd(&b->shed[r]);
}

static void sum_worker(struct ward_metrics_snap *s, const struct ward_metrics_worker *m)
{
	ADD_ALL(handshakes);
	ADD_ALL(handshake_errors);
	ADD_ALL(retransmits);
	ADD_ALL(negotiated);
	ADD_ALL(resumed);
	ADD_ALL(proxied);
	ADD_ALL(bytes);
	ADD_ALL(authz_denied);
	ADD_ALL(tunnel_streams);
	ADD_ALL(pool);
	s->refused += rd(&m->refused);
	sum_budget(s, &m->budget);
	for (int d = 0; d < WARD_DIRS; d++) {
		s->active[d] += gauge(&m->opened[d], &m->closed[d]);
		s->tunnels[d] += gauge(&m->tunnel_opened[d], &m->tunnel_closed[d]);
		s->streams_active[d] += gauge(&m->streams_opened[d], &m->streams_closed[d]);
		ward_hist_snap_add(&s->stream_open_seconds[d], &m->stream_open_seconds[d]);
		ward_hist_snap_add(&s->handshake_seconds[d], &m->handshake_seconds[d]);
		ward_hist_snap_add(&s->connect_seconds[d], &m->connect_seconds[d]);
		ward_hist_snap_add(&s->rtt_seconds[d], &m->rtt_seconds[d]);
	}
}

void ward_metrics_sum(struct ward_metrics_worker *const *workers, size_t n,
		      struct ward_metrics_snap *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++)
		sum_worker(s, workers[i]);
	s->svid_expiry = atomic_load(&proc.svid_expiry);
	s->svid_rotations = atomic_load(&proc.svid_rotations);
	s->bundle_updates = atomic_load(&proc.bundle_updates);
	for (size_t i = 0; i < N_CODES; i++)
		s->workload_api_errors[i] = atomic_load(&proc.workload_api_errors[i]);
	s->workload_api_connected = atomic_load(&proc.workload_api_connected);
	s->start_time = (double)atomic_load(&proc.start_ms) / 1000.0;
}

double ward_hist_quantile(const struct ward_hist_snap *h, double q)
{
	double rank = q * (double)h->count, cum = 0, lower = 0;

	if (h->count == 0)
		return NAN;
	for (int i = 0; i < WARD_HIST_BOUNDS; i++) {
		double n = (double)h->buckets[i];

		if (cum + n >= rank && n > 0)
			return lower + (ward_hist_bounds[i] - lower) * (rank - cum) / n;
		cum += n;
		lower = ward_hist_bounds[i];
	}
	return ward_hist_bounds[WARD_HIST_BOUNDS - 1];
}

/* --- exposition --- */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist_series(FILE *f, const char *name, const char *dir, const struct ward_hist_snap *h)
{
	uint64_t cum = 0;

	for (int i = 0; i < WARD_HIST_BOUNDS; i++) {
		cum += h->buckets[i];
		fprintf(f, "%s_bucket{direction=\"%s\",le=\"%g\"} %llu\n", name, dir,
			ward_hist_bounds[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{direction=\"%s\",le=\"+Inf\"} %llu\n", name, dir,
		(unsigned long long)h->count);
	fprintf(f, "%s_sum{direction=\"%s\"} %.9g\n", name, dir, h->sum);
	fprintf(f, "%s_count{direction=\"%s\"} %llu\n", name, dir, (unsigned long long)h->count);
}

static void hist(FILE *f, const char *name, const char *help, const struct ward_hist_snap *h)
{
	head(f, name, "histogram", help);
	for (int d = 0; d < WARD_DIRS; d++)
		hist_series(f, name, dir_names[d], &h[d]);
}

/* One series per direction, for a counter or gauge indexed [dir]. */
static void by_dir(FILE *f, const char *name, const char *type, const char *help, const uint64_t *v)
{
	head(f, name, type, help);
	for (int d = 0; d < WARD_DIRS; d++)
		fprintf(f, "%s{direction=\"%s\"} %llu\n", name, dir_names[d],
			(unsigned long long)v[d]);
}

/* A counter indexed [dir][label]. */
static void by_dir_label(FILE *f, const char *name, const char *help, const char *label,
			 const char *const *names, size_t n, const uint64_t *v)
{
	head(f, name, "counter", help);
	for (int d = 0; d < WARD_DIRS; d++)
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s{direction=\"%s\",%s=\"%s\"} %llu\n", name, dir_names[d],
				label, names[i], (unsigned long long)v[(size_t)d * n + i]);
}

static void negotiated(FILE *f, const struct ward_metrics_snap *s)
{
	head(f, "ward_tls_negotiated_total", "counter",
	     "Completed TLS handshakes by negotiated version, cipher suite and group.");
	for (int d = 0; d < WARD_DIRS; d++)
		for (int v = 0; v < WARD_TLS_VERSIONS; v++)
			for (int c = 0; c < WARD_TLS_CIPHERS; c++)
				for (int g = 0; g < WARD_TLS_GROUPS; g++) {
					uint64_t n = s->negotiated[d][v][c][g];

					if (n)
						fprintf(
						    f,
						    "ward_tls_negotiated_total{direction=\"%s\","
						    "version=\"%s\",cipher=\"%s\",group=\"%s\"} "
						    "%llu\n",
						    dir_names[d], version_names[v], cipher_names[c],
						    group_names[g], (unsigned long long)n);
				}
}

static void tunnel(FILE *f, const struct ward_metrics_snap *s)
{
	by_dir(f, "ward_tunnel_connections", "gauge",
	       "Tunnel connections (pooled HTTP/2 over mTLS, port 15008) open now.", s->tunnels);
	by_dir_label(f, "ward_tunnel_streams_total",
		     "Tunnel streams (app connections) by how their CONNECT was answered.",
		     "result", stream_result_names, WARD_STREAM_RESULTS, &s->tunnel_streams[0][0]);
	by_dir(f, "ward_tunnel_streams_active", "gauge",
	       "Tunnel streams carrying an app connection now.", s->streams_active);
	head(f, "ward_tunnel_pool_total", "counter",
	     "Outbound app connections by where their stream went: an open tunnel connection "
	     "(reused), a new one (opened), or direct mTLS (fallback).");
	for (int i = 0; i < WARD_POOL_RESULTS; i++)
		fprintf(f, "ward_tunnel_pool_total{result=\"%s\"} %llu\n", pool_names[i],
			(unsigned long long)s->pool[i]);
	hist(f, "ward_tunnel_stream_open_duration_seconds",
	     "Time from an app connection's CONNECT to the 200 (outbound: including any tunnel "
	     "handshake; inbound: the connect to the app).",
	     s->stream_open_seconds);
}

static void identity(FILE *f, const struct ward_metrics_snap *s)
{
	head(f, "ward_svid_expiry_timestamp_seconds", "gauge",
	     "Not-after of the SVID in service, unix seconds (0 before the first SVID).");
	fprintf(f, "ward_svid_expiry_timestamp_seconds %lld\n", (long long)s->svid_expiry);
	head(f, "ward_svid_rotations_total", "counter", "SVIDs that replaced the one in service.");
	fprintf(f, "ward_svid_rotations_total %llu\n", (unsigned long long)s->svid_rotations);
	head(f, "ward_bundle_updates_total", "counter",
	     "Trust bundles that replaced the one in service.");
	fprintf(f, "ward_bundle_updates_total %llu\n", (unsigned long long)s->bundle_updates);
	head(f, "ward_workload_api_errors_total", "counter",
	     "Workload API failures by gRPC status name, or transport.");
	for (size_t i = 0; i < N_CODES; i++)
		fprintf(f, "ward_workload_api_errors_total{code=\"%s\"} %llu\n", code_names[i],
			(unsigned long long)s->workload_api_errors[i]);
	head(f, "ward_workload_api_connected", "gauge",
	     "1 while the Workload API stream is up, else 0.");
	fprintf(f, "ward_workload_api_connected %d\n", s->workload_api_connected ? 1 : 0);
}

/* A counter by reason, v[i] the value for names[i]. */
static void by_reason(FILE *f, const char *name, const char *help, const char *const *names,
		      size_t n, const uint64_t *v)
{
	head(f, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{reason=\"%s\"} %llu\n", name, names[i], (unsigned long long)v[i]);
}

static void budget(FILE *f, const struct ward_metrics_snap *s)
{
	static const char *const shed[WARD_BUDGET_REASONS] = {"source_limit", "worker_limit"};
	static const char *const admin[WARD_ADMIN_DROPS] = {"timeout", "address_limit", "full"};

	head(f, "ward_handshakes_in_progress", "gauge",
	     "Inbound connections not yet authenticated (limits.max_handshakes).");
	fprintf(f, "ward_handshakes_in_progress %llu\n",
		(unsigned long long)s->handshakes_in_progress);
	by_reason(f, "ward_handshakes_shed_total",
		  "Unauthenticated connections reset to make room, by the budget that was full.",
		  shed, WARD_BUDGET_REASONS, s->handshakes_shed);
	by_reason(f, "ward_admin_clients_dropped_total",
		  "Admin endpoint clients closed or refused by its limits, by reason.", admin,
		  WARD_ADMIN_DROPS, s->admin_dropped);
}

static void render(FILE *f, const struct ward_metrics_snap *s)
{
	by_dir_label(f, "ward_tls_handshakes_total", "TLS handshakes by result.", "result",
		     result_names, 2, &s->handshakes[0][0]);
	by_dir_label(f, "ward_tls_handshake_errors_total",
		     "Failed TLS handshakes (and refused peer identities) by reason.", "reason",
		     reason_names, WARD_REASONS, &s->handshake_errors[0][0]);
	hist(f, "ward_tls_handshake_duration_seconds",
	     "TLS handshake time, first flight to verified peer.", s->handshake_seconds);
	hist(f, "ward_tcp_connect_duration_seconds", "Upstream TCP connect time.",
	     s->connect_seconds);
	negotiated(f, s);
	by_dir(f, "ward_tls_resumed_total", "counter", "TLS handshakes that resumed a session.",
	       s->resumed);
	by_dir(f, "ward_connections_active", "gauge", "Connections open now.", s->active);
	by_dir_label(f, "ward_connections_total", "Connections that reached the relay, by mode.",
		     "mode", mode_names, WARD_MODES, &s->proxied[0][0]);
	by_dir_label(f, "ward_bytes_total", "Application bytes relayed, by flow.", "flow",
		     flow_names, WARD_FLOWS, &s->bytes[0][0]);
	by_dir(f, "ward_authz_denied_total", "counter",
	       "Connections refused by the SPIFFE ID policy.", s->authz_denied);
	head(f, "ward_connections_refused_total", "counter",
	     "Connections reset at accept: limits.max_connections or no file descriptors.");
	fprintf(f, "ward_connections_refused_total %llu\n", (unsigned long long)s->refused);
	tunnel(f, s);
	budget(f, s);
	hist(f, "ward_tcp_rtt_seconds",
	     "Smoothed RTT of the peer-facing socket at close (TCP_INFO).", s->rtt_seconds);
	by_dir(f, "ward_tcp_retransmits_total", "counter",
	       "Retransmitted segments of peer-facing sockets, counted at close (TCP_INFO).",
	       s->retransmits);
	identity(f, s);
	head(f, "ward_start_time_seconds", "gauge", "Start of the agent, unix seconds.");
	fprintf(f, "ward_start_time_seconds %.3f\n", s->start_time);
}

int ward_metrics_render(const struct ward_metrics_snap *snap, char **out, size_t *len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	ENSURE(f, WARD_ERR_NOMEM, "metrics");
	render(f, snap);
	if (fclose(f) != 0 || !text) {
		free(text);
		return ward_err_set(WARD_ERR_NOMEM, "metrics");
	}
	*out = text;
	*len = n;
	return 0;
}

/* --- JSON for `ward status` --- */

static json_t *hist_json(const struct ward_hist_snap *h)
{
	json_t *le = json_array(), *counts = json_array();

	for (int i = 0; i < WARD_HIST_BOUNDS; i++) {
		json_array_append_new(le, json_real(ward_hist_bounds[i]));
		json_array_append_new(counts, json_integer((json_int_t)h->buckets[i]));
	}
	json_array_append_new(counts, json_integer((json_int_t)h->buckets[WARD_HIST_BOUNDS]));
	return json_pack("{s:o,s:o,s:I,s:f}", "le", le, "counts", counts, "count",
			 (json_int_t)h->count, "sum", h->sum);
}

static json_t *tunnel_json(const struct ward_metrics_snap *s, int d)
{
	json_t *streams = json_object();

	for (int r = 0; r < WARD_STREAM_RESULTS; r++)
		json_object_set_new(streams, stream_result_names[r],
				    json_integer((json_int_t)s->tunnel_streams[d][r]));
	return json_pack("{s:I,s:I,s:o}", "connections", (json_int_t)s->tunnels[d],
			 "streams_active", (json_int_t)s->streams_active[d], "streams", streams);
}

static json_int_t proxied(const struct ward_metrics_snap *s, int d)
{
	uint64_t n = 0;

	for (int i = 0; i < WARD_MODES; i++)
		n += s->proxied[d][i];
	return (json_int_t)n;
}

static json_t *dir_json(const struct ward_metrics_snap *s, int d)
{
	json_t *reasons = json_object();

	for (int r = 0; r < WARD_REASONS; r++)
		if (s->handshake_errors[d][r])
			json_object_set_new(reasons, reason_names[r],
					    json_integer((json_int_t)s->handshake_errors[d][r]));
	return json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "active", (json_int_t)s->active[d],
	    "handshakes_ok", (json_int_t)s->handshakes[d][0], "handshakes_failed",
	    (json_int_t)s->handshakes[d][1], "authz_denied", (json_int_t)s->authz_denied[d],
	    "proxied", proxied(s, d), "bytes_to_peer", (json_int_t)s->bytes[d][WARD_FLOW_TO_PEER],
	    "bytes_from_peer", (json_int_t)s->bytes[d][WARD_FLOW_FROM_PEER], "failure_reasons",
	    reasons, "handshake_seconds", hist_json(&s->handshake_seconds[d]), "connect_seconds",
	    hist_json(&s->connect_seconds[d]), "tunnel", tunnel_json(s, d));
}

json_t *ward_metrics_json(const struct ward_metrics_snap *s)
{
	json_t *pool = json_object();

	for (int i = 0; i < WARD_POOL_RESULTS; i++)
		json_object_set_new(pool, pool_names[i], json_integer((json_int_t)s->pool[i]));
	return json_pack("{s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:b}", "outbound",
			 dir_json(s, 0), "inbound", dir_json(s, 1), "tunnel_pool", pool, "refused",
			 (json_int_t)s->refused, "handshakes_in_progress",
			 (json_int_t)s->handshakes_in_progress, "shed_source_limit",
			 (json_int_t)s->handshakes_shed[WARD_BUDGET_KEY_LIMIT], "shed_worker_limit",
			 (json_int_t)s->handshakes_shed[WARD_BUDGET_FULL], "start_time", s->start_time,
			 "svid_expiry", (json_int_t)s->svid_expiry, "svid_rotations",
			 (json_int_t)s->svid_rotations, "workload_api_connected",
			 s->workload_api_connected);
}
