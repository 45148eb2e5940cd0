/* A worker: one thread, one libuv loop, its own outbound and inbound listeners
 * (sharing the ports with the other workers through SO_REUSEPORT), and the
 * connections it accepted. Nothing on the data path is shared between workers
 * except the refcounted TLS context and the global connection count. */
#ifndef WARD_WORKER_H
#define WARD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../config/config.h"
#include "log.h"
#include "tls.h"

struct ward_conn;

/* Per-worker counters: written by the worker's thread only, read by others. */
struct ward_worker_stats {
	atomic_ullong accepted[2];   /* by direction */
	atomic_ullong refused;       /* max_connections / fd limit */
	atomic_ullong handshakes_ok[2], handshakes_failed[2];
	atomic_ullong denied[2];
	atomic_ullong bytes_in[2], bytes_out[2];
};

struct ward_worker {
	unsigned id;
	uv_loop_t loop;
	uv_thread_t thread;
	const struct ward_config *cfg;  /* borrowed; immutable, outlives the worker */
	atomic_uint *active_conns;      /* borrowed; shared across workers */
	/* [direction * 2 + (1 for the IPv6 twin of an IPv4 wildcard address)] */
	uv_tcp_t listeners[4];
	bool listening[4];
	uv_async_t wake;                /* main thread -> worker commands */
	uv_mutex_t cmd_lock;            /* guards the cmd_* fields only */
	struct ward_tls_ctx *cmd_tls;   /* owned ref (NULL: no identity), handed over on wake */
	bool cmd_set_tls, cmd_drain, cmd_stop;
	uv_timer_t drain_timer;
	uint64_t drain_started_ms;      /* uv_now() when draining began */
	struct ward_tls_ctx *tls;       /* owned ref: new handshakes use this */
	struct ward_conn *conns;        /* live connections, doubly linked */
	unsigned n_conns;
	bool draining, stopping;
	struct ward_log_limit fail_log, deny_log;
	struct ward_worker_stats stats;
};

enum ward_dir { WARD_DIR_OUTBOUND = 0, WARD_DIR_INBOUND = 1 };

/* Sets up the loop and listeners (ready for traffic once started). */
int ward_worker_init(struct ward_worker *w, unsigned id, const struct ward_config *cfg,
		     atomic_uint *active_conns, struct ward_tls_ctx *tls) WARD_MUST_CHECK;
int ward_worker_start(struct ward_worker *w) WARD_MUST_CHECK;
/* From another thread: swap the TLS context for new handshakes (takes a ref;
 * NULL withdraws the identity: mesh traffic is refused until the next one). */
void ward_worker_set_tls(struct ward_worker *w, struct ward_tls_ctx *tls);
/* From another thread: stop accepting, let connections finish for up to
 * drain_timeout_s, then close what is left and end the loop. */
void ward_worker_drain(struct ward_worker *w);
/* Waits for the thread and releases everything. */
void ward_worker_join(struct ward_worker *w);

#endif
