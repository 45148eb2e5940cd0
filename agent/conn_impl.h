/* Private to conn.c and relay.c: the connection's state. */
#ifndef WARD_CONN_IMPL_H
#define WARD_CONN_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/conn.h"
#include "agent/tls_ctx.h"

enum conn_mode { MODE_MTLS, MODE_PASSTHROUGH, MODE_PLAINTEXT };
enum conn_phase { PHASE_CONNECT, PHASE_PEEK, PHASE_HANDSHAKE, PHASE_RELAY, PHASE_CLOSING };

struct conn_side {
	uv_tcp_t tcp;
	struct ward_conn *conn;
	size_t queued; /* bytes handed to uv_write and not yet completed */
	bool open;     /* tcp initialised: needs uv_close */
	bool reading;
	bool eof;	/* this socket sent us FIN (or TLS close_notify) */
	bool shut;	/* we asked for shutdown(SHUT_WR) on this socket */
	bool shut_done; /* ... and it completed */
};

struct ward_conn {
	struct ward_worker *worker;
	struct ward_conn *prev, *next; /* worker's list */
	enum ward_dir dir;
	enum conn_mode mode;
	enum conn_phase phase;
	struct conn_side down, up;
	struct conn_side *tls_side; /* NULL unless MODE_MTLS */
	uv_connect_t connect_req;
	uv_timer_t timer; /* connect / handshake / idle deadline */
	int handles_open;
	struct sockaddr_storage dst;  /* original destination */
	uint16_t local_port;	      /* inbound: the app port the peer asked for */
	struct ward_tls_ctx *tls_ctx; /* owned ref */
	WOLFSSL *ssl;		      /* owned */
	struct ward_tls_io io;
	bool notify_sent;			 /* our close_notify went out */
	char *peer_id;				 /* owned; verified SPIFFE ID */
	uint64_t bytes_from_peer, bytes_to_peer; /* plaintext, app's view */
	/* uv_hrtime() ns: accept, connect start/done, handshake start/done */
	uint64_t t_start, t_connect, t_connected, t_tls, t_handshake;
	uint64_t last_active_ms;
};

/* relay.c */
int relay_start(struct ward_conn *c) WARD_MUST_CHECK;
void relay_tls_input(struct ward_conn *c);
int relay_flush_tls(struct ward_conn *c) WARD_MUST_CHECK;
void relay_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void relay_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
bool relay_finished(const struct ward_conn *c);

/* conn.c */
void conn_handshake_input(struct ward_conn *c);
void conn_peek_input(struct ward_conn *c, const uint8_t *data, size_t len);
void conn_fail(struct ward_conn *c, const char *event, const char *reason);
struct conn_side *conn_peer_side(struct ward_conn *c);
int conn_side_fd(struct conn_side *s);
const char *conn_mode_name(const struct ward_conn *c);
/* direction, dst, peer_id, local_id: the fields of every connection log line */
json_t *conn_fields(const struct ward_conn *c);

/* conn_stats.c */
void conn_count_tcp_info(struct ward_conn *c);

static inline struct conn_side *conn_other(struct ward_conn *c, struct conn_side *s)
{
	return s == &c->down ? &c->up : &c->down;
}

#endif
