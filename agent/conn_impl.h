/* Private to conn.c and conn_stats.c: a proxied connection's state. */
#ifndef WARD_CONN_IMPL_H
#define WARD_CONN_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/app.h"
#include "agent/conn.h"
#include "agent/end.h"
#include "agent/relay.h"
#include "agent/tls_ctx.h"
#include "lib/list.h"
#include "lib/stream.h"

enum conn_mode { MODE_MTLS, MODE_PASSTHROUGH, MODE_PLAINTEXT };
enum conn_phase { PHASE_CONNECT, PHASE_PEEK, PHASE_HANDSHAKE, PHASE_RELAY, PHASE_CLOSING };

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
	struct sockaddr_storage dst;  /* original destination */
	uint16_t local_port;	      /* inbound: the app port the peer asked for */
	struct ward_app_dial app;     /* inbound: how the app is reached, what it is told */
	bool redial;		      /* inbound: connect again once sock[CONN_UP] closed */
	struct ward_tls_ctx *tls_ctx; /* owned ref */
	char *peer_id;		      /* owned; verified SPIFFE ID */
	/* uv_hrtime() ns: accept, connect start/done, handshake start/done */
	uint64_t t_start, t_connect, t_connected, t_tls, t_handshake;
	uint64_t last_active_ms;
};

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
