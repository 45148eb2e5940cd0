/* The inbound side of tunnels: the listener's accept and the CONNECTs that
 * arrive, handed to the connection layer through the worker (tunnel.h).
 * Kept small on purpose: an unauthenticated peer reaches only the accept,
 * the limits every connection has, and the TLS handshake with its deadline. */
#include "agent/tunnel_impl.h"
#include "lib/log.h"
#include "lib/sockopt.h"

static void refuse(struct ward_tunnel *t, const char *why)
{
	struct ward_worker *w = t->worker;
	unsigned long suppressed = 0;

	if (ward_log_limit_allow(&w->fail_log, uv_now(&w->loop), &suppressed))
		tunnel_log(t, WARD_LOG_WARN, "conn_refused", why);
	ward_tunnel_close(t, true);
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
	if (atomic_load(w->active_conns) > w->cfg->limits.max_connections) {
		ward_metric_add(&w->stats.refused, 1);
		refuse(t, "limits.max_connections reached");
		return;
	}
	uv_tcp_getpeername(&t->sock.h.tcp, (struct sockaddr *)&t->peer, &len);
	/* TCP options came with the socket, from its listener (worker.c). */
	if (tunnel_begin_tls(t, WARD_TLS_SERVER) < 0)
		refuse(t, ward_err_msg());
}

void tunnel_server_request(void *owner, struct ward_h2_end *e, const struct ward_mux_request *req)
{
	struct ward_tunnel *t = owner;

	if (t->state == WARD_TUNNEL_OPEN || t->state == WARD_TUNNEL_DRAINING)
		t->worker->on_stream(t->worker, e, req);
}
