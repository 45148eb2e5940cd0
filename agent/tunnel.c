/* A tunnel connection's transport and lifetime: the socket, the TLS session
 * with ALPN h2, the handshake and the peer's identity, moving bytes between
 * the socket and the HTTP/2 session, the loop-turn flush, drain, and the one
 * close (tunnel.h). tunnel_client.c and tunnel_server.c hold what only one
 * side does. */
#include <stdlib.h>
#include <string.h>

#include "agent/tunnel_impl.h"
#include "certs/svid.h"
#include "lib/log.h"
#include "lib/sockopt.h"

#define TICK_MS 1000
#define DRAIN_STALL_MS 10000	   /* a draining tunnel without streams the peer never lets go */
#define SHUT_GRACE_MS 2000	   /* a graceful close waits this long for its FIN to go */
#define LEAD_MAX_S 30		   /* drain at most this long before a certificate expires */
#define TLS_RECORD_MAX (16 * 1024) /* plaintext of one record (RFC 8446 §5.1) */

static const struct ward_stream_ops sock_ops;
static void on_timer(uv_timer_t *timer);
static void tunnel_flush(struct ward_tunnel *t);

/* Decrypted bytes pass through here on their way into the session: every
 * whole record a read brought, so that streams get their data in a few
 * large pieces (one app write each), not record by record. */
static _Thread_local uint8_t plain[64 * 1024];

static const struct ward_config *cfg_of(const struct ward_tunnel *t)
{
	return t->worker->cfg;
}

static const char *dir_name(const struct ward_tunnel *t)
{
	return t->dir == WARD_DIR_OUTBOUND ? "outbound" : "inbound";
}

static json_t *fields(const struct ward_tunnel *t)
{
	char peer[64];

	ward_addr_format((const struct sockaddr *)&t->peer, peer, sizeof(peer));
	return json_pack("{s:s,s:I,s:s,s:s?,s:s}", "direction", dir_name(t), "tunnel",
			 (json_int_t)t->id, "peer", peer, "peer_id", t->peer_id, "local_id",
			 t->tls_ctx ? t->tls_ctx->spiffe_id : "");
}

void tunnel_log(struct ward_tunnel *t, enum ward_log_level level, const char *event,
		const char *reason)
{
	json_t *f;

	if (!ward_log_enabled(level))
		return;
	f = fields(t);
	if (reason)
		json_object_set_new(f, "reason", json_string(reason));
	if (t->mux_open)
		json_object_set_new(f, "streams_total",
				    json_integer((json_int_t)t->mux.streams_total));
	ward_log_emit(level, event, f);
}

/* --- lifetime --- */

struct ward_tunnel *tunnel_new(struct ward_worker *w, enum ward_dir dir)
{
	struct ward_tunnel *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->worker = w;
	t->dir = dir;
	t->state = dir == WARD_DIR_OUTBOUND ? WARD_TUNNEL_CONNECT : WARD_TUNNEL_HANDSHAKE;
	t->id = ++w->tunnel_seq;
	t->t_start = uv_hrtime();
	t->tls_ctx = ward_tls_ctx_get(w->tls);
	uv_timer_init(&w->loop, &t->timer);
	t->timer.data = t;
	t->handles_open = 1;
	ward_list_add(&w->tunnels, &t->link);
	if (dir == WARD_DIR_OUTBOUND) { /* a socket, like any connection */
		atomic_fetch_add(w->active_conns, 1);
		t->counted = true;
	}
	ward_metric_add(&w->stats.tunnel_opened[dir], 1);
	return t;
}

int tunnel_sock_init(struct ward_tunnel *t, int family)
{
	GUARD(ward_stream_init(&t->sock, &t->worker->loop, WARD_STREAM_TCP, family, &sock_ops, t));
	t->sock.read_size = TUNNEL_READ_SIZE;
	t->handles_open++;
	return 0;
}

static void release(struct ward_tunnel *t)
{
	struct ward_worker *w = t->worker;

	ward_list_remove(&w->tunnels, &t->link);
	if (t->counted)
		atomic_fetch_sub(w->active_conns, 1);
	ward_metric_add(&w->stats.tunnel_closed[t->dir], 1);
	ward_tls_session_close(&t->tls);
	ward_tls_ctx_put(t->tls_ctx);
	free(t->peer_id);
	free(t);
}

static void handle_closed(struct ward_tunnel *t)
{
	if (--t->handles_open == 0)
		release(t);
}

static void on_timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void on_sock_closed(struct ward_stream *s)
{
	handle_closed(s->owner);
}

void ward_tunnel_close(struct ward_tunnel *t, bool reset)
{
	struct ward_worker *w = t->worker;

	if (t->state == WARD_TUNNEL_CLOSING)
		return;
	t->state = WARD_TUNNEL_CLOSING;
	ward_budget_put(&w->budget, &t->unauth);
	tunnel_log(t, WARD_LOG_DEBUG, "tunnel_close", reset ? "reset" : "done");
	if (t->dir == WARD_DIR_OUTBOUND) {
		ward_pool_remove(&w->pool, &t->entry);
		tunnel_client_failed(t, NULL); /* anything still waiting */
	}
	if (t->dirty)
		ward_list_remove(&w->dirty, &t->dirty_link);
	t->dirty = false;
	if (t->mux_open)
		ward_mux_close(&t->mux); /* streams still on it are reset */
	t->mux_open = false;
	uv_close((uv_handle_t *)&t->timer, on_timer_closed);
	ward_stream_close(&t->sock, reset);
}

static int flush_tls(struct ward_tunnel *t)
{
	size_t len;
	uint8_t *data = ward_tls_session_output(&t->tls, &len);

	return data ? ward_stream_write(&t->sock, data, len) : 0;
}

/* Nothing more to say either way: close_notify, FIN once the queue is out,
 * then close (on_sock_shut, or the timer). */
static void finish(struct ward_tunnel *t)
{
	if (t->state == WARD_TUNNEL_CLOSING || t->finishing)
		return;
	t->finishing = true;
	if (t->mux_open)
		ward_mux_close(&t->mux);
	t->mux_open = false;
	ward_tls_session_notify(&t->tls);
	if (flush_tls(t) < 0 || ward_stream_shutdown(&t->sock) < 0) {
		ward_tunnel_close(t, true);
		return;
	}
	uv_timer_start(&t->timer, on_timer, SHUT_GRACE_MS, 0);
}

static void check_finished(struct ward_tunnel *t)
{
	if (!t->mux_open || t->state == WARD_TUNNEL_CLOSING)
		return;
	if (t->mux.failed) {
		ward_tunnel_close(t, true);
		return;
	}
	/* A draining server waits for its PING's round trip: requests sent
	 * before the client saw GOAWAY are still on their way (RFC 9113 §6.8). */
	if (ward_mux_finished(&t->mux) && !t->mux.drain_ping)
		finish(t);
}

/* --- drain --- */

void tunnel_drain(struct ward_tunnel *t, const char *why)
{
	if (t->dir == WARD_DIR_OUTBOUND)
		ward_pool_remove(&t->worker->pool, &t->entry);
	if (t->state == WARD_TUNNEL_CONNECT || t->state == WARD_TUNNEL_HANDSHAKE) {
		t->drain_when_open = why; /* its waiting streams go first */
		return;
	}
	if (t->state != WARD_TUNNEL_OPEN)
		return;
	t->state = WARD_TUNNEL_DRAINING;
	t->draining_since_ms = uv_now(&t->worker->loop);
	tunnel_log(t, WARD_LOG_DEBUG, "tunnel_drain", why);
	ward_mux_drain(&t->mux);
	tunnel_mark_dirty(t);
}

/* The earliest of: max age, and a little before either certificate ends. */
static time_t lifetime_end(const struct ward_tunnel *t, const struct ward_svid_info *peer)
{
	time_t end = time(NULL) + (time_t)cfg_of(t)->tunnel.max_connection_age_s;
	time_t nb[2] = {t->tls_ctx->not_before, peer ? peer->not_before : 0};
	time_t na[2] = {t->tls_ctx->not_after, peer ? peer->not_after : 0};

	for (int i = 0; i < 2; i++) {
		time_t lead = (na[i] - nb[i]) / 10;

		if (!na[i])
			continue;
		if (lead > LEAD_MAX_S)
			lead = LEAD_MAX_S;
		if (na[i] - lead < end)
			end = na[i] - lead;
	}
	return end;
}

static void set_lifetime(struct ward_tunnel *t)
{
	WOLFSSL_X509 *leaf = wolfSSL_get_peer_certificate(t->tls.ssl);
	struct ward_svid_info info;
	const unsigned char *der = NULL;
	int len = 0;
	bool have = false;

	if (leaf)
		der = wolfSSL_X509_get_der(leaf, &len);
	if (der && len > 0 && ward_svid_info(der, (size_t)len, &info) == 0)
		have = true;
	if (leaf)
		wolfSSL_X509_free(leaf);
	t->drain_at = lifetime_end(t, have ? &info : NULL);
}

/* --- the handshake --- */

static void count_handshake(struct ward_tunnel *t)
{
	struct ward_metrics_worker *m = &t->worker->stats;
	WOLFSSL *ssl = t->tls.ssl;

	ward_metric_add(&m->handshakes[t->dir][0], 1);
	ward_hist_observe(&m->handshake_seconds[t->dir], t->t_handshake - t->t_tls);
	ward_metrics_negotiated(m, t->dir, wolfSSL_get_version(ssl), ward_tls_cipher(ssl),
				ward_tls_group(ssl));
}

void tunnel_handshake_failed(struct ward_tunnel *t, const char *reason, const char *detail)
{
	struct ward_worker *w = t->worker;
	unsigned long suppressed = 0;
	json_t *f;

	ward_metric_add(&w->stats.handshakes[t->dir][1], 1);
	ward_metric_add(&w->stats.handshake_errors[t->dir][ward_metrics_reason(reason)], 1);
	if (ward_log_limit_allow(&w->fail_log, uv_now(&w->loop), &suppressed)) {
		f = fields(t);
		json_object_set_new(f, "reason", json_string(reason));
		json_object_set_new(f, "detail", json_string(detail ? detail : ""));
		if (suppressed)
			json_object_set_new(f, "suppressed", json_integer((json_int_t)suppressed));
		ward_log_emit(WARD_LOG_WARN, "handshake_failed", f);
	}
	if (t->dir == WARD_DIR_OUTBOUND)
		tunnel_client_failed(t, reason);
	/* An alert may be waiting: let it go before the connection does. */
	if (t->tls.ssl && flush_tls(t) == 0 && t->sock.queued > 0) {
		finish(t);
		return;
	}
	ward_tunnel_close(t, true);
}

static int open_mux(struct ward_tunnel *t)
{
	const struct ward_config *cfg = cfg_of(t);
	struct ward_mux_limits lim = {
	    .max_streams = cfg->tunnel.max_streams_per_connection,
	    .max_header_list = TUNNEL_HEADER_LIST,
	    .stream_window = cfg->tunnel.stream_window_bytes,
	    .buffer_bytes = cfg->limits.buffer_bytes,
	    .out_high = TUNNEL_OUT_HIGH,
	};

	GUARD(ward_mux_init(&t->mux,
			    t->dir == WARD_DIR_OUTBOUND ? WARD_MUX_CLIENT : WARD_MUX_SERVER, &lim,
			    &tunnel_mux_ops, t));
	t->mux_open = true;
	return 0;
}

static void handshake_done(struct ward_tunnel *t)
{
	char id[WARD_SPIFFE_ID_MAX + 1];

	t->t_handshake = uv_hrtime();
	if (!ward_tls_session_alpn_is(&t->tls, WARD_MUX_ALPN)) {
		tunnel_handshake_failed(t, "no_alpn", "the peer did not agree on ALPN h2");
		return;
	}
	if (ward_tls_ctx_peer_id(t->tls.ssl, t->tls_ctx, id, sizeof(id)) < 0) {
		tunnel_handshake_failed(t, "bad_svid", ward_err_msg());
		return;
	}
	t->peer_id = strdup(id);
	if (t->peer_id && t->dir == WARD_DIR_OUTBOUND && !tunnel_client_authorize(t))
		return;
	if (t->dir == WARD_DIR_INBOUND && !tunnel_server_admit(t))
		return;
	if (!t->peer_id || open_mux(t) < 0) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", "out of memory");
		ward_tunnel_close(t, true);
		return;
	}
	count_handshake(t);
	set_lifetime(t);
	t->state = WARD_TUNNEL_OPEN;
	uv_timer_start(&t->timer, on_timer, TICK_MS, TICK_MS);
	tunnel_log(t, WARD_LOG_DEBUG, "tunnel_open", NULL);
	if (t->dir == WARD_DIR_OUTBOUND)
		tunnel_client_open(t);
	if (t->drain_when_open)
		tunnel_drain(t, t->drain_when_open);
	tunnel_mark_dirty(t);
}

static void session_input(struct ward_tunnel *t);

static void handshake_input(struct ward_tunnel *t)
{
	int wolf_err = 0;
	int rc = ward_tls_session_handshake(&t->tls, &wolf_err);

	if (rc == WARD_ERR_EOF) {
		tunnel_handshake_failed(t, "peer_reset", ward_err_msg());
		return;
	}
	if (rc == WARD_ERR_TLS) {
		tunnel_handshake_failed(t, ward_tls_failure_reason(t->tls.ssl, wolf_err),
					ward_err_msg());
		return;
	}
	if (flush_tls(t) < 0) {
		tunnel_handshake_failed(t, "peer_reset", ward_err_msg());
		return;
	}
	if (rc != 0)
		return;
	handshake_done(t);
	/* Records that came with the peer's Finished (a client's preface and
	 * first CONNECTs) are read now, not at the next packet. */
	if (t->mux_open && (t->state == WARD_TUNNEL_OPEN || t->state == WARD_TUNNEL_DRAINING))
		session_input(t);
}

int tunnel_tls_session(struct ward_tunnel *t, enum ward_tls_role role)
{
	GUARD(ward_tls_ctx_session(t->tls_ctx, role, &t->tls));
	return ward_tls_session_alpn(&t->tls, WARD_MUX_ALPN, role == WARD_TLS_SERVER);
}

int tunnel_begin_tls(struct ward_tunnel *t, enum ward_tls_role role)
{
	ENSURE(t->tls_ctx, WARD_ERR_NOTREADY, "no identity loaded yet: refusing mesh traffic");
	t->state = WARD_TUNNEL_HANDSHAKE;
	t->t_tls = uv_hrtime();
	/* The server's session waits for the peer's first bytes
	 * (tunnel_server_heard): a silent connection holds no TLS state. */
	if (role == WARD_TLS_CLIENT)
		GUARD(tunnel_tls_session(t, role));
	uv_timer_start(&t->timer, on_timer, cfg_of(t)->tls.handshake_timeout_ms, 0);
	GUARD(ward_stream_read_start(&t->sock));
	if (role == WARD_TLS_CLIENT)
		handshake_input(t); /* ClientHello */
	return 0;
}

/* --- the session over the TLS session --- */

/* Decrypts into plain until it is full or the records run out. */
static int decrypt(struct ward_tunnel *t, size_t *got)
{
	size_t n;
	int rc;

	*got = 0;
	while (sizeof(plain) - *got >= TLS_RECORD_MAX &&
	       (rc = ward_tls_session_read(&t->tls, plain + *got, sizeof(plain) - *got, &n)) == 0)
		*got += n;
	if (sizeof(plain) - *got < TLS_RECORD_MAX)
		return 0; /* full: more may follow */
	return *got ? 0 : rc;
}

static void session_input(struct ward_tunnel *t)
{
	struct ward_metrics_worker *m = &t->worker->stats;
	size_t n;
	int rc;

	while ((rc = decrypt(t, &n)) == 0 && n) {
		rc = ward_mux_recv(&t->mux, plain, n);
		explicit_bzero(plain, n);
		if (rc < 0 || t->state == WARD_TUNNEL_CLOSING || !t->mux_open)
			break;
	}
	if (t->mux_open && t->mux.bad_requests > t->bad_requests) {
		ward_metric_add(&m->tunnel_streams[t->dir][WARD_STREAM_BAD_REQUEST],
				t->mux.bad_requests - t->bad_requests);
		t->bad_requests = t->mux.bad_requests;
	}
	if (t->state == WARD_TUNNEL_CLOSING || !t->mux_open)
		return;
	if (rc == WARD_ERR_EOF) { /* the peer is gone: what is still open is reset */
		ward_tunnel_close(t, false);
		return;
	}
	if (rc != WARD_ERR_WOULDBLOCK) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", ward_err_msg());
		tunnel_flush(t); /* nghttp2's GOAWAY says why */
		ward_tunnel_close(t, true);
		return;
	}
	if (flush_tls(t) < 0)
		ward_tunnel_close(t, true);
}

/* Every frame gathered in the loop turn: one TLS write, one socket write. */
static int mux_send(void *owner, const uint8_t *data, size_t len)
{
	struct ward_tunnel *t = owner;

	GUARD(ward_tls_session_write(&t->tls, data, len));
	return flush_tls(t);
}

static size_t mux_queued(void *owner)
{
	return ((struct ward_tunnel *)owner)->sock.queued;
}

static void mux_dirty(void *owner)
{
	tunnel_mark_dirty(owner);
}

static void mux_goaway(void *owner)
{
	tunnel_drain(owner, "peer sent GOAWAY");
}

void tunnel_arm(struct ward_tunnel *t, uint64_t ms)
{
	uv_timer_start(&t->timer, on_timer, ms, 0);
}

void tunnel_mark_dirty(struct ward_tunnel *t)
{
	if (t->dirty || t->state == WARD_TUNNEL_CLOSING)
		return;
	t->dirty = true;
	ward_list_add_tail(&t->worker->dirty, &t->dirty_link);
}

static void tunnel_flush(struct ward_tunnel *t)
{
	if (!t->mux_open || t->state == WARD_TUNNEL_CLOSING)
		return;
	if (ward_mux_flush(&t->mux) < 0) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", ward_err_msg());
		ward_tunnel_close(t, true);
		return;
	}
	check_finished(t);
}

void ward_tunnel_flush_dirty(struct ward_worker *w)
{
	while (w->dirty.head) {
		struct ward_tunnel *t =
		    ward_list_entry(w->dirty.head, struct ward_tunnel, dirty_link);

		ward_list_remove(&w->dirty, &t->dirty_link);
		t->dirty = false;
		tunnel_flush(t);
	}
}

/* --- socket events --- */

static void on_read(struct ward_stream *s, uint8_t *data, size_t len)
{
	struct ward_tunnel *t = s->owner;

	if (t->finishing || (t->state != WARD_TUNNEL_HANDSHAKE && !t->mux_open)) {
		free(data);
		return;
	}
	if (!t->tls.ssl && tunnel_server_heard(t) < 0) {
		free(data);
		return;
	}
	if (ward_tls_session_feed(&t->tls, data, len, s->read_size) < 0) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", ward_err_msg());
		ward_tunnel_close(t, true);
	} else if (t->state == WARD_TUNNEL_HANDSHAKE) {
		handshake_input(t);
	} else {
		session_input(t);
	}
}

static void on_eof(struct ward_stream *s)
{
	struct ward_tunnel *t = s->owner;

	if (t->finishing) {
		ward_tunnel_close(t, false);
		return;
	}
	if (!t->tls.ssl) { /* a peer that left without a word */
		tunnel_handshake_failed(t, "peer_reset", "the peer closed before its ClientHello");
		return;
	}
	ward_tls_session_feed_eof(&t->tls);
	if (t->state == WARD_TUNNEL_HANDSHAKE)
		handshake_input(t);
	else if (t->mux_open)
		session_input(t);
}

static void on_error(struct ward_stream *s, int status)
{
	struct ward_tunnel *t = s->owner;

	if (t->state == WARD_TUNNEL_HANDSHAKE)
		tunnel_handshake_failed(t, "peer_reset", uv_err_name(status));
	else if (t->state != WARD_TUNNEL_CLOSING)
		ward_tunnel_close(t, true);
}

static void on_drained(struct ward_stream *s)
{
	struct ward_tunnel *t = s->owner;

	if (t->mux_open && s->queued < TUNNEL_OUT_HIGH)
		tunnel_mark_dirty(t); /* the session may have more now there is room */
}

static void on_shut(struct ward_stream *s)
{
	struct ward_tunnel *t = s->owner;

	if (t->finishing)
		ward_tunnel_close(t, false);
}

static void on_connected(struct ward_stream *s, int status)
{
	tunnel_client_connected(s->owner, status);
}

static const struct ward_stream_ops sock_ops = {
    .read = on_read,
    .eof = on_eof,
    .error = on_error,
    .drained = on_drained,
    .connected = on_connected,
    .shut = on_shut,
    .closed = on_sock_closed,
};

/* --- the timer: deadlines, then a tick --- */

static uint64_t idle_limit_ms(const struct ward_tunnel *t)
{
	uint64_t s = cfg_of(t)->tunnel.idle_timeout_s;

	/* The client owns its pool; a server lets go later, so that it is not
	 * the one to close a connection a client just picked. */
	return (t->dir == WARD_DIR_OUTBOUND ? s : s + 60) * 1000;
}

static void tick(struct ward_tunnel *t)
{
	uint64_t now = uv_now(&t->worker->loop);
	uint64_t hdr_limit_ns = (uint64_t)cfg_of(t)->tls.handshake_timeout_ms * 1000000;
	size_t streams = ward_mux_streams(&t->mux);

	/* A header block begun and never finished stalls the whole session. */
	if (t->mux.header_since && uv_hrtime() - t->mux.header_since > hdr_limit_ns) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", "a header block never finished");
		ward_tunnel_close(t, true);
		return;
	}
	if (streams)
		t->idle_since_ms = 0;
	else if (!t->idle_since_ms)
		t->idle_since_ms = now;
	if (t->state == WARD_TUNNEL_OPEN && t->idle_since_ms &&
	    now - t->idle_since_ms >= idle_limit_ms(t))
		tunnel_drain(t, "idle");
	else if (t->state == WARD_TUNNEL_OPEN && time(NULL) >= t->drain_at)
		tunnel_drain(t, "lifetime");
	else if (t->state == WARD_TUNNEL_DRAINING && !streams &&
		 now - t->draining_since_ms >= DRAIN_STALL_MS)
		ward_tunnel_close(t, false);
}

static void on_timer(uv_timer_t *timer)
{
	struct ward_tunnel *t = timer->data;

	if (t->finishing) {
		ward_tunnel_close(t, false); /* the FIN never completed */
		return;
	}
	switch (t->state) {
	case WARD_TUNNEL_CONNECT:
		tunnel_log(t, WARD_LOG_DEBUG, "tunnel_connect_failed", "connect_timeout");
		tunnel_client_failed(t, "connect_timeout");
		ward_tunnel_close(t, true);
		break;
	case WARD_TUNNEL_HANDSHAKE:
		tunnel_handshake_failed(t, "timeout",
					"no complete handshake within tls.handshake_timeout_ms");
		break;
	case WARD_TUNNEL_OPEN:
	case WARD_TUNNEL_DRAINING:
		tick(t);
		break;
	case WARD_TUNNEL_CLOSING:
		break;
	}
}

/* --- the worker's view --- */

void ward_tunnel_rotate(struct ward_worker *w)
{
	struct ward_list_node *node, *next;

	ward_list_each(&w->tunnels, node, next)
	{
		struct ward_tunnel *t = ward_tunnel_of(node);

		if (t->tls_ctx != w->tls)
			tunnel_drain(t, "svid_rotated");
	}
}

void ward_tunnel_drain_all(struct ward_worker *w)
{
	struct ward_list_node *node, *next;

	ward_list_each(&w->tunnels, node, next) tunnel_drain(ward_tunnel_of(node), "shutdown");
}

struct ward_tunnel *ward_tunnel_of(struct ward_list_node *node)
{
	return ward_list_entry(node, struct ward_tunnel, link);
}

bool ward_tunnel_info_of(const struct ward_h2_end *e, struct ward_tunnel_info *out)
{
	const struct ward_tunnel *t = e->mux ? e->mux->owner : NULL;
	WOLFSSL *ssl;

	if (!t)
		return false;
	ssl = t->tls.ssl;
	*out = (struct ward_tunnel_info){
	    .id = t->id,
	    .peer_id = t->peer_id,
	    .tls_ctx = t->tls_ctx,
	    .version = wolfSSL_get_version(ssl),
	    .cipher = ward_tls_cipher(ssl),
	    .group = ward_tls_group(ssl),
	    .handshake_ms = (double)(t->t_handshake - t->t_tls) / 1e6,
	    .peer = t->peer,
	};
	return true;
}

static const char *state_name(enum ward_tunnel_state s)
{
	static const char *const names[] = {"connect", "handshake", "open", "draining", "closing"};

	return names[s];
}

static json_t *streams_json(const struct ward_tunnel *t)
{
	const struct ward_list_node *node;
	json_t *a = json_array();
	size_t n = 0;

	for (node = t->mux_open ? t->mux.streams.head : NULL; node && n < 100;
	     node = node->next, n++) {
		const struct ward_h2_end *e = ward_list_entry(node, struct ward_h2_end, link);

		json_array_append_new(
		    a, json_pack("{s:i,s:s,s:b}", "stream", (int)e->id, "authority",
				 e->req.authority_text[0] ? e->req.authority_text : e->authority,
				 "closed", e->closed));
	}
	return a;
}

json_t *ward_tunnel_describe(struct ward_tunnel *t, uint64_t now_ns)
{
	json_t *o = fields(t);
	WOLFSSL *ssl = t->tls.ssl;

	if (!o)
		return NULL;
	json_object_set_new(o, "mode", json_string("tunnel_connection"));
	json_object_set_new(o, "state", json_string(state_name(t->state)));
	json_object_set_new(o, "worker", json_integer(t->worker->id));
	json_object_set_new(o, "age_s", json_real((double)(now_ns - t->t_start) / 1e9));
	json_object_set_new(o, "streams_open",
			    json_integer(t->mux_open ? (json_int_t)ward_mux_streams(&t->mux) : 0));
	json_object_set_new(o, "streams_total",
			    json_integer(t->mux_open ? (json_int_t)t->mux.streams_total : 0));
	if (ssl && t->t_handshake) {
		json_object_set_new(o, "tls_version", json_string(wolfSSL_get_version(ssl)));
		json_object_set_new(o, "cipher", json_string(ward_tls_cipher(ssl)));
		json_object_set_new(o, "group", json_string(ward_tls_group(ssl)));
		json_object_set_new(o, "drain_at", json_integer((json_int_t)t->drain_at));
	}
	json_object_set_new(o, "streams", streams_json(t));
	json_object_set_new(o, "tcp", ward_sockopt_tcp_json(ward_stream_fd(&t->sock)));
	return o;
}

const struct ward_mux_ops tunnel_mux_ops = {
    .send = mux_send,
    .queued = mux_queued,
    .dirty = mux_dirty,
    .request = tunnel_server_request,
    .goaway = mux_goaway,
};
