/* Private to spiffe/wl_server.c (listener and connections) and
 * spiffe/wl_stream.c (the HTTP/2 session and its gRPC streams). */
#ifndef WARD_SPIFFE_WL_SERVER_IMPL_H
#define WARD_SPIFFE_WL_SERVER_IMPL_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

#include "spiffe/grpc.h"
#include "lib/budget.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/trim.h"
#include "lib/stream.h"
#include "server/wl_server.h"

#define WL_MAX_STREAMS 100	   /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define WL_MAX_REQUEST (64 * 1024) /* a request message; X509SVIDRequest is empty */
#define WL_WRITE_HIGH (64 * 1024)  /* stop reading a peer that does not read */
#define WL_WRITE_LOW (16 * 1024)

struct wl_stream {
	int32_t id;
	struct wl_conn *conn;
	struct wl_stream *next; /* in conn->streams */
	/* Request headers as they arrive. */
	int method; /* enum ward_wl_method, -1 unknown, -2 known but unimplemented */
	bool post, grpc_content_type, security_header;
	char path[96]; /* for the Unimplemented message */
	struct ward_grpc_reader request;
	bool started;		  /* the call was dispatched (once) */
	bool responded;		  /* response HEADERS submitted */
	bool ended;		  /* status decided; trailers submitted or pending */
	void *call;		  /* the service's state; NULL until opened */
	struct ward_buf out;	  /* the message being sent (framed) */
	struct ward_buf next_msg; /* the newest message waiting, if any */
	uint8_t digest[32];	  /* of the last message queued: skip unchanged states */
	struct ward_wl_status end;
	bool deferred; /* the data provider is waiting for data */
	/* Delivery (ward_wl_server_delivery): the state generation of each
	 * message on its way, and where the last whole one ends in the
	 * connection's output. */
	uint64_t out_gen, next_gen; /* of out and next_msg */
	uint64_t done_gen;	    /* the last message nghttp2 took in full */
	bool done_unplaced;	    /* ... in the flush under way: done_end follows */
	uint64_t done_end;	    /* conn->out_total once its last byte was handed over */
};

struct wl_conn {
	struct ward_stream sock;
	struct ward_wl_server *srv;
	struct ward_list_node link; /* in srv->conns */
	nghttp2_session *h2;
	struct ward_attest_creds creds;
	bool have_creds;
	struct wl_stream *streams;
	bool closing;
	uint64_t out_total; /* bytes handed to the socket; minus sock.queued: written */
	/* wl_limits.c */
	struct ward_budget_slot pending; /* until a call is granted */
	unsigned calls;			 /* granted calls open */
	uint64_t idle_since_ms;		 /* uv_now() when the last call ended, or accept */
	uint64_t wrote_ms;		 /* uv_now() when the peer last took output */
};

struct ward_wl_server {
	uv_loop_t *loop;
	struct ward_unix_listener listener;
	const struct ward_wl_ops *ops;
	void *arg;
	struct ward_list conns; /* struct wl_conn, link */
	bool stopping;
	uint64_t gen; /* of the state: bumped by each refresh */
	/* wl_limits.c */
	struct ward_wl_limits limits;
	struct ward_budget pending;
	struct ward_budget_counts pending_counts;
	uv_timer_t sweep; /* closes idle and stalled connections, trims memory */
	bool sweep_open;
	struct ward_log_limit shed_log;
	struct ward_trim trim;
};

/* wl_stream.c */
int wl_session_new(struct wl_conn *c) WARD_MUST_CHECK;
/* Rebuilds the stream's message; queues it if it changed. */
void wl_stream_refresh(struct wl_stream *st);
/* Ends a stream with a status (trailers, or Trailers-Only). */
void wl_stream_end(struct wl_stream *st, int code, const char *message);
void wl_stream_free(struct wl_stream *st);
/* After a flush: places the messages it finished at c->out_total. */
void wl_conn_place_sent(struct wl_conn *c);

/* wl_server.c */
/* Hands nghttp2's pending output to the socket, within the write limit. */
void wl_conn_flush(struct wl_conn *c);
/* The one teardown of a connection. Never called from inside nghttp2. */
void wl_conn_close(struct wl_conn *c);
void wl_server_maybe_free(struct ward_wl_server *srv);

/* wl_limits.c: the limits. */
void wl_limits_init(struct ward_wl_server *srv);
void wl_limits_stop(struct ward_wl_server *srv);
/* Room for a new connection (its creds read): false means refuse it. */
bool wl_limits_admit(struct wl_conn *c);
/* The peer took some of the output waiting for it (or none was waiting). */
void wl_limits_wrote(struct wl_conn *c);
/* A call on c was granted / one granted call ended. */
void wl_limits_granted(struct wl_conn *c);
void wl_limits_call_ended(struct wl_conn *c);
/* c is closing: its pending slot is given back. */
void wl_limits_release(struct wl_conn *c);

#endif
