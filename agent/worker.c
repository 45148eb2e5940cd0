#include "agent/worker.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/conn.h"
#include "agent/tunnel.h"
#include "lib/file.h"
#include "lib/sockopt.h"
#include "lib/stream.h"

#define LISTEN_BACKLOG 4096
#define DRAIN_POLL_MS 100
#define N_LISTENERS 6 /* outbound, inbound, tunnel; each with an IPv6 twin */
#define TICK_MS 1000
#define PORTS_EVERY 5	 /* ticks: the source-port sysctls are read again */
#define TRIM_MIN_DROP 32 /* connections: a smaller fall is not a burst that ended */

enum listener_kind { KIND_OUTBOUND, KIND_INBOUND, KIND_TUNNEL };

static void on_connection(uv_stream_t *listener, int status)
{
	struct ward_worker *w = listener->data;
	enum listener_kind kind = (enum listener_kind)(((uv_tcp_t *)listener - w->listeners) / 2);
	unsigned long suppressed = 0;

	if (status < 0) { /* EMFILE/ENFILE: libuv already shed the connection */
		ward_metric_add(&w->stats.refused, 1);
		if (ward_log_limit_allow(&w->fail_log, uv_now(&w->loop), &suppressed))
			ward_log(WARD_LOG_WARN, "conn_refused", "{s:s,s:s,s:I}", "reason",
				 uv_strerror(status), "hint",
				 "file-descriptor limit reached (ulimit -n)", "suppressed",
				 (json_int_t)suppressed);
		return;
	}
	if (kind == KIND_TUNNEL)
		ward_tunnel_accept(w, listener);
	else
		ward_conn_accept(w, listener,
				 kind == KIND_OUTBOUND ? WARD_DIR_OUTBOUND : WARD_DIR_INBOUND);
}

/* Accepted sockets inherit the listener's TCP options: set once here. */
static void listener_sockopts(struct ward_worker *w, int slot)
{
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&w->listeners[slot], &fd) == 0 &&
	    ward_sockopt_apply(fd, &w->cfg->tcp, false) < 0)
		ward_log(WARD_LOG_WARN, "sockopt_failed", "{s:s}", "reason", ward_err_msg());
}

static int open_one(struct ward_worker *w, int slot, const struct ward_addr *addr)
{
	w->listening[slot] = true; /* initialised whatever the outcome */
	GUARD(ward_listen_tcp(&w->loop, &w->listeners[slot], addr, w->cfg->tcp.fastopen,
			      LISTEN_BACKLOG, on_connection, w));
	listener_sockopts(w, slot);
	return 0;
}

static bool host_has_ipv6(void)
{
	FILE *f = ward_file_fopen_read("/proc/net/if_inet6");
	bool any = f && fgetc(f) != EOF;

	if (f)
		fclose(f);
	return any;
}

/* ip6tables redirects IPv6 connections to the same port: an IPv4 wildcard
 * listen address gets an IPv6-only twin on [::] where the host has IPv6. */
static int open_listener(struct ward_worker *w, enum listener_kind kind,
			 const struct ward_addr *addr)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr->ss;
	struct ward_addr v6 = {.len = sizeof(struct sockaddr_in6)};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&v6.ss;

	GUARD(open_one(w, (int)kind * 2, addr));
	if (addr->ss.ss_family != AF_INET || v4->sin_addr.s_addr != htonl(INADDR_ANY) ||
	    !host_has_ipv6())
		return 0;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_any;
	sin6->sin6_port = v4->sin_port;
	return open_one(w, (int)kind * 2 + 1, &v6);
}

static void close_listeners(struct ward_worker *w)
{
	for (int i = 0; i < N_LISTENERS; i++) {
		if (w->listening[i])
			uv_close((uv_handle_t *)&w->listeners[i], NULL);
		w->listening[i] = false;
	}
}

static void signal_main(struct ward_worker *w)
{
	if (w->notify)
		uv_async_send(w->notify);
}

/* Bounded: at most req->limit connections are described. */
static void answer_snapshot(struct ward_worker *w)
{
	struct ward_worker_snapshot *req;
	struct ward_list_node *node, *next;
	uint64_t now = uv_hrtime();

	uv_mutex_lock(&w->cmd_lock);
	req = w->cmd_snapshot;
	w->cmd_snapshot = NULL;
	uv_mutex_unlock(&w->cmd_lock);
	if (!req)
		return;
	req->conns = json_array();
	req->n_total = w->conns.n + w->tunnels.n;
	ward_list_each(&w->tunnels, node, next)
	{
		if (!req->conns || json_array_size(req->conns) >= req->limit)
			break;
		json_array_append_new(req->conns, ward_tunnel_describe(ward_tunnel_of(node), now));
	}
	ward_list_each(&w->conns, node, next)
	{
		if (!req->conns || json_array_size(req->conns) >= req->limit)
			break;
		json_array_append_new(req->conns, ward_conn_describe(ward_conn_of(node), now));
	}
	atomic_fetch_sub(req->pending, 1);
	signal_main(w);
}

static void finish(struct ward_worker *w)
{
	struct ward_list_node *node, *next;

	close_listeners(w);
	ward_list_each(&w->conns, node, next) ward_conn_close(ward_conn_of(node), false);
	ward_list_each(&w->tunnels, node, next) ward_tunnel_close(ward_tunnel_of(node), false);
	/* From here requests are answered by the requester's thread; the one
	 * already stored is answered now, so none waits on a loop that ends. */
	uv_mutex_lock(&w->cmd_lock);
	atomic_store(&w->finished, true);
	uv_mutex_unlock(&w->cmd_lock);
	answer_snapshot(w);
	uv_close((uv_handle_t *)&w->wake, NULL);
	uv_close((uv_handle_t *)&w->drain_timer, NULL);
	uv_close((uv_handle_t *)&w->flush_before, NULL);
	uv_close((uv_handle_t *)&w->flush_after, NULL);
	ward_local_addrs_unwatch(&w->local);
	uv_close((uv_handle_t *)&w->tick, NULL);
	signal_main(w);
}

/* The pool follows the sysctls (read every PORTS_EVERY ticks); each worker
 * starts at its own place in it, so they rarely try the same port at once. */
static void load_ports(struct ward_worker *w)
{
	uint32_t had = w->ports.size;

	if (ward_ports_load(&w->ports, "/proc/sys") < 0)
		ward_log(WARD_LOG_WARN, "source_ports_unavailable", "{s:s}", "reason",
			 ward_err_msg());
	else if (w->id == 0 && w->ports.size < 1024 && (had >= 1024 || !w->ticks))
		ward_log(WARD_LOG_WARN, "source_ports_few", "{s:I,s:s}", "ports",
			 (json_int_t)w->ports.size, "hint",
			 "ip_local_port_range leaves few ports above it: list some in "
			 "net.ipv4.ip_local_reserved_ports");
	if (!w->ticks)
		w->port_cursor = w->id * 7919u;
}

static void on_tick(uv_timer_t *t)
{
	struct ward_worker *w = t->data;

	if (++w->ticks % PORTS_EVERY == 0)
		load_ports(w);
	if (ward_trim_tick(&w->trim, w->conns.n, uv_now(&w->loop)))
		ward_log(WARD_LOG_DEBUG, "memory_trimmed", "{s:i,s:I}", "worker", (int)w->id,
			 "connections", (json_int_t)w->conns.n);
}

static void on_drain_timer(uv_timer_t *t)
{
	struct ward_worker *w = t->data;
	uint64_t deadline_ms = (uint64_t)w->cfg->limits.drain_timeout_s * 1000;

	if (w->conns.n + w->tunnels.n == 0 ||
	    uv_now(&w->loop) - w->drain_started_ms >= deadline_ms) {
		if (w->conns.n)
			ward_log(WARD_LOG_WARN, "drain_deadline", "{s:i,s:I}", "worker", (int)w->id,
				 "closed", (json_int_t)w->conns.n);
		uv_timer_stop(t);
		finish(w);
	}
}

/* Frames that several streams made ready in one loop turn leave together:
 * before the loop polls (after timers and write completions) and after the
 * I/O callbacks of the turn. */
static void on_flush_before(uv_prepare_t *h)
{
	ward_tunnel_flush_dirty(h->data);
}

static void on_flush_after(uv_check_t *h)
{
	ward_tunnel_flush_dirty(h->data);
}

static void start_flush(struct ward_worker *w)
{
	uv_prepare_init(&w->loop, &w->flush_before);
	uv_check_init(&w->loop, &w->flush_after);
	w->flush_before.data = w->flush_after.data = w;
	uv_prepare_start(&w->flush_before, on_flush_before);
	uv_check_start(&w->flush_after, on_flush_after);
	/* They need not keep the loop alive: listeners and connections do. */
	uv_unref((uv_handle_t *)&w->flush_before);
	uv_unref((uv_handle_t *)&w->flush_after);
}

static void on_wake(uv_async_t *a)
{
	struct ward_worker *w = a->data;
	struct ward_tls_ctx *tls;
	bool drain, set_tls;

	uv_mutex_lock(&w->cmd_lock);
	tls = w->cmd_tls;
	set_tls = w->cmd_set_tls;
	w->cmd_tls = NULL;
	w->cmd_set_tls = false;
	drain = w->cmd_drain && !w->draining;
	uv_mutex_unlock(&w->cmd_lock);
	if (set_tls) { /* live connections keep the context they started with */
		ward_tls_ctx_put(w->tls);
		w->tls = tls;
		ward_tunnel_rotate(w); /* pooled ones drain: new streams, new SVID */
	}
	answer_snapshot(w);
	if (drain) {
		w->draining = true;
		close_listeners(w);
		ward_tunnel_drain_all(w);
		w->drain_started_ms = uv_now(&w->loop);
		uv_timer_start(&w->drain_timer, on_drain_timer, 0, DRAIN_POLL_MS);
	}
}

int ward_worker_init(struct ward_worker *w, unsigned id, const struct ward_config *cfg,
		     atomic_uint *active_conns, struct ward_tls_ctx *tls)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = cfg;
	w->active_conns = active_conns;
	w->tls = tls ? ward_tls_ctx_get(tls) : NULL;
	ward_log_limit_init(&w->fail_log, 5, 20);
	ward_log_limit_init(&w->deny_log, 5, 20);
	ward_log_limit_init(&w->tunnel_log, 5, 20);
	ward_budget_init(&w->budget, cfg->limits.max_handshakes,
			 cfg->limits.max_handshakes_per_source, &w->stats.budget);
	rc = uv_loop_init(&w->loop);
	ENSURE(rc == 0, WARD_ERR_IO, "loop: %s", uv_strerror(rc));
	uv_mutex_init(&w->cmd_lock);
	uv_async_init(&w->loop, &w->wake, on_wake);
	w->wake.data = w;
	uv_timer_init(&w->loop, &w->drain_timer);
	w->drain_timer.data = w;
	start_flush(w);
	w->on_stream = ward_conn_accept_stream;
	if (ward_local_addrs_load(&w->local, uv_now(&w->loop)) < 0 ||
	    ward_local_addrs_watch(&w->local, &w->loop) < 0)
		ward_log(WARD_LOG_WARN, "local_addrs_failed", "{s:s}", "reason", ward_err_msg());
	ward_trim_init(&w->trim, TRIM_MIN_DROP);
	load_ports(w);
	uv_timer_init(&w->loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
	uv_unref((uv_handle_t *)&w->tick); /* listeners and connections keep the loop */
	rc = open_listener(w, KIND_OUTBOUND, &cfg->outbound.listen);
	if (rc == 0)
		rc = open_listener(w, KIND_INBOUND, &cfg->inbound.listen);
	if (rc == 0 && cfg->inbound.tunnel)
		rc = open_listener(w, KIND_TUNNEL, &cfg->inbound.tunnel_listen);
	if (rc < 0) {
		finish(w);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		ward_worker_join(w);
	}
	return rc;
}

void ward_worker_hold_unauthenticated(struct ward_worker *w, struct ward_budget_slot *s,
				      const struct sockaddr_storage *peer, ward_budget_shed_fn shed)
{
	uint8_t key[WARD_ADDR_SOURCE_KEY];

	ward_addr_source_key(peer, key);
	ward_budget_take(&w->budget, s, key, shed);
}

const char *ward_worker_shed_reason(enum ward_budget_reason why)
{
	return why == WARD_BUDGET_KEY_LIMIT ? "limits.max_handshakes_per_source reached"
					    : "limits.max_handshakes reached";
}

static void run(void *arg)
{
	struct ward_worker *w = arg;

	uv_run(&w->loop, UV_RUN_DEFAULT);
}

int ward_worker_start(struct ward_worker *w)
{
	int rc = uv_thread_create(&w->thread, run, w);

	ENSURE(rc == 0, WARD_ERR_IO, "worker thread: %s", uv_strerror(rc));
	return 0;
}

void ward_worker_set_tls(struct ward_worker *w, struct ward_tls_ctx *tls)
{
	uv_mutex_lock(&w->cmd_lock);
	ward_tls_ctx_put(w->cmd_tls); /* a newer one supersedes one not yet taken */
	w->cmd_tls = ward_tls_ctx_get(tls);
	w->cmd_set_tls = true;
	uv_mutex_unlock(&w->cmd_lock);
	uv_async_send(&w->wake);
}

void ward_worker_drain(struct ward_worker *w)
{
	uv_mutex_lock(&w->cmd_lock);
	w->cmd_drain = true;
	uv_mutex_unlock(&w->cmd_lock);
	uv_async_send(&w->wake);
}

void ward_worker_snapshot(struct ward_worker *w, struct ward_worker_snapshot *req)
{
	bool gone;

	uv_mutex_lock(&w->cmd_lock);
	gone = atomic_load(&w->finished);
	if (!gone)
		w->cmd_snapshot = req;
	uv_mutex_unlock(&w->cmd_lock);
	if (!gone) {
		uv_async_send(&w->wake);
		return;
	}
	req->conns = json_array(); /* no connections left */
	req->n_total = 0;
	atomic_fetch_sub(req->pending, 1);
	signal_main(w);
}

void ward_worker_join(struct ward_worker *w)
{
	if (w->thread)
		uv_thread_join(&w->thread);
	w->thread = 0;
	uv_loop_close(&w->loop);
	uv_mutex_destroy(&w->cmd_lock);
	ward_tls_ctx_put(w->cmd_tls);
	ward_tls_ctx_put(w->tls);
	w->cmd_tls = w->tls = NULL;
}
