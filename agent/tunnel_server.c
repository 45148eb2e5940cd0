/* The inbound side of tunnels: the listener's accept and the CONNECTs that
 * arrive, handed to the connection layer through the worker (tunnel.h).
 * Kept small on purpose: an unauthenticated peer reaches only the accept,
 * the limits every connection has, and the TLS handshake with its deadline. */
#include "agent/tunnel_impl.h"
#include "lib/log.h"
#include "lib/sockopt.h"

/* Logged (rate-limited) as event, and reset. */
static void drop(struct ward_tunnel *t, const char *event, const char *why)
{
	struct ward_worker *w = t->worker;
	unsigned long suppressed = 0;

	if (ward_log_limit_allow(&w->fail_log, uv_now(&w->loop), &suppressed))
		tunnel_log(t, WARD_LOG_WARN, event, why);
	ward_tunnel_close(t, true);
}

static void refuse(struct ward_tunnel *t, const char *why)
{
	drop(t, "conn_refused", why);
}

/* The budget needs room and this is the oldest unauthenticated connection
 * (of its source, or of the worker). */
static void on_shed(struct ward_budget_slot *s, enum ward_budget_reason why)
{
	struct ward_tunnel *t = ward_list_entry(s, struct ward_tunnel, unauth);

	drop(t, "handshake_shed", ward_worker_shed_reason(why));
}

void ward_tunnel_accept(struct ward_worker *w, uv_stream_t *listener)
{
	struct ward_tunnel *t = tunnel_new(w, WARD_DIR_INBOUND);
	int len = sizeof(struct sockaddr_storage), rc;

	if (!t)
		return; /* left in the backlog; libuv offers it again */
	rc = tunnel_sock_init(t, AF_UNSPEC);
	if (rc == 0)
		rc = ward_stream_accept(&t->sock, listener);
	if (rc < 0) {
		ward_tunnel_close(t, true);
		return;
	}
	uv_tcp_getpeername(&t->sock.h.tcp, (struct sockaddr *)&t->peer, &len);
	/* Until the client authenticates: silent sockets on the tunnel port take
	 * no connection slots, and shed each other, not real peers. */
	ward_worker_hold_unauthenticated(t->worker, &t->unauth, &t->peer, on_shed);
	/* TCP options came with the socket, from its listener (worker.c). */
	if (tunnel_begin_tls(t, WARD_TLS_SERVER) < 0)
		refuse(t, ward_err_msg());
}

int tunnel_server_heard(struct ward_tunnel *t)
{
	ward_budget_heard(&t->worker->budget, &t->unauth);
	if (tunnel_tls_session(t, WARD_TLS_SERVER) < 0) {
		refuse(t, ward_err_msg());
		return -1;
	}
	return 0;
}

bool tunnel_server_admit(struct ward_tunnel *t)
{
	struct ward_worker *w = t->worker;

	ward_budget_put(&w->budget, &t->unauth);
	t->counted = true;
	if (atomic_fetch_add(w->active_conns, 1) + 1 <= w->cfg->limits.max_connections)
		return true;
	ward_metric_add(&w->stats.refused, 1);
	refuse(t, "limits.max_connections reached");
	return false;
}

void tunnel_server_request(void *owner, struct ward_h2_end *e, const struct ward_mux_request *req)
{
	struct ward_tunnel *t = owner;

	if (t->state == WARD_TUNNEL_OPEN || t->state == WARD_TUNNEL_DRAINING)
		t->worker->on_stream(t->worker, e, req);
}
