/* A proxied connection's lifecycle: accept, original destination, mesh or
 * passthrough, connect upstream, TLS handshake, SPIFFE identity and
 * authorization, relaying, timeouts, and the one close. Both sockets' events
 * arrive here and are dispatched by phase; the relay (relay.h) moves bytes
 * and says what to do next, and this file does it. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent/conn_impl.h"
#include "agent/policy.h"
#include "lib/ports.h"
#include "lib/sockopt.h"

#define PEEK_TIMEOUT_MS 500 /* permissive: a client silent this long speaks plaintext */
#define READ_CHUNK (64u * 1024)
#define TLS_RECORD_MAX (16u * 1024)

static void on_timer(uv_timer_t *t);
static const struct ward_stream_ops sock_ops;

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static int side_of(const struct ward_conn *c, const struct ward_stream *s)
{
	return s == &c->sock[CONN_UP] ? CONN_UP : CONN_DOWN;
}

/* What one read may bring in: at most the per-direction buffer. */
static size_t chunk_size(const struct ward_conn *c)
{
	size_t limit = c->worker->cfg->limits.buffer_bytes;

	return limit < READ_CHUNK ? limit : READ_CHUNK;
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

/* --- teardown --- */

static void release(struct ward_conn *c)
{
	struct ward_worker *w = c->worker;

	ward_list_remove(&w->conns, &c->link);
	if (c->counted)
		atomic_fetch_sub(w->active_conns, 1);
	ward_metric_add(&w->stats.closed[c->dir], 1);
	ward_tls_session_close(&c->tls);
	ward_end_sock_free(&c->end[CONN_DOWN]);
	ward_end_sock_free(&c->end[CONN_UP]);
	ward_tls_ctx_put(c->tls_ctx);
	free(c->peer_id);
	free(c);
}

static void on_handle_closed(struct ward_conn *c)
{
	if (--c->handles_open == 0)
		release(c);
}

static void on_timer_closed(uv_handle_t *h)
{
	on_handle_closed(h->data);
}

static int connect_upstream(struct ward_conn *c);

/* A refused app socket is closed before the other address is tried: the
 * connection cannot be released meanwhile (its timer is open until close). */
static void on_sock_closed(struct ward_stream *s)
{
	struct ward_conn *c = s->owner;
	bool redial = c->redial && s == &c->sock[CONN_UP] && c->phase == PHASE_CONNECT;

	c->redial = false;
	on_handle_closed(c);
	if (redial && connect_upstream(c) < 0)
		conn_fail(c, "connect_failed", ward_err_msg());
}

static void log_close(struct ward_conn *c)
{
	json_t *f;

	if (!ward_log_enabled(WARD_LOG_DEBUG) || c->phase != PHASE_RELAY)
		return;
	f = conn_fields(c);
	json_object_set_new(f, "mode", json_string(conn_mode_name(c)));
	json_object_set_new(f, "bytes_to_peer", json_integer((json_int_t)conn_bytes_to_peer(c)));
	json_object_set_new(f, "bytes_from_peer",
			    json_integer((json_int_t)conn_bytes_from_peer(c)));
	if (c->tls.ssl) {
		json_object_set_new(f, "tls_version", json_string(wolfSSL_get_version(c->tls.ssl)));
		json_object_set_new(f, "cipher", json_string(ward_tls_cipher(c->tls.ssl)));
		json_object_set_new(f, "group", json_string(ward_tls_group(c->tls.ssl)));
		json_object_set_new(f, "handshake_ms",
				    json_real((double)(c->t_handshake - c->t_tls) / 1e6));
	} else if (c->tun.version) { /* a stream: the tunnel connection's TLS */
		json_object_set_new(f, "tls_version", json_string(c->tun.version));
		json_object_set_new(f, "cipher", json_string(c->tun.cipher));
		json_object_set_new(f, "group", json_string(c->tun.group));
		json_object_set_new(f, "tunnel_handshake_ms", json_real(c->tun.handshake_ms));
		json_object_set_new(f, "stream_open_ms",
				    json_real((double)(c->t_relay - c->tun.t_request) / 1e6));
	}
	if (c->t_connected)
		json_object_set_new(f, "connect_ms",
				    json_real((double)(c->t_connected - c->t_connect) / 1e6));
	conn_set_app(c, f);
	ward_log_emit(WARD_LOG_DEBUG, "conn_close", f);
}

void ward_conn_close(struct ward_conn *c, bool reset)
{
	if (c->phase == PHASE_CLOSING)
		return;
	log_close(c);
	conn_count_tcp_info(c);
	c->phase = PHASE_CLOSING;
	conn_tunnel_close(c, reset);
	ward_budget_put(&c->worker->budget, &c->unauth);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	ward_stream_close(&c->sock[CONN_DOWN], reset);
	ward_stream_close(&c->sock[CONN_UP], reset);
}

/* What the relay said to do next. */
void conn_relay_next(struct ward_conn *c, enum ward_relay_state st)
{
	switch (st) {
	case WARD_RELAY_OPEN:
		break;
	case WARD_RELAY_DONE:
		ward_conn_close(c, false);
		break;
	case WARD_RELAY_RESET:
		ward_conn_close(c, true); /* a reset is carried through as a reset */
		break;
	case WARD_RELAY_FAILED:
		conn_fail(c, "relay_failed", ward_err_msg());
		break;
	}
}

void conn_arm_timer(struct ward_conn *c, uint64_t ms, bool repeat)
{
	uv_timer_start(&c->timer, on_timer, ms, repeat ? ms : 0);
}

void conn_arm_idle_timer(struct ward_conn *c)
{
	conn_arm_timer(c, (uint64_t)c->worker->cfg->limits.idle_timeout_s * 1000, true);
}

/* family AF_UNSPEC: the socket comes later (accept); otherwise it is created
 * now, so options can be set before connect. */
static int sock_init(struct ward_conn *c, int side, int family)
{
	struct ward_stream *s = &c->sock[side];

	GUARD(ward_stream_init(s, &c->worker->loop, WARD_STREAM_TCP, family, &sock_ops, c));
	s->read_size = chunk_size(c);
	c->handles_open++;
	return 0;
}

/* The options of the socket we opened. The app's own socket on loopback
 * (inbound) needs TCP_NODELAY alone: keepalive probes and a congestion
 * algorithm mean nothing there, and cost four system calls a connection. */
static void apply_sockopts(struct ward_conn *c, int side)
{
	static _Thread_local bool warned;
	int fd = ward_stream_fd(&c->sock[side]);
	int rc = c->dir == WARD_DIR_INBOUND ? ward_sockopt_nodelay(fd, &c->worker->cfg->tcp)
					    : ward_sockopt_apply(fd, &c->worker->cfg->tcp, true);

	if (rc < 0 && !warned) {
		warned = true; /* same cause for every connection: say it once */
		ward_log(WARD_LOG_WARN, "sockopt_failed", "{s:s}", "reason", ward_err_msg());
	}
}

/* --- limits --- */

_Static_assert(WARD_ADDR_SOURCE_KEY == WARD_BUDGET_KEY, "a source address is a budget key");

bool conn_count_in(struct ward_conn *c)
{
	unsigned max = c->worker->cfg->limits.max_connections;

	c->counted = true;
	if (atomic_fetch_add(c->worker->active_conns, 1) + 1 <= max)
		return true;
	ward_metric_add(&c->worker->stats.refused, 1);
	return false;
}

/* Counts the connection against limits.max_connections, or refuses it. */
static bool count_in(struct ward_conn *c)
{
	if (conn_count_in(c))
		return true;
	conn_fail(c, "conn_refused", "limits.max_connections reached");
	return false;
}

/* An inbound peer proved who it is (or was let in as permissive plaintext):
 * out of the handshake budget, into the connection limit. */
static bool admit(struct ward_conn *c)
{
	ward_budget_put(&c->worker->budget, &c->unauth);
	return count_in(c);
}

/* The budget needs room and this is the oldest unauthenticated connection
 * (of its source, or of the worker). */
static void on_shed(struct ward_budget_slot *s, enum ward_budget_reason why)
{
	struct ward_conn *c = ward_list_entry(s, struct ward_conn, unauth);

	conn_fail(c, "handshake_shed", ward_worker_shed_reason(why));
}

/* Inbound: the connection waits for its peer to authenticate. */
static void hold_unauthenticated(struct ward_conn *c)
{
	struct sockaddr_storage peer = {0};
	int len = sizeof(peer);

	uv_tcp_getpeername(&c->sock[CONN_DOWN].h.tcp, (struct sockaddr *)&peer, &len);
	ward_worker_hold_unauthenticated(c->worker, &c->unauth, &peer, on_shed);
}

/* --- relaying --- */

struct ward_end *conn_end(struct ward_conn *c, int side)
{
	int peer = c->dir == WARD_DIR_OUTBOUND ? CONN_UP : CONN_DOWN;

	if (c->h2 && side == peer)
		return &c->h2->base;
	return &c->end[side].base;
}

void conn_relay_start(struct ward_conn *c)
{
	static const enum ward_conn_mode_label label[] = {
	    [MODE_MTLS] = WARD_MODE_MTLS,
	    [MODE_PASSTHROUGH] = WARD_MODE_PASSTHROUGH,
	    [MODE_PLAINTEXT] = WARD_MODE_PLAINTEXT,
	    [MODE_TUNNEL] = WARD_MODE_TUNNEL,
	};
	struct ward_metrics_worker *m = &c->worker->stats;
	/* The app is down for outbound, up for inbound. */
	int app = c->dir == WARD_DIR_OUTBOUND ? CONN_DOWN : CONN_UP;
	size_t take = chunk_size(c) < TLS_RECORD_MAX ? TLS_RECORD_MAX : chunk_size(c);
	enum ward_relay_state st;

	c->phase = PHASE_RELAY;
	c->t_relay = uv_hrtime();
	ward_metric_add(&m->proxied[c->dir][label[c->mode]], 1);
	c->last_active_ms = uv_now(&c->worker->loop);
	ward_relay_init(&c->relay, conn_end(c, CONN_DOWN), conn_end(c, CONN_UP),
			c->worker->cfg->limits.buffer_bytes, take);
	c->relay.bytes[app] = &m->bytes[c->dir][WARD_FLOW_TO_PEER];
	c->relay.bytes[!app] = &m->bytes[c->dir][WARD_FLOW_FROM_PEER];
	/* What arrived early (with the handshake, or held by the permissive
	 * peek) moves first; each pump also starts its end reading. */
	st = ward_relay_pump(&c->relay, CONN_DOWN);
	if (st == WARD_RELAY_OPEN)
		st = ward_relay_pump(&c->relay, CONN_UP);
	conn_relay_next(c, st);
}

/* --- identity and policy after the handshake --- */

bool conn_authorize(struct ward_conn *c)
{
	const struct ward_config *cfg = c->worker->cfg;
	bool ok;
	json_t *f;

	if (c->dir == WARD_DIR_INBOUND)
		ok = ward_policy_inbound_allowed(cfg, c->local_port, c->peer_id);
	else
		ok = ward_policy_outbound_allowed(cfg, c->peer_id);
	if (ok)
		return true;
	ward_metric_add(&c->worker->stats.authz_denied[c->dir], 1);
	f = conn_fields(c);
	json_object_set_new(f, "reason", json_string("spiffe_id_denied"));
	log_limited(c, &c->worker->deny_log, WARD_LOG_WARN, "authz_denied", f);
	return false;
}

/* What to do about a peer that spoke plaintext: on the way out it is a
 * destination without a sidecar inside the mesh scope, which is refused,
 * never downgraded; on the way in, a client outside the mesh. */
static const char *plaintext_hint(const struct ward_conn *c)
{
	return c->dir == WARD_DIR_OUTBOUND
		   ? "a destination without a ward sidecar: if it is not meant to be meshed, "
		     "leave it out of outbound.mesh_cidrs (Kubernetes: the injector's mesh_cidrs) "
		     "or list its port in outbound.passthrough_ports"
		   : "a client outside the mesh: inbound.mode permissive accepts plaintext, or "
		     "leave the port out of capture (ward iptables --exclude-inbound-ports)";
}

static void handshake_failed(struct ward_conn *c, const char *reason, const char *detail)
{
	json_t *f = conn_fields(c);

	ward_metric_add(&c->worker->stats.handshakes[c->dir][1], 1);
	ward_metric_add(&c->worker->stats.handshake_errors[c->dir][ward_metrics_reason(reason)], 1);
	json_object_set_new(f, "reason", json_string(reason));
	json_object_set_new(f, "detail", json_string(detail));
	if (!strcmp(reason, "not_tls"))
		json_object_set_new(f, "hint", json_string(plaintext_hint(c)));
	log_limited(c, &c->worker->fail_log, WARD_LOG_WARN, "handshake_failed", f);
	/* An alert may be waiting (protocol_version, handshake_failure): send it
	 * before the reset so the peer can tell why. */
	if (c->tls.ssl && ward_end_tls_flush(&c->end[c->tls_side]) == 0 &&
	    c->sock[c->tls_side].queued > 0) {
		ward_conn_close(c, false);
		return;
	}
	ward_conn_close(c, true);
}

static void count_handshake(struct ward_conn *c)
{
	struct ward_metrics_worker *m = &c->worker->stats;
	WOLFSSL *ssl = c->tls.ssl;

	ward_metric_add(&m->handshakes[c->dir][0], 1);
	ward_hist_observe(&m->handshake_seconds[c->dir], c->t_handshake - c->t_tls);
	ward_metrics_negotiated(m, c->dir, wolfSSL_get_version(ssl), ward_tls_cipher(ssl),
				ward_tls_group(ssl));
	if (wolfSSL_session_reused(ssl))
		ward_metric_add(&m->resumed[c->dir], 1);
}

static void handshake_done(struct ward_conn *c)
{
	char id[WARD_SPIFFE_ID_MAX + 1];

	c->t_handshake = uv_hrtime();
	if (ward_tls_ctx_peer_id(c->tls.ssl, c->tls_ctx, id, sizeof(id)) < 0) {
		handshake_failed(c, "bad_svid", ward_err_msg());
		return;
	}
	c->peer_id = strdup(id);
	if (!c->peer_id) {
		conn_fail(c, "handshake_failed", "out of memory");
		return;
	}
	if (!conn_authorize(c)) {
		struct ward_metrics_worker *m = &c->worker->stats;

		ward_metric_add(&m->handshakes[c->dir][1], 1);
		ward_metric_add(&m->handshake_errors[c->dir][WARD_REASON_SPIFFE_ID_DENIED], 1);
		ward_conn_close(c, true);
		return;
	}
	count_handshake(c);
	uv_timer_stop(&c->timer);
	if (c->dir == WARD_DIR_INBOUND) {
		if (!admit(c))
			return;
		ward_stream_read_stop(&c->sock[c->tls_side]); /* until the app answers */
		conn_start_connect(c);
		return;
	}
	conn_arm_idle_timer(c);
	conn_relay_start(c);
}

static void plaintext_failed(struct ward_conn *c)
{
	char first[40], detail[160];

	snprintf(detail, sizeof(detail), "the %s sent plaintext, not TLS (first bytes \"%s\")",
		 c->dir == WARD_DIR_OUTBOUND ? "destination" : "client",
		 ward_tls_session_first_bytes(&c->tls, first, sizeof(first)));
	handshake_failed(c, "not_tls", detail);
}

static void handshake_input(struct ward_conn *c)
{
	int wolf_err = 0;
	int rc = ward_tls_session_handshake(&c->tls, &wolf_err);

	if (rc < 0 && rc != WARD_ERR_WOULDBLOCK && ward_tls_session_peer_plaintext(&c->tls)) {
		plaintext_failed(c);
		return;
	}
	if (rc == WARD_ERR_EOF) {
		handshake_failed(c, "peer_reset", ward_err_msg());
		return;
	}
	if (rc == WARD_ERR_TLS) {
		handshake_failed(c, ward_tls_failure_reason(c->tls.ssl, wolf_err), ward_err_msg());
		return;
	}
	if (ward_end_tls_flush(&c->end[c->tls_side]) < 0) {
		conn_fail(c, "handshake_failed", ward_err_msg());
		return;
	}
	if (rc == 0)
		handshake_done(c);
}

static int begin_tls(struct ward_conn *c, int side, enum ward_tls_role role)
{
	c->mode = MODE_MTLS;
	c->tls_side = side;
	c->t_tls = uv_hrtime();
	GUARD(ward_tls_ctx_session(c->tls_ctx, role, &c->tls));
	ward_end_tls_init(&c->end[side], &c->sock[side], &c->tls);
	c->phase = PHASE_HANDSHAKE;
	/* A strict inbound one keeps the deadline it got at accept. */
	if (!uv_is_active((uv_handle_t *)&c->timer))
		conn_arm_timer(c, c->worker->cfg->tls.handshake_timeout_ms, false);
	GUARD(ward_stream_read_start(&c->sock[side]));
	if (role == WARD_TLS_CLIENT)
		handshake_input(c); /* ClientHello */
	return 0;
}

/* --- the app, for inbound (app.h) --- */

/* Who called, for the app: the caller's address on the accepted socket, the
 * address it dialled, and what its TLS handshake proved. */
static int app_caller(struct ward_conn *c, struct ward_app_caller *out)
{
	int len = sizeof(out->src);

	memset(out, 0, sizeof(*out));
	out->dst = c->dst;
	out->peer_id = c->peer_id;
	if (c->mode == MODE_TUNNEL) /* the tunnel's peer and TLS (conn_tunnel.c) */
		return conn_tunnel_caller(c, out);
	ENSURE(uv_tcp_getpeername(&c->sock[CONN_DOWN].h.tcp, (struct sockaddr *)&out->src, &len) ==
		   0,
	       WARD_ERR_IO, "the caller's address is gone");
	if (c->tls.ssl) {
		out->tls_version = wolfSSL_get_version(c->tls.ssl);
		out->tls_cipher = ward_tls_cipher(c->tls.ssl);
		out->resumed = wolfSSL_session_reused(c->tls.ssl);
	}
	return 0;
}

/* Before the app's first byte: the PROXY v2 header on the ports that ask for
 * it, through the plain end, so it is queued and wiped like the stream. */
int conn_app_header(struct ward_conn *c)
{
	struct ward_app_caller caller;
	uint8_t *hdr;
	size_t len;

	if (c->dir != WARD_DIR_INBOUND || !c->app.proxy_header)
		return 0;
	GUARD(app_caller(c, &caller));
	GUARD(ward_app_proxy_header(&caller, &hdr, &len));
	return ward_end_put(&c->end[CONN_UP].base, hdr, len);
}

/* Refused by the app: try its other address with a new socket once this one
 * is closed (on_sock_closed); true when that is under way. */
static bool app_redial(struct ward_conn *c, int status)
{
	if (c->dir != WARD_DIR_INBOUND ||
	    ward_app_dial_failed(&c->app, &c->worker->app_memory, status) < 0)
		return false;
	c->redial = true;
	ward_stream_close(&c->sock[CONN_UP], false);
	return true;
}

/* --- upstream connect --- */

void conn_plain_end(struct ward_conn *c, int side)
{
	size_t limit = c->worker->cfg->limits.buffer_bytes;

	ward_end_plain_init(&c->end[side], &c->sock[side], limit + chunk_size(c));
}

static void on_connected(struct ward_stream *s, int status)
{
	struct ward_conn *c = s->owner;
	int rc = 0;

	if (c->phase == PHASE_CLOSING)
		return;
	if (status < 0) {
		if (!app_redial(c, status))
			conn_fail(c, "connect_failed",
				  c->dir == WARD_DIR_INBOUND ? ward_err_msg()
							     : uv_err_name(status));
		return;
	}
	c->t_connected = uv_hrtime();
	ward_hist_observe(&c->worker->stats.connect_seconds[c->dir], c->t_connected - c->t_connect);
	apply_sockopts(c, CONN_UP);
	uv_timer_stop(&c->timer);
	if (c->dir == WARD_DIR_OUTBOUND && c->mode == MODE_MTLS) {
		rc = begin_tls(c, CONN_UP, WARD_TLS_CLIENT);
	} else if (c->mode == MODE_TUNNEL) {
		ward_app_dial_connected(&c->app, &c->worker->app_memory, uv_now(&c->worker->loop));
		conn_tunnel_app_connected(c);
	} else {
		if (c->dir == WARD_DIR_INBOUND)
			ward_app_dial_connected(&c->app, &c->worker->app_memory,
						uv_now(&c->worker->loop));
		conn_plain_end(c, CONN_UP);
		rc = conn_app_header(c);
		conn_arm_idle_timer(c);
		if (rc == 0)
			conn_relay_start(c);
	}
	if (rc < 0)
		conn_fail(c, "relay_failed", ward_err_msg());
}

/* Outbound goes to the original destination; inbound to the app, where
 * app.h says (the pod IP first, loopback when the app is only there). The
 * proxy's uid is exempt from capture, so neither is redirected again. */
static int connect_upstream(struct ward_conn *c)
{
	struct ward_app_caller caller;
	struct sockaddr_storage to = c->dst;
	int fd;

	if (c->dir == WARD_DIR_INBOUND)
		ward_app_dial_target(&c->app, &to);
	GUARD(sock_init(c, CONN_UP, to.ss_family));
	fd = ward_stream_fd(&c->sock[CONN_UP]);
	if (c->dir == WARD_DIR_INBOUND && c->app.transparent) {
		GUARD(app_caller(c, &caller));
		GUARD(ward_app_dial_socket(&c->app, fd, &caller));
	}
	/* A source port no app is ever given (lib/ports.h); when none is free,
	 * the kernel's choice (the fail-closed rule still holds). */
	if (c->dir == WARD_DIR_OUTBOUND &&
	    ward_ports_bind(&c->worker->ports, &c->worker->port_cursor, fd, to.ss_family) < 0)
		ward_err_clear();
	/* TCP Fast Open: the first data rides on the SYN when the peer allows it
	 * (a ClientHello, for mesh traffic); harmless when it does not. Not
	 * towards the app: a deferred SYN would hide a refused connect. */
	if (c->worker->cfg->tcp.fastopen && c->dir == WARD_DIR_OUTBOUND)
		GUARD(ward_sockopt_fastopen_connect(fd));
	return ward_stream_connect(&c->sock[CONN_UP], (struct sockaddr *)&to);
}

void conn_start_connect(struct ward_conn *c)
{
	c->phase = PHASE_CONNECT;
	c->t_connect = uv_hrtime();
	conn_arm_timer(c, c->worker->cfg->limits.connect_timeout_ms, false);
	if (c->dir == WARD_DIR_INBOUND)
		ward_app_dial_init(&c->app, c->worker->cfg, &c->worker->app_memory, &c->dst,
				   uv_now(&c->worker->loop));
	if (connect_upstream(c) < 0)
		conn_fail(c, "connect_failed", ward_err_msg());
}

/* --- permissive inbound: TLS or plaintext, told apart by the first byte --- */

/* Inbound: the first bytes (or none, data NULL, at the deadline). The TLS
 * session is only made once the peer has spoken: a silent connection costs
 * no more than its socket. */
static void peek_input(struct ward_conn *c, uint8_t *data, size_t len)
{
	struct ward_stream *down = &c->sock[CONN_DOWN];
	bool strict = c->worker->cfg->inbound.mode == WARD_INBOUND_STRICT;
	int rc;

	if (strict && len == 0) {
		handshake_failed(c, "timeout", "no ClientHello within tls.handshake_timeout_ms");
		return;
	}
	/* A TLS connection opens with a handshake record, content type 22
	 * (RFC 8446 §5.1); no plaintext protocol we carry starts with 0x16. */
	if (strict || (len > 0 && data[0] == 0x16)) {
		if (!strict)
			uv_timer_stop(&c->timer); /* the handshake's deadline replaces the peek's */
		rc = begin_tls(c, CONN_DOWN, WARD_TLS_SERVER);
		if (rc == 0)
			rc = ward_tls_session_feed(&c->tls, data, len, down->read_size);
		else
			free(data);
		if (rc < 0)
			conn_fail(c, "handshake_failed", ward_err_msg());
		else
			handshake_input(c);
		return;
	}
	if (!admit(c)) {
		ward_stream_wipe_free(data, len);
		return;
	}
	c->mode = MODE_PLAINTEXT;
	ward_stream_read_stop(down);
	conn_plain_end(c, CONN_DOWN);
	/* The bytes held here are written once the app answers. */
	if (data && ward_end_feed(&c->end[CONN_DOWN].base, data, len, down->read_size) < 0) {
		conn_fail(c, "relay_failed", ward_err_msg());
		return;
	}
	conn_start_connect(c);
}

/* --- socket events, dispatched by phase --- */

static void on_sock_read(struct ward_stream *s, uint8_t *data, size_t len)
{
	struct ward_conn *c = s->owner;
	int side = side_of(c, s);

	c->last_active_ms = uv_now(&c->worker->loop);
	ward_budget_heard(&c->worker->budget, &c->unauth); /* a peer that speaks */
	switch (c->phase) {
	case PHASE_PEEK:
		peek_input(c, data, len);
		return;
	case PHASE_STREAM:
		conn_tunnel_early_read(c, data, len);
		return;
	case PHASE_HANDSHAKE:
		if (ward_tls_session_feed(&c->tls, data, len, s->read_size) < 0)
			conn_fail(c, "relay_failed", ward_err_msg());
		else
			handshake_input(c);
		return;
	case PHASE_RELAY:
		if (ward_end_feed(&c->end[side].base, data, len, s->read_size) < 0)
			conn_relay_next(c, WARD_RELAY_FAILED);
		else
			conn_relay_next(c, ward_relay_pump(&c->relay, side));
		return;
	case PHASE_CONNECT:
	case PHASE_CLOSING:
		break;
	}
	ward_stream_wipe_free(data, len);
}

static void on_sock_eof(struct ward_stream *s)
{
	struct ward_conn *c = s->owner;
	int side = side_of(c, s);

	if (c->phase == PHASE_HANDSHAKE && side == c->tls_side) {
		ward_tls_session_feed_eof(&c->tls);
		handshake_input(c);
	} else if (c->phase == PHASE_RELAY) {
		ward_end_feed_eof(&c->end[side].base);
		conn_relay_next(c, ward_relay_pump(&c->relay, side));
	} else if (c->phase == PHASE_STREAM) {
		conn_tunnel_early_eof(c);
	} else if (c->phase != PHASE_CLOSING) { /* peer gave up before we were through */
		conn_fail(c, "closed_early", "peer closed before the connection was set up");
	}
}

static void on_sock_error(struct ward_stream *s, int status)
{
	struct ward_conn *c = s->owner;

	if (c->phase == PHASE_CLOSING)
		return;
	if (status == UV_ECONNRESET || status == UV_EPIPE || status == UV_ECANCELED)
		ward_conn_close(c, true); /* the peer reset: carry it to the other side */
	else
		conn_fail(c, "socket_error", uv_err_name(status));
}

static void on_sock_drained(struct ward_stream *s)
{
	struct ward_conn *c = s->owner;

	if (c->phase == PHASE_RELAY)
		conn_relay_next(c, ward_relay_drained(&c->relay, side_of(c, s)));
}

static void on_sock_shut(struct ward_stream *s)
{
	struct ward_conn *c = s->owner;

	if (c->phase == PHASE_RELAY)
		conn_relay_next(c, ward_relay_state(&c->relay));
}

static const struct ward_stream_ops sock_ops = {
    .read = on_sock_read,
    .eof = on_sock_eof,
    .error = on_sock_error,
    .drained = on_sock_drained,
    .connected = on_connected,
    .shut = on_sock_shut,
    .closed = on_sock_closed,
};

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
		peek_input(c, NULL, 0); /* silent client: a server-first protocol */
		break;
	case PHASE_STREAM:
		conn_fail(c, "tunnel_failed", "no answer to the CONNECT in time");
		break;
	case PHASE_RELAY:
		if (uv_now(&c->worker->loop) - c->last_active_ms >= idle_ms) {
			ward_log(WARD_LOG_DEBUG, "idle_timeout", "{s:s}", "direction",
				 c->dir == WARD_DIR_OUTBOUND ? "outbound" : "inbound");
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
	int fd = ward_stream_fd(&c->sock[CONN_DOWN]);

	GUARD(ward_sockopt_original_dst(fd, &c->dst, &local));
	if (same_addr(&local, &c->dst))
		return ward_err_set(
		    WARD_ERR_INVALID,
		    "connection to the proxy port itself (not redirected by iptables)");
	return 0;
}

struct ward_conn *ward_conn_of(struct ward_list_node *node)
{
	return ward_list_entry(node, struct ward_conn, link);
}

struct ward_conn *conn_new(struct ward_worker *w, enum ward_dir dir)
{
	struct ward_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->worker = w;
	c->dir = dir;
	c->tls_side = -1;
	c->t_start = uv_hrtime();
	uv_timer_init(&w->loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 1;
	ward_list_add(&w->conns, &c->link);
	ward_metric_add(&w->stats.opened[dir], 1);
	return c;
}

static int route_outbound(struct ward_conn *c)
{
	const struct ward_config *cfg = c->worker->cfg;
	bool mesh = ward_config_in_mesh(cfg, (const struct sockaddr *)&c->dst) &&
		    !ward_config_is_passthrough_port(cfg, addr_port(&c->dst));

	int rc;

	c->mode = mesh ? MODE_MTLS : MODE_PASSTHROUGH;
	ENSURE(!mesh || c->tls_ctx, WARD_ERR_NOTREADY,
	       "no identity loaded yet: refusing mesh traffic");
	conn_plain_end(c, CONN_DOWN);
	if (mesh && cfg->outbound.tunnel != WARD_TUNNEL_NEVER &&
	    !ward_config_tunnel_excluded(cfg, addr_port(&c->dst))) {
		rc = conn_tunnel_outbound(c);
		if (rc != WARD_ERR_UNSUPPORTED)
			return rc;
	}
	conn_start_connect(c);
	return 0;
}

/* Both modes wait for the first bytes (peek_input): strict for up to
 * tls.handshake_timeout_ms, which then covers the handshake too. */
static int route_inbound(struct ward_conn *c)
{
	bool strict = c->worker->cfg->inbound.mode == WARD_INBOUND_STRICT;

	c->local_port = addr_port(&c->dst);
	ENSURE(!strict || c->tls_ctx, WARD_ERR_NOTREADY,
	       "no identity loaded yet: refusing mesh traffic");
	c->phase = PHASE_PEEK;
	conn_arm_timer(c, strict ? c->worker->cfg->tls.handshake_timeout_ms : PEEK_TIMEOUT_MS, false);
	return ward_stream_read_start(&c->sock[CONN_DOWN]);
}

void ward_conn_accept(struct ward_worker *w, uv_stream_t *listener, enum ward_dir dir)
{
	struct ward_conn *c = conn_new(w, dir);
	int rc;

	if (!c)
		return; /* left in the backlog; libuv offers it again */
	rc = sock_init(c, CONN_DOWN, AF_UNSPEC);
	if (rc == 0)
		rc = ward_stream_accept(&c->sock[CONN_DOWN], listener);
	if (rc < 0) {
		ward_conn_close(c, true);
		return;
	}
	if (dir == WARD_DIR_INBOUND)
		hold_unauthenticated(c);
	else if (!count_in(c))
		return;
	if (w->tls)
		c->tls_ctx = ward_tls_ctx_get(w->tls);
	/* TCP options came with the socket, from its listener (worker.c). */
	rc = original_destination(c);
	if (rc == 0)
		rc = dir == WARD_DIR_OUTBOUND ? route_outbound(c) : route_inbound(c);
	if (rc < 0)
		conn_fail(c, "conn_refused", ward_err_msg());
}
