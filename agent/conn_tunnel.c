/* A proxied connection whose peer side is a stream inside a tunnel
 * (tunnel.h): outbound, the app's connection becomes a CONNECT on a pooled
 * tunnel connection (or goes direct where the peer has no tunnel); inbound,
 * a CONNECT a peer sent becomes a connection to the app, answered 200, 401,
 * 403 or 503. The stream's events arrive here; the relay moves the bytes as
 * for any other pair of ends. */
#include <stdlib.h>
#include <string.h>

#include "agent/conn_impl.h"
#include "agent/tunnel.h"

#define MAX_ATTEMPTS 3 /* tunnels a stream is offered to (refused before processing) */

static const struct ward_h2_end_events h2_events;

static int peer_side(const struct ward_conn *c)
{
	return c->dir == WARD_DIR_OUTBOUND ? CONN_UP : CONN_DOWN;
}

static void count_result(struct ward_conn *c, int status)
{
	struct ward_metrics_worker *m = &c->worker->stats;

	c->tun.status = status;
	ward_metric_add(&m->tunnel_streams[c->dir][ward_metrics_stream_result(status)], 1);
	if (status != 200)
		return;
	c->tun.counted = true;
	ward_metric_add(&m->streams_opened[c->dir], 1);
	ward_hist_observe(&m->stream_open_seconds[c->dir], uv_hrtime() - c->tun.t_request);
}

static void take_info(struct ward_conn *c)
{
	struct ward_tunnel_info ti;

	if (!ward_tunnel_info_of(c->h2, &ti))
		return;
	c->tun.id = ti.id;
	c->tun.version = ti.version;
	c->tun.cipher = ti.cipher;
	c->tun.group = ti.group;
	c->tun.handshake_ms = ti.handshake_ms;
	c->tun.peer = ti.peer;
	if (!c->peer_id && ti.peer_id)
		c->peer_id = strdup(ti.peer_id);
	if (!c->tls_ctx) /* inbound: what authenticated the peer */
		c->tls_ctx = ward_tls_ctx_get(ti.tls_ctx);
}

/* --- outbound --- */

/* No tunnel after all: today's path, one mTLS connection to the original
 * destination. */
static void go_direct(struct ward_conn *c)
{
	ward_h2_end_release(c->h2, false);
	c->h2 = NULL;
	c->mode = MODE_MTLS;
	ward_stream_read_stop(&c->sock[CONN_DOWN]); /* held bytes wait in the plain end */
	conn_start_connect(c);
}

static int ask(struct ward_conn *c)
{
	char src[64];
	enum ward_tunnel_route route;

	ward_addr_format((const struct sockaddr *)&c->src, src, sizeof(src));
	GUARD(ward_tunnel_stream(c->worker, (const struct sockaddr *)&c->dst, c->h2,
				 c->src.ss_family ? src : NULL, &route));
	if (route == WARD_TUNNEL_DIRECT)
		go_direct(c);
	return 0;
}

static void opened(struct ward_conn *c)
{
	take_info(c);
	uv_timer_stop(&c->timer);
	conn_arm_idle_timer(c);
	conn_relay_start(c); /* what the app sent meanwhile goes first */
}

static void on_response(void *owner, struct ward_h2_end *e, int status)
{
	struct ward_conn *c = owner;
	char why[64];

	if (c->phase != PHASE_STREAM)
		return;
	if (status == 200) {
		count_result(c, status);
		opened(c);
		return;
	}
	if (status == 0 && e->fallback) {
		ward_metric_add(&c->worker->stats.pool[WARD_POOL_FALLBACK], 1);
		go_direct(c);
		return;
	}
	if (status == 0 && e->retryable && e->attempts < MAX_ATTEMPTS) {
		if (ask(c) < 0)
			conn_fail(c, "tunnel_failed", ward_err_msg());
		return;
	}
	count_result(c, status);
	take_info(c);
	snprintf(why, sizeof(why), status ? "the peer answered %d" : "no answer from the tunnel",
		 status);
	conn_fail(c, "tunnel_refused", why);
}

int conn_tunnel_outbound(struct ward_conn *c)
{
	socklen_t len = sizeof(c->src);
	int fd = ward_stream_fd(&c->sock[CONN_DOWN]);
	int rc;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&c->src, &len) < 0)
		memset(&c->src, 0, sizeof(c->src));
	c->h2 = ward_h2_end_new(c->worker->cfg->limits.buffer_bytes, &h2_events, c);
	ENSURE(c->h2, WARD_ERR_NOMEM, "tunnel stream: out of memory");
	c->mode = MODE_TUNNEL;
	c->phase = PHASE_STREAM;
	c->tun.t_request = uv_hrtime();
	conn_arm_timer(c,
		       (uint64_t)c->worker->cfg->limits.connect_timeout_ms +
			   c->worker->cfg->tls.handshake_timeout_ms,
		       false);
	/* The app may speak first: its bytes are held (bounded) until the 200. */
	GUARD(ward_stream_read_start(&c->sock[CONN_DOWN]));
	rc = ask(c);
	return rc;
}

void conn_tunnel_early_read(struct ward_conn *c, uint8_t *data, size_t len)
{
	struct ward_sock_end *app = &c->end[CONN_DOWN];

	if (ward_end_feed(&app->base, data, len, c->sock[CONN_DOWN].read_size) < 0) {
		conn_fail(c, "relay_failed", ward_err_msg());
		return;
	}
	if (ward_buf_len(&app->held) >= c->worker->cfg->limits.buffer_bytes)
		ward_stream_read_stop(&c->sock[CONN_DOWN]); /* the rest waits in the kernel */
}

void conn_tunnel_early_eof(struct ward_conn *c)
{
	ward_end_feed_eof(&c->end[CONN_DOWN].base); /* a FIN, carried after the 200 */
}

/* --- inbound --- */

/* 401 or 403: the stream is answered and the connection ends here. */
static void refuse(struct ward_conn *c, int status, const char *why)
{
	struct ward_worker *w = c->worker;
	unsigned long suppressed = 0;
	json_t *f;

	if (ward_h2_end_respond(c->h2, status) == 0)
		count_result(c, status);
	if (why && ward_log_limit_allow(&w->tunnel_log, uv_now(&w->loop), &suppressed)) {
		f = conn_fields(c);
		json_object_set_new(f, "reason", json_string(why));
		json_object_set_new(f, "status", json_integer(status));
		if (suppressed)
			json_object_set_new(f, "suppressed", json_integer((json_int_t)suppressed));
		ward_log_emit(WARD_LOG_WARN, "tunnel_refused", f);
	}
	ward_conn_close(c, false);
}

/* Never an open proxy: only this pod's own addresses, and only the ports
 * capture would have brought here anyway. */
static const char *forbidden(struct ward_conn *c)
{
	struct ward_worker *w = c->worker;

	if (!ward_local_addrs_has(&w->local, (const struct sockaddr *)&c->dst, uv_now(&w->loop)))
		return "not an address of this pod";
	if (!ward_config_inbound_captured(w->cfg, c->local_port))
		return "a port capture does not redirect";
	return NULL;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	struct ward_addr a = {.ss = *ss};

	return ward_addr_port(&a);
}

void ward_conn_accept_stream(struct ward_worker *w, struct ward_h2_end *e,
			     const struct ward_mux_request *req)
{
	struct ward_conn *c = conn_new(w, WARD_DIR_INBOUND);
	const char *why;

	if (!c)
		return; /* the stream, left alone, is answered 503 */
	c->mode = MODE_TUNNEL;
	c->h2 = e;
	ward_h2_end_attach(e, &h2_events, c);
	c->dst = req->authority;
	c->local_port = port_of(&req->authority);
	c->tun.t_request = e->t_open;
	if (req->has_forwarded)
		c->src = req->forwarded_for;
	take_info(c);
	if (!c->peer_id) {
		ward_conn_close(c, false);
		return;
	}
	/* Each stream holds a socket to the app: it counts as a connection. */
	if (!conn_count_in(c)) {
		ward_conn_close(c, false); /* 503 */
		return;
	}
	if ((why = forbidden(c)))
		refuse(c, 403, why);
	else if (!conn_authorize(c))
		refuse(c, 401, NULL); /* logged as authz_denied */
	else
		conn_start_connect(c); /* as direct inbound traffic does */
}

/* Same IP, ports aside (an IPv4-mapped address is its IPv4 one). */
static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage x, y;

	ward_addr_ip((const struct sockaddr *)a, &x);
	ward_addr_ip((const struct sockaddr *)b, &y);
	return x.ss_family != AF_UNSPEC && ward_addr_ip_equal(&x, &y);
}

int conn_tunnel_caller(struct ward_conn *c, struct ward_app_caller *out)
{
	uint16_t port = same_ip(&c->src, &c->tun.peer) ? htons(port_of(&c->src)) : 0;

	ENSURE(c->tun.peer.ss_family == AF_INET || c->tun.peer.ss_family == AF_INET6, WARD_ERR_IO,
	       "the tunnel's peer address is unknown");
	/* The tunnel's own source port says nothing about the app behind it;
	 * the Forwarded port does, when it names that same address. */
	out->src = c->tun.peer;
	if (out->src.ss_family == AF_INET)
		((struct sockaddr_in *)&out->src)->sin_port = port;
	else
		((struct sockaddr_in6 *)&out->src)->sin6_port = port;
	out->tls_version = c->tun.version;
	out->tls_cipher = c->tun.cipher;
	out->resumed = false; /* the tunnel's handshake checked a certificate */
	return 0;
}

void conn_tunnel_app_connected(struct ward_conn *c)
{
	if (ward_h2_end_respond(c->h2, 200) < 0) {
		ward_conn_close(c, true);
		return;
	}
	count_result(c, 200);
	conn_plain_end(c, CONN_UP);
	if (conn_app_header(c) < 0) {
		conn_fail(c, "relay_failed", ward_err_msg());
		return;
	}
	conn_arm_idle_timer(c);
	conn_relay_start(c); /* data the client sent early moves first */
}

/* --- both --- */

void conn_tunnel_close(struct ward_conn *c, bool reset)
{
	struct ward_metrics_worker *m = &c->worker->stats;

	if (!c->h2)
		return;
	/* A CONNECT never answered (the app refused or was slow, a limit):
	 * 503, not a reset (HBONE). */
	if (c->dir == WARD_DIR_INBOUND && !c->h2->responded &&
	    ward_h2_end_respond(c->h2, 503) == 0) {
		count_result(c, 503);
		reset = false;
	} else if (c->dir == WARD_DIR_OUTBOUND && !c->tun.status && !c->h2->fallback) {
		count_result(c, 0); /* failed: no answer */
	}
	if (c->tun.counted)
		ward_metric_add(&m->streams_closed[c->dir], 1);
	ward_h2_end_release(c->h2, reset);
	c->h2 = NULL;
}

static void on_readable(void *owner, struct ward_h2_end *e)
{
	struct ward_conn *c = owner;

	(void)e;
	if (c->phase != PHASE_RELAY)
		return; /* held in the end until the relay starts */
	c->last_active_ms = uv_now(&c->worker->loop);
	conn_relay_next(c, ward_relay_pump(&c->relay, peer_side(c)));
}

static void on_drained(void *owner, struct ward_h2_end *e)
{
	struct ward_conn *c = owner;

	(void)e;
	if (c->phase == PHASE_RELAY)
		conn_relay_next(c, ward_relay_drained(&c->relay, peer_side(c)));
}

static void on_reset(void *owner, struct ward_h2_end *e)
{
	(void)e;
	ward_conn_close(owner, true); /* RST_STREAM is a TCP reset (RFC 9113 §8.5) */
}

static const struct ward_h2_end_events h2_events = {
    .response = on_response,
    .readable = on_readable,
    .drained = on_drained,
    .reset = on_reset,
};
