/* What a connection shows: the fields of its log lines, its description for
 * /stats/connections, and the kernel's TCP_INFO at close. */
#include <netinet/tcp.h>

#include "agent/conn_impl.h"
#include "lib/sockopt.h"

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

const char *conn_mode_name(const struct ward_conn *c)
{
	return c->mode == MODE_MTLS	     ? "mtls"
	       : c->mode == MODE_PASSTHROUGH ? "passthrough"
					     : "plaintext";
}

/* The app is the accepted socket for outbound, the one we opened for inbound. */
static int app_side(const struct ward_conn *c)
{
	return c->dir == WARD_DIR_OUTBOUND ? CONN_DOWN : CONN_UP;
}

uint64_t conn_bytes_to_peer(const struct ward_conn *c)
{
	return c->relay.moved[app_side(c)];
}

uint64_t conn_bytes_from_peer(const struct ward_conn *c)
{
	return c->relay.moved[!app_side(c)];
}

/* The socket that crosses the network: upstream for outbound, the accepted
 * one for inbound. NULL before an outbound connect completes. */
static const struct ward_stream *peer_sock(const struct ward_conn *c)
{
	if (c->dir == WARD_DIR_INBOUND)
		return &c->sock[CONN_DOWN];
	return c->t_connected ? &c->sock[CONN_UP] : NULL;
}

static const char *tcp_state_name(uint8_t state)
{
	static const char *const names[] = {"unknown",	  "established", "syn_sent",  "syn_recv",
					    "fin_wait1",  "fin_wait2",	 "time_wait", "close",
					    "close_wait", "last_ack",	 "listen",    "closing"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

/* The kernel's view of the peer-facing socket (RTTs in microseconds). */
static json_t *tcp_json(const struct ward_stream *s)
{
	struct tcp_info ti;
	char cc[32] = "";
	socklen_t len = sizeof(cc) - 1;
	int fd = s ? ward_stream_fd(s) : -1;

	if (fd < 0 || ward_sockopt_tcp_info(fd, &ti) < 0)
		return json_null();
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) < 0)
		cc[0] = '\0';
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:s}", "state", tcp_state_name(ti.tcpi_state),
			 "rtt_us", (json_int_t)ti.tcpi_rtt, "rttvar_us", (json_int_t)ti.tcpi_rttvar,
			 "snd_cwnd", (json_int_t)ti.tcpi_snd_cwnd, "retransmits",
			 (json_int_t)ti.tcpi_total_retrans, "unacked", (json_int_t)ti.tcpi_unacked,
			 "congestion", cc);
}

static void set_addr(json_t *o, const char *key, const struct sockaddr_storage *ss)
{
	char text[64];

	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		json_object_set_new(
		    o, key,
		    json_string(ward_addr_format((const struct sockaddr *)ss, text, sizeof(text))));
}

static const char *phase_name(enum conn_phase p)
{
	static const char *const names[] = {"connect", "peek", "handshake", "relay", "closing"};

	return names[p];
}

json_t *ward_conn_describe(struct ward_conn *c, uint64_t now_ns)
{
	const struct ward_stream *s = peer_sock(c);
	struct sockaddr_storage local = {0}, peer = {0};
	int len = sizeof(local);
	json_t *o = conn_fields(c);
	WOLFSSL *ssl = c->tls.ssl;

	if (!o)
		return NULL;
	if (s && s->open) {
		uv_tcp_getsockname(&s->h.tcp, (struct sockaddr *)&local, &len);
		len = sizeof(peer);
		uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *)&peer, &len);
	}
	set_addr(o, "local", &local);
	set_addr(o, "peer", &peer);
	json_object_set_new(o, "mode", json_string(conn_mode_name(c)));
	json_object_set_new(o, "phase", json_string(phase_name(c->phase)));
	json_object_set_new(o, "worker", json_integer(c->worker->id));
	json_object_set_new(o, "age_s", json_real((double)(now_ns - c->t_start) / 1e9));
	json_object_set_new(o, "bytes_to_peer", json_integer((json_int_t)conn_bytes_to_peer(c)));
	json_object_set_new(o, "bytes_from_peer",
			    json_integer((json_int_t)conn_bytes_from_peer(c)));
	if (ssl && c->t_handshake) {
		json_object_set_new(o, "tls_version", json_string(wolfSSL_get_version(ssl)));
		json_object_set_new(o, "cipher", json_string(ward_tls_cipher(ssl)));
		json_object_set_new(o, "group", json_string(ward_tls_group(ssl)));
		json_object_set_new(o, "resumed", json_boolean(wolfSSL_session_reused(ssl)));
	}
	conn_set_app(c, o);
	json_object_set_new(o, "tcp", tcp_json(s));
	return o;
}

void conn_set_app(const struct ward_conn *c, json_t *o)
{
	json_t *app;

	if (c->dir != WARD_DIR_INBOUND || !c->t_connect)
		return;
	app = ward_app_describe(&c->app, c->t_connected ? ward_stream_fd(&c->sock[CONN_UP]) : -1);
	if (app)
		json_object_set_new(o, "app", app);
}

void conn_count_tcp_info(struct ward_conn *c)
{
	const struct ward_stream *s = peer_sock(c);
	struct tcp_info ti;
	int fd = s ? ward_stream_fd(s) : -1;

	if (fd < 0 || ward_sockopt_tcp_info(fd, &ti) < 0 || ti.tcpi_rtt == 0)
		return;
	ward_hist_observe(&c->worker->stats.rtt_seconds[c->dir], (uint64_t)ti.tcpi_rtt * 1000);
	ward_metric_add(&c->worker->stats.retransmits[c->dir], ti.tcpi_total_retrans);
}
