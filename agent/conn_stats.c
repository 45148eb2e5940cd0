/* What a connection shows the admin endpoint and the metrics: its
 * description for /stats/connections and the kernel's TCP_INFO at close. */
#include <netinet/tcp.h>

#include "agent/conn_impl.h"
#include "lib/sockopt.h"

static const char *tcp_state_name(uint8_t state)
{
	static const char *const names[] = {"unknown",	  "established", "syn_sent",  "syn_recv",
					    "fin_wait1",  "fin_wait2",	 "time_wait", "close",
					    "close_wait", "last_ack",	 "listen",    "closing"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

/* The kernel's view of the peer-facing socket (RTTs in microseconds). */
static json_t *tcp_json(struct conn_side *s)
{
	struct tcp_info ti;
	char cc[32] = "";
	socklen_t len = sizeof(cc) - 1;
	int fd;

	if (!s || !s->open)
		return json_null();
	fd = conn_side_fd(s);
	if (ward_sockopt_tcp_info(fd, &ti) < 0)
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
	struct conn_side *s = conn_peer_side(c);
	struct sockaddr_storage local = {0}, peer = {0};
	int len = sizeof(local);
	json_t *o = conn_fields(c);

	if (!o)
		return NULL;
	if (s && s->open) {
		uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&local, &len);
		len = sizeof(peer);
		uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&peer, &len);
	}
	set_addr(o, "local", &local);
	set_addr(o, "peer", &peer);
	json_object_set_new(o, "mode", json_string(conn_mode_name(c)));
	json_object_set_new(o, "phase", json_string(phase_name(c->phase)));
	json_object_set_new(o, "worker", json_integer(c->worker->id));
	json_object_set_new(o, "age_s", json_real((double)(now_ns - c->t_start) / 1e9));
	json_object_set_new(o, "bytes_to_peer", json_integer((json_int_t)c->bytes_to_peer));
	json_object_set_new(o, "bytes_from_peer", json_integer((json_int_t)c->bytes_from_peer));
	if (c->ssl && c->t_handshake) {
		json_object_set_new(o, "tls_version", json_string(wolfSSL_get_version(c->ssl)));
		json_object_set_new(o, "cipher", json_string(ward_tls_cipher(c->ssl)));
		json_object_set_new(o, "group", json_string(ward_tls_group(c->ssl)));
		json_object_set_new(o, "resumed", json_boolean(wolfSSL_session_reused(c->ssl)));
	}
	json_object_set_new(o, "tcp", tcp_json(s));
	return o;
}

/* The kernel's last word on the peer-facing socket. */
void conn_count_tcp_info(struct ward_conn *c)
{
	struct conn_side *s = conn_peer_side(c);
	struct tcp_info ti;

	if (!s || !s->open || ward_sockopt_tcp_info(conn_side_fd(s), &ti) < 0 || ti.tcpi_rtt == 0)
		return;
	ward_hist_observe(&c->worker->stats.rtt_seconds[c->dir], (uint64_t)ti.tcpi_rtt * 1000);
	ward_metric_add(&c->worker->stats.retransmits[c->dir], ti.tcpi_total_retrans);
}
