/* Private to conn.c and conn_stats.c: a proxied connection's state. */
#ifndef WARD_CONN_IMPL_H
#define WARD_CONN_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/app.h"
#include "agent/conn.h"
#include "agent/end.h"
#include "agent/mux.h"
#include "agent/relay.h"
#include "agent/tls_ctx.h"
#include "lib/budget.h"
#include "lib/list.h"
#include "lib/stream.h"

enum conn_mode { MODE_MTLS, MODE_PASSTHROUGH, MODE_PLAINTEXT, MODE_TUNNEL };
/* PHASE_STREAM: outbound through the tunnel, waiting for the CONNECT's 200
 * (the app's first bytes are read and held meanwhile). */
enum conn_phase {
	PHASE_CONNECT,
	PHASE_PEEK,
	PHASE_HANDSHAKE,
	PHASE_STREAM,
	PHASE_RELAY,
	PHASE_CLOSING
};

/* Which socket is which: [CONN_DOWN] the one we accepted, [CONN_UP] the one
 * we opened; the relay's end[i] sits on sock[i]. */
enum { CONN_DOWN = 0, CONN_UP = 1 };

struct ward_conn {
	struct ward_worker *worker;
	struct ward_list_node link; /* in the worker's list */
	enum ward_dir dir;
	enum conn_mode mode;
	enum conn_phase phase;
	struct ward_stream sock[2];  /* owned; closed by ward_conn_close */
	struct ward_sock_end end[2]; /* what the relay moves bytes between */
	int tls_side;		     /* CONN_DOWN or CONN_UP when MODE_MTLS, else -1 */
	struct ward_tls_session tls; /* owned */
	struct ward_relay relay;
	uv_timer_t timer; /* connect / handshake / idle deadline */
	int handles_open;
	/* Inbound, until the peer is authenticated (or admitted as permissive
	 * plaintext): a slot of the worker's budget. From then on (outbound: from
	 * accept) counted in limits.max_connections. */
	struct ward_budget_slot unauth;
	bool counted;
	struct sockaddr_storage dst;  /* original destination */
	uint16_t local_port;	      /* inbound: the app port the peer asked for */
	struct ward_app_dial app;     /* inbound: how the app is reached, what it is told */
	bool redial;		      /* inbound: connect again once sock[CONN_UP] closed */
	struct ward_tls_ctx *tls_ctx; /* owned ref */
	char *peer_id;		      /* owned; verified SPIFFE ID */
	/* uv_hrtime() ns: accept, connect start/done, handshake start/done */
	uint64_t t_start, t_connect, t_connected, t_tls, t_handshake, t_relay;
	uint64_t last_active_ms;
	/* MODE_TUNNEL: the stream end in place of the peer-facing socket */
	struct ward_h2_end *h2;	     /* released (not freed) by ward_conn_close */
	struct sockaddr_storage src; /* the app's source (outbound: the accepted peer;
					inbound: Forwarded, logged only) */
	struct {
		uint64_t id;			      /* the tunnel connection, for logs */
		const char *version, *cipher, *group; /* static strings */
		double handshake_ms;
		struct sockaddr_storage peer; /* the tunnel connection's peer address */
		uint64_t t_request;	      /* uv_hrtime() the CONNECT was asked for */
		bool counted;		      /* in ward_tunnel_streams_active */
		int status;
	} tun;
};

/* conn.c, for conn_tunnel.c */
struct ward_conn *conn_new(struct ward_worker *w, enum ward_dir dir);
void conn_fail(struct ward_conn *c, const char *event, const char *reason);
void conn_start_connect(struct ward_conn *c);
void conn_relay_start(struct ward_conn *c);
void conn_relay_next(struct ward_conn *c, enum ward_relay_state st);
void conn_plain_end(struct ward_conn *c, int side);
/* Counts c against limits.max_connections (undone at release); false, and
 * counted as refused, when that is full: the caller refuses c its own way. */
bool conn_count_in(struct ward_conn *c);
void conn_arm_timer(struct ward_conn *c, uint64_t ms, bool repeat);
void conn_arm_idle_timer(struct ward_conn *c);
/* The ID policy on c->peer_id; false when denied (counted and logged). */
bool conn_authorize(struct ward_conn *c);
/* The relay's end i: a socket end, or the stream end on the peer side. */
struct ward_end *conn_end(struct ward_conn *c, int side);

/* The PROXY v2 header for the app (inbound.proxy_protocol_ports), through
 * the plain end before the first byte. */
int conn_app_header(struct ward_conn *c) WARD_MUST_CHECK;

/* conn_tunnel.c: the connection's side of the tunnel (tunnel.h). */
/* Who called, for the app (app.h): the tunnel connection's peer address
 * (with the port the Forwarded header gave for that same address: the app's
 * own, in the peer pod), the tunnel's TLS; never an identity. */
int conn_tunnel_caller(struct ward_conn *c, struct ward_app_caller *out) WARD_MUST_CHECK;
/* Outbound mesh traffic: a stream through the tunnel, or direct (0: under
 * way; the caller goes direct on WARD_ERR_UNSUPPORTED). */
int conn_tunnel_outbound(struct ward_conn *c) WARD_MUST_CHECK;
/* Inbound: the app answered (open the stream) or not (503). */
void conn_tunnel_app_connected(struct ward_conn *c);
/* ward_conn_close's part: answer a stream still unanswered, let go of it. */
void conn_tunnel_close(struct ward_conn *c, bool reset);
/* Bytes the app sent before the 200, held until it comes. */
void conn_tunnel_early_read(struct ward_conn *c, uint8_t *data, size_t len);
void conn_tunnel_early_eof(struct ward_conn *c);

/* conn_stats.c: what a connection shows the logs, the admin endpoint and the
 * metrics. */
/* direction, dst, peer_id, local_id: the fields of every connection log line */
json_t *conn_fields(const struct ward_conn *c);
const char *conn_mode_name(const struct ward_conn *c);
/* Plaintext bytes the app sent to the peer, and received from it. */
uint64_t conn_bytes_to_peer(const struct ward_conn *c);
uint64_t conn_bytes_from_peer(const struct ward_conn *c);
/* Inbound, once the app was dialled: what the app was told, as o's "app". */
void conn_set_app(const struct ward_conn *c, json_t *o);
/* The kernel's last word on the peer-facing socket, into the metrics. */
void conn_count_tcp_info(struct ward_conn *c);

#endif
