/* ward's metrics: counters and histograms kept per worker, summed when
 * scraped, and rendered as the Prometheus text exposition format 0.0.4.
 *
 * No lock and no locked instruction on the data path: each worker owns its
 * struct ward_metrics_worker and is its only writer (ward_metric_add), other
 * threads only read, so no update is ever lost and a scrape sees every count
 * as of some recent instant. Labels are bounded sets fixed here (direction,
 * result, reason, mode, flow, version, cipher, group, code): never a peer
 * address or ID.
 *
 * Identity metrics are process-wide and set by whichever identity source is in
 * use (files or the Workload API) through the ward_metrics_identity_* /
 * ward_metrics_workload_api_* calls below, from any thread. */
#ifndef WARD_METRICS_H
#define WARD_METRICS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/budget.h"
#include "lib/err.h"

#define WARD_DIRS 2 /* enum ward_dir: outbound 0, inbound 1 */

/* Handshake failure reasons: ward_tls_failure_reason()'s, plus the two the
 * connection adds (timeout, spiffe_id_denied). Anything else is "other". */
enum ward_reason {
	WARD_REASON_NO_CLIENT_CERT,
	WARD_REASON_BAD_CHAIN,
	WARD_REASON_UNKNOWN_CA,
	WARD_REASON_EXPIRED,
	WARD_REASON_SPIFFE_ID_DENIED,
	WARD_REASON_BAD_SVID,
	WARD_REASON_PROTOCOL_VERSION,
	WARD_REASON_NO_SHARED_CIPHER,
	WARD_REASON_NO_ALPN,
	WARD_REASON_TIMEOUT,
	WARD_REASON_PEER_RESET,
	WARD_REASON_NOT_TLS,
	WARD_REASON_PEER_ALERT,
	WARD_REASON_OTHER,
	WARD_REASONS
};
enum ward_reason ward_metrics_reason(const char *name);
const char *ward_metrics_reason_name(enum ward_reason r);

/* Connection modes (the `mode` label). */
enum ward_conn_mode_label {
	WARD_MODE_MTLS,
	WARD_MODE_PASSTHROUGH,
	WARD_MODE_PLAINTEXT,
	WARD_MODE_TUNNEL,
	WARD_MODES
};
/* How a tunnel stream's request ended (the `result` label of
 * ward_tunnel_streams_total): the response status, or failed when none came. */
enum ward_stream_result {
	WARD_STREAM_OPENED,	 /* 200 */
	WARD_STREAM_BAD_REQUEST, /* 400 */
	WARD_STREAM_DENIED,	 /* 401: the client's ID may not reach the port */
	WARD_STREAM_FORBIDDEN,	 /* 403: not this pod's address, or a port not captured */
	WARD_STREAM_UNAVAILABLE, /* 503: the app refused or timed out */
	WARD_STREAM_FAILED,	 /* no response: the tunnel failed or the stream was reset */
	WARD_STREAM_RESULTS
};
enum ward_stream_result ward_metrics_stream_result(int status);
/* Where an outbound app connection's stream went (ward_tunnel_pool_total). */
enum ward_pool_result { WARD_POOL_REUSED, WARD_POOL_OPENED, WARD_POOL_FALLBACK, WARD_POOL_RESULTS };
/* Byte flows (the `flow` label), as the local app sees them. */
enum ward_flow { WARD_FLOW_TO_PEER, WARD_FLOW_FROM_PEER, WARD_FLOWS };

#define WARD_TLS_VERSIONS 2 /* TLSv1.3, other */
#define WARD_TLS_CIPHERS 4  /* the three TLS 1.3 suites ward offers, other */
#define WARD_TLS_GROUPS 8   /* x25519, secp256r1/384r1/521r1, 3 hybrid post-quantum, other */

/* Histogram buckets, upper bounds in seconds: 100 µs to 5 s. */
#define WARD_HIST_BOUNDS 15
extern const double ward_hist_bounds[WARD_HIST_BOUNDS];

struct ward_hist {
	atomic_ullong buckets[WARD_HIST_BOUNDS + 1]; /* not cumulative; last is +Inf */
	atomic_ullong sum_ns;
};

/* Admin clients dropped by its limits: timeout, address_limit, full (the
 * order of lib/http.h's enum ward_http_drop). */
#define WARD_ADMIN_DROPS 3

struct ward_metrics_worker {
	atomic_ullong handshakes[WARD_DIRS][2]; /* [dir][0 success, 1 failure] */
	atomic_ullong handshake_errors[WARD_DIRS][WARD_REASONS];
	struct ward_hist handshake_seconds[WARD_DIRS];
	struct ward_hist connect_seconds[WARD_DIRS];
	struct ward_hist rtt_seconds[WARD_DIRS]; /* TCP_INFO of the peer-facing socket at close */
	atomic_ullong retransmits[WARD_DIRS];
	atomic_ullong negotiated[WARD_DIRS][WARD_TLS_VERSIONS][WARD_TLS_CIPHERS][WARD_TLS_GROUPS];
	atomic_ullong resumed[WARD_DIRS];
	atomic_ullong opened[WARD_DIRS], closed[WARD_DIRS]; /* active = opened - closed */
	atomic_ullong proxied[WARD_DIRS][WARD_MODES];	    /* reached the relay phase */
	atomic_ullong bytes[WARD_DIRS][WARD_FLOWS];
	atomic_ullong authz_denied[WARD_DIRS];
	atomic_ullong refused;
	/* the tunnel */
	atomic_ullong tunnel_opened[WARD_DIRS], tunnel_closed[WARD_DIRS];
	atomic_ullong tunnel_streams[WARD_DIRS][WARD_STREAM_RESULTS];
	atomic_ullong streams_opened[WARD_DIRS], streams_closed[WARD_DIRS];
	atomic_ullong pool[WARD_POOL_RESULTS];
	struct ward_hist stream_open_seconds[WARD_DIRS];
	struct ward_budget_counts budget; /* unauthenticated inbound (worker.budget) */
};

/* The single writer's increment: a plain load and store, no lock prefix.
 * Correct only on the owning worker's thread. */
static inline void ward_metric_add(atomic_ullong *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
void ward_hist_observe(struct ward_hist *h, uint64_t ns);
/* Counts one negotiated (version, cipher, group), names as ward_tls_* give. */
void ward_metrics_negotiated(struct ward_metrics_worker *m, int dir, const char *version,
			     const char *cipher, const char *group);

/* --- a point-in-time sum over every worker, plus the process-wide values --- */

struct ward_hist_snap {
	uint64_t buckets[WARD_HIST_BOUNDS + 1]; /* not cumulative */
	uint64_t count;
	double sum; /* seconds */
};

struct ward_metrics_snap {
	uint64_t handshakes[WARD_DIRS][2];
	uint64_t handshake_errors[WARD_DIRS][WARD_REASONS];
	struct ward_hist_snap handshake_seconds[WARD_DIRS], connect_seconds[WARD_DIRS],
	    rtt_seconds[WARD_DIRS];
	uint64_t retransmits[WARD_DIRS];
	uint64_t negotiated[WARD_DIRS][WARD_TLS_VERSIONS][WARD_TLS_CIPHERS][WARD_TLS_GROUPS];
	uint64_t resumed[WARD_DIRS];
	uint64_t active[WARD_DIRS];
	uint64_t proxied[WARD_DIRS][WARD_MODES];
	uint64_t bytes[WARD_DIRS][WARD_FLOWS];
	uint64_t authz_denied[WARD_DIRS];
	uint64_t refused;
	uint64_t tunnels[WARD_DIRS]; /* open now */
	uint64_t tunnel_streams[WARD_DIRS][WARD_STREAM_RESULTS];
	uint64_t streams_active[WARD_DIRS];
	uint64_t pool[WARD_POOL_RESULTS];
	struct ward_hist_snap stream_open_seconds[WARD_DIRS];
	uint64_t handshakes_in_progress;	       /* unauthenticated inbound connections */
	uint64_t handshakes_shed[WARD_BUDGET_REASONS]; /* source_limit, worker_limit */
	uint64_t admin_dropped[WARD_ADMIN_DROPS];      /* enum ward_http_drop; set by the admin */
	/* process-wide */
	int64_t svid_expiry; /* unix seconds; 0 = no SVID yet */
	uint64_t svid_rotations, bundle_updates;
	uint64_t workload_api_errors[20]; /* by ward_metrics_workload_code_name() index */
	bool workload_api_connected;
	double start_time; /* unix seconds */
};

/* Zeroes snap, then adds every worker's counters and the process values. */
void ward_metrics_sum(struct ward_metrics_worker *const *workers, size_t n,
		      struct ward_metrics_snap *snap);
void ward_hist_snap_add(struct ward_hist_snap *acc, const struct ward_hist *h);
/* The q-quantile (0..1) estimated the way Prometheus' histogram_quantile()
 * does: linear within the bucket the rank falls in; the highest finite bound
 * if it falls in +Inf; NAN with no observations. */
double ward_hist_quantile(const struct ward_hist_snap *h, double q);

/* Prometheus text exposition 0.0.4, malloc'd. */
int ward_metrics_render(const struct ward_metrics_snap *snap, char **out,
			size_t *len) WARD_MUST_CHECK;
/* The same numbers as JSON for `ward status`: totals, reasons, histogram
 * buckets. NULL on allocation failure. */
json_t *ward_metrics_json(const struct ward_metrics_snap *snap);

/* --- identity sources call these (any thread) --- */

/* The SVID in service now (first load or rotation): sets the expiry gauge. */
void ward_metrics_identity_set(time_t not_after);
/* A new SVID replaced the previous one. */
void ward_metrics_identity_rotated(void);
/* A new trust bundle replaced the previous one. */
void ward_metrics_bundle_updated(void);
/* code: a gRPC status name as ward_grpc_status_name() gives ("unavailable",
 * "permission_denied", ...) or "transport" for a connection that failed below
 * gRPC; anything else counts as "unknown". */
void ward_metrics_workload_api_error(const char *code);
void ward_metrics_workload_api_connected(bool connected);
/* Marks the process start (for `ward status`'s "since start"). */
void ward_metrics_process_start(void);

#endif
