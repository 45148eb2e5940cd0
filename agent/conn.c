/* Connection set-up and teardown: accept, original destination, mesh or
 * passthrough, connect upstream, TLS handshake, SPIFFE identity and
 * authorization, timeouts, and the one close. Relaying is in relay.c. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "spiffe/pattern.h"
#include "agent/conn_impl.h"
#include "lib/sockopt.h"

#define PEEK_TIMEOUT_MS 500 /* permissive: a client silent this long speaks plaintext */

static void on_timer(uv_timer_t *t);

int conn_side_fd(struct conn_side *s)
{
	uv_os_fd_t fd = -1;

	uv_fileno((uv_handle_t *)&s->tcp, &fd);
	return fd;
}

/* The socket that crosses the network: upstream for outbound, the accepted
 * one for inbound. NULL before an outbound connect completes. */
struct conn_side *conn_peer_side(struct ward_conn *c)
{
	if (c->dir == WARD_DIR_INBOUND)
		return &c->down;
	return c->t_connected ? &c->up : NULL;
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static const char *dir_name(const struct ward_conn *c)
{
	return c->dir == WARD_DIR_OUTBOUND ? "outbound" : "inbound";
}

json_t *conn_fields(const struct ward_conn *c)
{
	char dst[64];

	ward_addr_format((const struct sockaddr *)&c->dst, dst, sizeof(dst));
	return json_pack("{s:s,s:s,s:s?,s:s}", "direction", dir_name(c), "dst", dst, "peer_id",
			 c->peer_id, "local_id", c->tls_ctx ? c->tls_ctx->spiffe_id : "");
}

static void log_limited(struct ward_conn *c, struct ward_log_limit *l, enum ward_log_level lvl,
			const char *event, json_t *fields)
{
	unsigned long suppressed = 0;

	if (!ward_log_limit_allow(l, uv_now(&c->worker->loop), &suppressed)) {
		json_decref(fields);
		return;
	}
	if (suppressed)
		json_object_set_new(fields, "suppressed", json_integer((json_int_t)suppressed));
	ward_log_emit(lvl, event, fields);
}

void conn_fail(struct ward_conn *c, const char *event, const char *reason)
{
	json_t *f = conn_fields(c);

	json_object_set_new(f, "reason", json_string(reason ? reason : "unknown"));
	log_limited(c, &c->worker->fail_log, WARD_LOG_WARN, event, f);
	ward_conn_close(c, true);
}

static void release(struct ward_conn *c)
{
	struct ward_worker *w = c->worker;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	atomic_fetch_sub(w->active_conns, 1);
	ward_metric_add(&w->stats.closed[c->dir], 1);
	if (c->ssl)
		wolfSSL_free(c->ssl);
	ward_buf_free(&c->io.in);
	ward_buf_free(&c->io.out);
	ward_tls_ctx_put(c->tls_ctx);
	free(c->peer_id);
	free(c);
}

static void on_close(uv_handle_t *h)
{
	/* The timer's data is the connection; a socket's is its side. */
	struct ward_conn *c = h->type == UV_TCP ? ((struct conn_side *)h->data)->conn : h->data;

	if (--c->handles_open == 0)
		release(c);
}

static void close_side(struct conn_side *s, bool reset)
{
	if (!s->open)
		return;
	s->open = false;
	if (!reset || uv_tcp_close_reset(&s->tcp, on_close) < 0)
		uv_close((uv_handle_t *)&s->tcp, on_close);
}

const char *conn_mode_name(const struct ward_conn *c)
{
	return c->mode == MODE_MTLS	     ? "mtls"
	       : c->mode == MODE_PASSTHROUGH ? "passthrough"
					     : "plaintext";
}

static void log_close(struct ward_conn *c)
{
	json_t *f;

	if (!ward_log_enabled(WARD_LOG_DEBUG) || c->phase != PHASE_RELAY)
		return;
	f = conn_fields(c);
	json_object_set_new(f, "mode", json_string(conn_mode_name(c)));
	json_object_set_new(f, "bytes_to_peer", json_integer((json_int_t)c->bytes_to_peer));
	json_object_set_new(f, "bytes_from_peer", json_integer((json_int_t)c->bytes_from_peer));
	if (c->ssl) {
		json_object_set_new(f, "tls_version", json_string(wolfSSL_get_version(c->ssl)));
		json_object_set_new(f, "cipher", json_string(ward_tls_cipher(c->ssl)));
		json_object_set_new(f, "group", json_string(ward_tls_group(c->ssl)));
		json_object_set_new(f, "handshake_ms",
				    json_real((double)(c->t_handshake - c->t_tls) / 1e6));
	}
	if (c->t_connected)
		json_object_set_new(f, "connect_ms",
				    json_real((double)(c->t_connected - c->t_connect) / 1e6));
	ward_log_emit(WARD_LOG_DEBUG, "conn_close", f);
}

void ward_conn_close(struct ward_conn *c, bool reset)
{
	if (c->phase == PHASE_CLOSING)
		return;
	log_close(c);
	conn_count_tcp_info(c);
	c->phase = PHASE_CLOSING;
	uv_close((uv_handle_t *)&c->timer, on_close);
	close_side(&c->down, reset);
	close_side(&c->up, reset);
}

static void arm_timer(struct ward_conn *c, uint64_t ms, bool repeat)
{
	uv_timer_start(&c->timer, on_timer, ms, repeat ? ms : 0);
}

/* family AF_UNSPEC: the socket comes later (uv_accept); otherwise it is
 * created now, so options can be set before connect. */
static int side_init(struct ward_conn *c, struct conn_side *s, int family)
{
	int rc = uv_tcp_init_ex(&c->worker->loop, &s->tcp, (unsigned)family);

	ENSURE(rc == 0, WARD_ERR_IO, "tcp init: %s", uv_strerror(rc));
	s->tcp.data = s;
	s->conn = c;
	s->open = true;
	c->handles_open++;
	return 0;
}

static void apply_sockopts(struct ward_conn *c, struct conn_side *s, bool upstream)
{
	static _Thread_local bool warned;

	if (ward_sockopt_apply(conn_side_fd(s), &c->worker->cfg->tcp, upstream) < 0 && !warned) {
		warned = true; /* same cause for every connection: say it once */
		ward_log(WARD_LOG_WARN, "sockopt_failed", "{s:s}", "reason", ward_err_msg());
	}
}

/* --- identity and policy after the handshake --- */

static bool ids_allow(char *const *patterns, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (ward_id_pattern_match(patterns[i], id, strlen(id)))
			return true;
	return false;
}

static bool inbound_allowed(const struct ward_config *cfg, uint16_t port, const char *id)
{
	const struct ward_port_ids *wildcard = NULL;

	for (size_t i = 0; i < cfg->inbound.n_allowed_client_ids; i++) {
		const struct ward_port_ids *p = &cfg->inbound.allowed_client_ids[i];

		if (p->port == port)
			return ids_allow(p->ids, p->n_ids, id);
		if (p->port == 0)
			wildcard = p;
	}
	return wildcard && ids_allow(wildcard->ids, wildcard->n_ids, id);
}

static bool authorize(struct ward_conn *c)
{
	const struct ward_config *cfg = c->worker->cfg;
	bool ok;
	json_t *f;

	if (c->dir == WARD_DIR_INBOUND)
		ok = inbound_allowed(cfg, c->local_port, c->peer_id);
	else
		ok = ids_allow(cfg->outbound.allowed_server_ids, cfg->outbound.n_allowed_server_ids,
			       c->peer_id);
	if (ok)
		return true;
	ward_metric_add(&c->worker->stats.authz_denied[c->dir], 1);
	ward_metric_add(&c->worker->stats.handshakes[c->dir][1], 1);
	ward_metric_add(&c->worker->stats.handshake_errors[c->dir][WARD_REASON_SPIFFE_ID_DENIED],
			1);
	f = conn_fields(c);
	json_object_set_new(f, "reason", json_string("spiffe_id_denied"));
	log_limited(c, &c->worker->deny_log, WARD_LOG_WARN, "authz_denied", f);
	return false;
}

static void handshake_failed(struct ward_conn *c, const char *reason, const char *detail)
{
	json_t *f = conn_fields(c);

	ward_metric_add(&c->worker->stats.handshakes[c->dir][1], 1);
	ward_metric_add(&c->worker->stats.handshake_errors[c->dir][ward_metrics_reason(reason)], 1);
	json_object_set_new(f, "reason", json_string(reason));
	json_object_set_new(f, "detail", json_string(detail));
	log_limited(c, &c->worker->fail_log, WARD_LOG_WARN, "handshake_failed", f);
	/* An alert may be waiting (protocol_version, handshake_failure): send it
	 * before the reset so the peer can tell why. */
	if (relay_flush_tls(c) == 0 && c->tls_side->queued > 0) {
		ward_conn_close(c, false);
		return;
	}
	ward_conn_close(c, true);
}

static void start_connect(struct ward_conn *c);

static void count_handshake(struct ward_conn *c)
{
	struct ward_metrics_worker *m = &c->worker->stats;

	ward_metric_add(&m->handshakes[c->dir][0], 1);
	ward_hist_observe(&m->handshake_seconds[c->dir], c->t_handshake - c->t_tls);
	ward_metrics_negotiated(m, c->dir, wolfSSL_get_version(c->ssl), ward_tls_cipher(c->ssl),
				ward_tls_group(c->ssl));
	if (wolfSSL_session_reused(c->ssl))
		ward_metric_add(&m->resumed[c->dir], 1);
}

static void handshake_done(struct ward_conn *c)
{
	char id[WARD_SPIFFE_ID_MAX + 1];

	c->t_handshake = uv_hrtime();
	if (ward_tls_ctx_peer_id(c->ssl, c->tls_ctx, id, sizeof(id)) < 0) {
		handshake_failed(c, "bad_svid", ward_err_msg());
		return;
	}
	c->peer_id = strdup(id);
	if (!c->peer_id) {
		conn_fail(c, "handshake_failed", "out of memory");
		return;
	}
	if (!authorize(c)) {
		ward_conn_close(c, true);
		return;
	}
	count_handshake(c);
	uv_timer_stop(&c->timer);
	if (c->dir == WARD_DIR_INBOUND) {
		uv_read_stop((uv_stream_t *)&c->tls_side->tcp); /* until the app answers */
		c->tls_side->reading = false;
		start_connect(c);
		return;
	}
	arm_timer(c, (uint64_t)c->worker->cfg->limits.idle_timeout_s * 1000, true);
	if (relay_start(c) < 0)
		conn_fail(c, "relay_failed", ward_err_msg());
}

void conn_handshake_input(struct ward_conn *c)
{
	int wolf_err = 0;
	int rc = ward_tls_handshake(c->ssl, &wolf_err);

	if (rc == WARD_ERR_AGAIN) {
		if (relay_flush_tls(c) < 0)
			conn_fail(c, "handshake_failed", ward_err_msg());
		else if (c->io.in_eof)
			handshake_failed(c, "peer_reset", "peer closed during the handshake");
		return;
	}
	if (rc < 0) {
		handshake_failed(c, ward_tls_failure_reason(c->ssl, wolf_err), ward_err_msg());
		return;
	}
	if (relay_flush_tls(c) < 0) {
		conn_fail(c, "handshake_failed", ward_err_msg());
		return;
	}
	handshake_done(c);
}

static int begin_tls(struct ward_conn *c, struct conn_side *tls_side, enum ward_tls_role role)
{
	c->mode = MODE_MTLS;
	c->tls_side = tls_side;
	c->t_tls = uv_hrtime();
	GUARD(ward_tls_ctx_session(c->tls_ctx, role, &c->io, &c->ssl));
	c->phase = PHASE_HANDSHAKE;
	arm_timer(c, c->worker->cfg->tls.handshake_timeout_ms, false);
	if (!tls_side->reading) {
		int rc = uv_read_start((uv_stream_t *)&tls_side->tcp, relay_alloc, relay_on_read);

		ENSURE(rc == 0, WARD_ERR_IO, "read start: %s", uv_strerror(rc));
		tls_side->reading = true;
	}
	if (role == WARD_TLS_CLIENT)
		conn_handshake_input(c); /* ClientHello */
	return 0;
}

/* --- upstream connect --- */

static void on_connect(uv_connect_t *req, int status)
{
	struct ward_conn *c = req->data;
	int rc;

	if (c->phase == PHASE_CLOSING)
		return;
	if (status < 0) {
		conn_fail(c, "connect_failed", uv_err_name(status));
		return;
	}
	c->t_connected = uv_hrtime();
	ward_hist_observe(&c->worker->stats.connect_seconds[c->dir], c->t_connected - c->t_connect);
	apply_sockopts(c, &c->up, true);
	uv_timer_stop(&c->timer);
	if (c->dir == WARD_DIR_OUTBOUND && c->mode == MODE_MTLS) {
		rc = begin_tls(c, &c->up, WARD_TLS_CLIENT);
	} else {
		arm_timer(c, (uint64_t)c->worker->cfg->limits.idle_timeout_s * 1000, true);
		rc = relay_start(c);
	}
	if (rc < 0)
		conn_fail(c, "relay_failed", ward_err_msg());
}

/* Inbound traffic goes to the app on loopback at the port the peer dialled;
 * the proxy's uid is exempt from capture, so this is not redirected again. */
static void upstream_addr(const struct ward_conn *c, struct sockaddr_storage *out)
{
	memcpy(out, &c->dst, sizeof(*out));
	if (c->dir == WARD_DIR_OUTBOUND)
		return;
	if (out->ss_family == AF_INET6)
		((struct sockaddr_in6 *)out)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)out)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void start_connect(struct ward_conn *c)
{
	struct sockaddr_storage to;
	int rc;

	upstream_addr(c, &to);
	c->phase = PHASE_CONNECT;
	c->t_connect = uv_hrtime();
	arm_timer(c, c->worker->cfg->limits.connect_timeout_ms, false);
	rc = side_init(c, &c->up, to.ss_family);
	/* TCP Fast Open: the first data rides on the SYN when the peer allows it
	 * (a ClientHello, for mesh traffic); harmless when it does not. */
	if (rc == 0 && c->worker->cfg->tcp.fastopen)
		rc = ward_sockopt_fastopen_connect(conn_side_fd(&c->up));
	if (rc == 0) {
		c->connect_req.data = c;
		rc =
		    uv_tcp_connect(&c->connect_req, &c->up.tcp, (struct sockaddr *)&to, on_connect);
		if (rc < 0)
			rc = ward_err_set(WARD_ERR_IO, "%s", uv_err_name(rc));
	}
	if (rc < 0)
		conn_fail(c, "connect_failed", ward_err_msg());
}

/* --- permissive inbound: TLS or plaintext, told apart by the first byte --- */

void conn_peek_input(struct ward_conn *c, const uint8_t *data, size_t len)
{
	/* A TLS connection opens with a handshake record, content type 22
	 * (RFC 8446 §5.1); no plaintext protocol we carry starts with 0x16. */
	if (len > 0 && data[0] == 0x16) {
		int rc = begin_tls(c, &c->down, WARD_TLS_SERVER);

		if (rc == 0)
			rc = ward_buf_append(&c->io.in, data, len);
		if (rc < 0) {
			conn_fail(c, "handshake_failed", ward_err_msg());
			return;
		}
		conn_handshake_input(c);
		return;
	}
	c->mode = MODE_PLAINTEXT;
	uv_read_stop((uv_stream_t *)&c->down.tcp);
	c->down.reading = false;
	if (len > 0 && ward_buf_append(&c->io.in, data, len) < 0) {
		conn_fail(c, "relay_failed", ward_err_msg());
		return;
	}
	start_connect(c); /* the bytes we held are written once the app answers */
}

/* --- timers --- */

static void on_timer(uv_timer_t *t)
{
	struct ward_conn *c = t->data;
	uint64_t idle_ms = (uint64_t)c->worker->cfg->limits.idle_timeout_s * 1000;

	switch (c->phase) {
	case PHASE_CONNECT:
		conn_fail(c, "connect_failed", "connect_timeout");
		break;
	case PHASE_HANDSHAKE:
		handshake_failed(c, "timeout",
				 "no complete handshake within tls.handshake_timeout_ms");
		break;
	case PHASE_PEEK:
		conn_peek_input(c, NULL, 0); /* silent client: a server-first protocol */
		break;
	case PHASE_RELAY:
		if (uv_now(&c->worker->loop) - c->last_active_ms >= idle_ms) {
			ward_log(WARD_LOG_DEBUG, "idle_timeout", "{s:s}", "direction", dir_name(c));
			ward_conn_close(c, false);
		}
		break;
	case PHASE_CLOSING:
		break;
	}
}

/* --- accept --- */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family || addr_port(a) != addr_port(b))
		return false;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/* Where the client meant to go. A connection made straight to our own port
 * was not redirected by iptables: proxying it would loop back to ourselves. */
static int original_destination(struct ward_conn *c)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int fd = conn_side_fd(&c->down);

	GUARD(ward_sockopt_original_dst(fd, &c->dst));
	if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 && same_addr(&local, &c->dst))
		return ward_err_set(
		    WARD_ERR_INVALID,
		    "connection to the proxy port itself (not redirected by iptables)");
	return 0;
}

static struct ward_conn *conn_new(struct ward_worker *w, enum ward_dir dir)
{
	struct ward_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->worker = w;
	c->dir = dir;
	c->t_start = uv_hrtime();
	uv_timer_init(&w->loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 1;
	ward_tls_io_init(&c->io);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	atomic_fetch_add(w->active_conns, 1);
	ward_metric_add(&w->stats.opened[dir], 1);
	return c;
}

static int route_outbound(struct ward_conn *c)
{
	const struct ward_config *cfg = c->worker->cfg;
	bool mesh = ward_config_in_mesh(cfg, (const struct sockaddr *)&c->dst) &&
		    !ward_config_is_passthrough_port(cfg, addr_port(&c->dst));

	c->mode = mesh ? MODE_MTLS : MODE_PASSTHROUGH;
	ENSURE(!mesh || c->tls_ctx, WARD_ERR_AGAIN,
	       "no identity loaded yet: refusing mesh traffic");
	start_connect(c);
	return 0;
}

static int route_inbound(struct ward_conn *c)
{
	int rc;

	c->local_port = addr_port(&c->dst);
	if (c->worker->cfg->inbound.mode == WARD_INBOUND_STRICT) {
		ENSURE(c->tls_ctx, WARD_ERR_AGAIN, "no identity loaded yet: refusing mesh traffic");
		return begin_tls(c, &c->down, WARD_TLS_SERVER);
	}
	c->phase = PHASE_PEEK;
	arm_timer(c, PEEK_TIMEOUT_MS, false);
	rc = uv_read_start((uv_stream_t *)&c->down.tcp, relay_alloc, relay_on_read);
	ENSURE(rc == 0, WARD_ERR_IO, "read start: %s", uv_strerror(rc));
	c->down.reading = true;
	return 0;
}

void ward_conn_accept(struct ward_worker *w, uv_stream_t *listener, enum ward_dir dir)
{
	struct ward_conn *c = conn_new(w, dir);
	unsigned max = w->cfg->limits.max_connections;
	int rc;

	if (!c)
		return; /* left in the backlog; libuv offers it again */
	rc = side_init(c, &c->down, AF_UNSPEC);
	if (rc == 0 && uv_accept(listener, (uv_stream_t *)&c->down.tcp) < 0)
		rc = ward_err_set(WARD_ERR_IO, "accept failed");
	if (rc < 0) {
		ward_conn_close(c, true);
		return;
	}
	if (atomic_load(w->active_conns) > max) {
		ward_metric_add(&w->stats.refused, 1);
		conn_fail(c, "conn_refused", "limits.max_connections reached");
		return;
	}
	if (w->tls)
		c->tls_ctx = ward_tls_ctx_get(w->tls);
	apply_sockopts(c, &c->down, false);
	rc = original_destination(c);
	if (rc == 0)
		rc = dir == WARD_DIR_OUTBOUND ? route_outbound(c) : route_inbound(c);
	if (rc < 0)
		conn_fail(c, "conn_refused", ward_err_msg());
}
