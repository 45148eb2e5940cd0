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

#include "agent/app.h"
#include "config/config.h"
#include "lib/budget.h"
#include "lib/log.h"
#include "lib/ports.h"
#include "lib/trim.h"
#include "agent/local_addrs.h"
#include "agent/metrics.h"
#include "agent/pool.h"
#include "agent/tls_ctx.h"
#include "lib/list.h"

struct ward_conn;
struct ward_tunnel;
struct ward_worker;

/* A CONNECT a peer opened on one of our tunnel connections: the connection
 * layer takes e (ward_h2_end_attach) and answers it. */
typedef void (*ward_worker_stream_fn)(struct ward_worker *w, struct ward_h2_end *e,
				      const struct ward_mux_request *req);

/* The main thread's request for a worker's live connections. The worker
 * fills conns (a JSON array of at most limit objects, owned by the requester
 * afterwards) and n_total, then decrements *pending and signals the worker's
 * notify async. Every request is answered, by a draining worker too. */
struct ward_worker_snapshot {
	json_t *conns;
	size_t limit;
	size_t n_total;
	atomic_uint *pending;
};

struct ward_worker {
	unsigned id;
	uv_loop_t loop;
	uv_thread_t thread;
	const struct ward_config *cfg; /* borrowed; immutable, outlives the worker */
	atomic_uint *active_conns;     /* borrowed; shared across workers */
	/* [kind * 2 + (1 for the IPv6 twin of an IPv4 wildcard address)], kind
	 * being outbound, inbound, tunnel */
	uv_tcp_t listeners[6];
	bool listening[6];
	uv_async_t wake;	      /* main thread -> worker commands */
	uv_async_t *notify;	      /* borrowed, main loop's: snapshot filled, loop finished;
					 set before ward_worker_start, may stay NULL */
	atomic_bool finished;	      /* the loop has closed its listeners and connections */
	uv_mutex_t cmd_lock;	      /* guards the cmd_* fields only */
	struct ward_tls_ctx *cmd_tls; /* owned ref (NULL: no identity), handed over on wake */
	struct ward_worker_snapshot *cmd_snapshot; /* borrowed until answered */
	bool cmd_set_tls, cmd_drain, cmd_stop;
	uv_timer_t drain_timer;
	uv_timer_t tick; /* each second: memory back after a burst, the source ports */
	uint64_t ticks;
	struct ward_trim trim;
	struct ward_ports ports; /* source ports no app is given (outbound upstream) */
	uint32_t port_cursor;
	uint64_t drain_started_ms;	   /* uv_now() when draining began */
	struct ward_tls_ctx *tls;	   /* owned ref: new handshakes use this */
	struct ward_list conns;		   /* live connections (struct ward_conn, link) */
	struct ward_budget budget;	   /* connections not yet authenticated */
	struct ward_app_memory app_memory; /* inbound: ports whose app is only on loopback */
	struct ward_list tunnels;	   /* tunnel connections (struct ward_tunnel, link) */
	struct ward_list dirty;		   /* tunnels with frames to send before the loop sleeps */
	uv_prepare_t flush_before;	   /* flush dirty tunnels: after timers ... */
	uv_check_t flush_after;		   /* ... and after I/O callbacks */
	struct ward_pool pool;		   /* outbound tunnel connections by destination */
	struct ward_local_addrs local;	   /* this pod's addresses (tunnel requests) */
	ward_worker_stream_fn on_stream;
	uint64_t tunnel_seq;
	bool draining, stopping;
	struct ward_log_limit fail_log, deny_log, tunnel_log;
	struct ward_metrics_worker stats; /* written by this worker's thread only */
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
/* From another thread: fill req on the worker's loop (see the struct). */
void ward_worker_snapshot(struct ward_worker *w, struct ward_worker_snapshot *req);
/* Waits for the thread and releases everything. */
void ward_worker_join(struct ward_worker *w);
/* An inbound connection (direct, or to the tunnel port) whose peer has not
 * proved who it is yet waits in the worker's handshake budget, keyed by the
 * peer's address (lib/budget.h). */
void ward_worker_hold_unauthenticated(struct ward_worker *w, struct ward_budget_slot *s,
				      const struct sockaddr_storage *peer, ward_budget_shed_fn shed);
/* What a connection the budget shed logs as its reason. */
const char *ward_worker_shed_reason(enum ward_budget_reason why);

#endif
