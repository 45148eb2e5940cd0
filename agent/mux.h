/* A tunnel's HTTP/2 session and its CONNECT streams: HBONE as Istio ambient
 * defines it (RFC 9113 §8.5 plain CONNECT, one stream per app connection),
 * independent of the transport under it. The tunnel (tunnel.h) feeds it the
 * plaintext its TLS session decrypted and sends the blocks it hands out;
 * unit tests and the fuzz target wire two muxes together in memory.
 *
 * Client: ward_mux_connect opens a stream with
 *     :method CONNECT, :authority <original destination ip:port>,
 *     forwarded: for="<app's source ip:port>"
 * and the response's :status arrives as the end's `response` event.
 * Server: a CONNECT whose headers are well formed reaches ops->request; the
 * owner answers with ward_h2_end_respond (200 once its connection to the app
 * is up, or 401/403/503). A malformed one is answered 400 here.
 *
 * Each stream is a ward_end (end.h): DATA received waits in the end (at most
 * the stream's window, tunnel.stream_window_bytes) and is consumed from the
 * session's flow control only when the relay takes it, so a slow app holds
 * its own stream's window and no other (the connection's window covers
 * every stream's); END_STREAM is a half-close;
 * RST_STREAM both ways is a TCP reset (CONNECT_ERROR, §8.5).
 *
 * Events never run inside nghttp2: the session's callbacks only mark the
 * ends, and ward_mux_dispatch (called by ward_mux_recv and ward_mux_flush on
 * their way out) tells each end's owner. */
#ifndef WARD_AGENT_MUX_H
#define WARD_AGENT_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#include "agent/end.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/list.h"

#define WARD_MUX_ALPN "h2"
#define WARD_MUX_AUTHORITY_MAX 64 /* "[v6]:port" */

struct ward_mux;
struct ward_h2_end;

enum ward_mux_role { WARD_MUX_CLIENT, WARD_MUX_SERVER };

struct ward_mux_limits {
	uint32_t max_streams;	  /* concurrent streams, advertised and used */
	uint32_t max_header_list; /* bytes of one request's or response's headers */
	size_t stream_window;	  /* what a stream may receive before the relay takes it */
	size_t buffer_bytes;	  /* what a stream queues to send before the relay pauses */
	size_t out_high;	  /* transport bytes waiting that stop more output */
};

/* A CONNECT request the server side received, well formed. */
struct ward_mux_request {
	struct sockaddr_storage authority; /* the destination asked for */
	char authority_text[WARD_MUX_AUTHORITY_MAX];
	bool has_forwarded;
	struct sockaddr_storage forwarded_for; /* the app's source: log it, never trust it */
};

struct ward_mux_ops {
	/* Frames to send (borrowed: copied or encrypted before it returns;
	 * the caller wipes them after). */
	int (*send)(void *owner, const uint8_t *data, size_t len);
	/* Bytes handed to send and not yet written by the transport. */
	size_t (*queued)(void *owner);
	/* Something is ready to send: call ward_mux_flush before the loop
	 * sleeps (once per loop turn batches every stream's frames). */
	void (*dirty)(void *owner);
	/* Server: a CONNECT on e. The owner attaches e (ward_h2_end_attach)
	 * and responds, now or later; an end left unattached must be
	 * answered before this returns. */
	void (*request)(void *owner, struct ward_h2_end *e, const struct ward_mux_request *req);
	/* The peer sent GOAWAY: open no new stream here (may be NULL). */
	void (*goaway)(void *owner);
};

struct ward_mux {
	nghttp2_session *h2; /* owned */
	enum ward_mux_role role;
	const struct ward_mux_ops *ops;
	void *owner;
	struct ward_mux_limits lim;
	struct ward_list streams; /* struct ward_h2_end (link): every stream not yet closed */
	struct ward_list events;  /* struct ward_h2_end (ev_link): ends with news */
	struct ward_buf *staging; /* during a flush: where frames are gathered */
	bool dispatching;
	bool in_session;       /* inside nghttp2 (recv or send): no reentry */
	bool draining;	       /* we sent GOAWAY (or will): no new streams */
	bool goaway_received;  /* the peer did */
	bool failed;	       /* the session broke: close the transport */
	bool ev_goaway;	       /* goaway to tell the owner */
	bool drain_ping;       /* server: a PING is out; its ACK sends the last GOAWAY */
	uint64_t bad_requests; /* server: requests answered 400 here */
	uint64_t header_since; /* uv_hrtime() a header block began, 0 when none is open */
	size_t n_open;	       /* streams nghttp2 has not closed yet */
	uint64_t streams_total;
};

/* What the end's owner (a connection) hears, on the loop, never from
 * inside the session. */
struct ward_h2_end_events {
	/* Client: the response's :status (200: open; anything else: refused),
	 * or 0 when the stream ended before a response (see retryable). */
	void (*response)(void *owner, struct ward_h2_end *e, int status);
	/* DATA or END_STREAM arrived: take() has something. */
	void (*readable)(void *owner, struct ward_h2_end *e);
	/* queued() fell below the buffer limit, or END_STREAM went out. */
	void (*drained)(void *owner, struct ward_h2_end *e);
	/* The stream was reset (RST_STREAM, or its tunnel went away). */
	void (*reset)(void *owner, struct ward_h2_end *e);
};

struct ward_h2_end {
	struct ward_end base;
	/* borrowed: the session that holds it in its streams list (until the
	 * owner released it and nghttp2 closed it, or the session closed) */
	struct ward_mux *mux;
	int32_t id; /* stream id; 0 before it is submitted */
	struct ward_list_node link, ev_link;
	unsigned pending; /* events not yet dispatched */
	const struct ward_h2_end_events *ev;
	void *owner;	    /* the connection; NULL while none is attached */
	struct ward_buf in; /* DATA received, not taken; bounded by the window */
	/* put, not yet framed: the relay's blocks as they came (no copy) */
	struct ward_h2_block *out_head, *out_tail;
	size_t out_len;
	size_t limit; /* buffer_bytes: queued() at which the relay pauses */
	uint32_t header_bytes;
	int status;	/* the response's :status (client) or ours (server) */
	bool in_eof;	/* END_STREAM received */
	bool out_eof;	/* finish() called */
	bool eos_sent;	/* our END_STREAM left */
	bool deferred;	/* the data provider waits for put() */
	bool was_full;	/* queued reached the limit: tell drained */
	bool reset;	/* RST_STREAM either way, or the tunnel went away */
	bool closed;	/* nghttp2 closed the stream */
	bool retryable; /* client: refused before the server processed it */
	bool responded; /* server: a response was submitted; client: one arrived */
	bool released;	/* the owner let go */
	/* Server, request headers as they arrive. */
	bool is_connect, bad_request, has_authority;
	struct ward_mux_request req;
	uint64_t t_open; /* uv_hrtime() at submit (client) or first header (server) */
	/* Client, while it waits for a tunnel to open (pool.h, tunnel.h). */
	char authority[WARD_MUX_AUTHORITY_MAX];
	char forwarded[WARD_MUX_AUTHORITY_MAX];
	struct ward_list *wait_list; /* borrowed: the list wait_link is on, or NULL */
	struct ward_list_node wait_link;
	bool fallback;	   /* no tunnel at the destination: go direct */
	unsigned attempts; /* tunnels tried */
};

/* A session in role with limits; its SETTINGS are queued (flush to send). */
int ward_mux_init(struct ward_mux *m, enum ward_mux_role role, const struct ward_mux_limits *lim,
		  const struct ward_mux_ops *ops, void *owner) WARD_MUST_CHECK;
/* Plaintext from the transport. WARD_ERR_INVALID etc. when the peer broke
 * the protocol: flush (the GOAWAY), then close. Events are dispatched. */
int ward_mux_recv(struct ward_mux *m, const uint8_t *data, size_t len) WARD_MUST_CHECK;
/* Hands the session's frames to ops->send while ops->queued is below
 * out_high, then dispatches events. */
int ward_mux_flush(struct ward_mux *m) WARD_MUST_CHECK;
/* Sends what is ready now, without dispatching events: for a stream that
 * has filled its send buffer, so that its data leaves at once rather than
 * at the end of the loop turn (while its app's socket would be paused and
 * resumed for every read). Does nothing inside the session. */
void ward_mux_push(struct ward_mux *m);
/* Tells the owners of ends with news. Safe to call any time outside it. */
void ward_mux_dispatch(struct ward_mux *m);
/* No new streams: GOAWAY (a server first announces it, RFC 9113 §6.8, and
 * streams in flight finish). Safe to call more than once. */
void ward_mux_drain(struct ward_mux *m);
/* Streams open or being opened. */
size_t ward_mux_streams(const struct ward_mux *m);
/* Client: another stream may be opened here now. */
bool ward_mux_can_open(const struct ward_mux *m);
/* Neither side has more to say: close the transport once flushed. */
bool ward_mux_finished(const struct ward_mux *m);
/* Tears the session down: every end still on it gets `reset` (or a client
 * end awaiting its response, `response` 0), unowned ones are freed. The
 * struct may be freed after. Safe to call twice. */
void ward_mux_close(struct ward_mux *m);

/* The first for= of a Forwarded header value (RFC 7239): "ip:port",
 * "[v6]:port" or a bare address (port 0). */
bool ward_mux_parse_forwarded(const uint8_t *v, size_t len, struct sockaddr_storage *out);

/* --- the stream end (end_h2.c) --- */

/* A fresh client end for a connection (owner), not yet on a tunnel. */
struct ward_h2_end *ward_h2_end_new(size_t buffer_bytes, const struct ward_h2_end_events *ev,
				    void *owner);
/* Client: opens the stream on m. authority and forwarded are
 * "ip:port"-style texts (forwarded may be NULL). */
int ward_mux_connect(struct ward_mux *m, struct ward_h2_end *e, const char *authority,
		     const char *forwarded) WARD_MUST_CHECK;
/* Client: the end waits on list (a tunnel still opening) for ward_mux_connect;
 * off any other list and any session that refused it first, so an end is on
 * one list at most. */
void ward_h2_end_wait(struct ward_h2_end *e, struct ward_list *list);
/* Client: the end will get no response from any tunnel (the one it waited
 * for failed): `response` 0 now, with fallback set when the destination has
 * no tunnel and the connection should go direct. Not from inside a session. */
void ward_h2_end_unanswered(struct ward_h2_end *e, bool fallback);
/* Server: owner takes the end ops->request offered. */
void ward_h2_end_attach(struct ward_h2_end *e, const struct ward_h2_end_events *ev, void *owner);
/* Server: the response. 200 opens the stream both ways; any other status
 * ends it (with END_STREAM, then RST_STREAM NO_ERROR, RFC 9113 §8.1). */
int ward_h2_end_respond(struct ward_h2_end *e, int status) WARD_MUST_CHECK;
/* The owner lets go: a stream not yet closed is reset (CONNECT_ERROR when
 * reset, for a TCP reset, else CANCEL); the end is freed once its session
 * has let go too. Safe with NULL. */
void ward_h2_end_release(struct ward_h2_end *e, bool reset);

/* Session internals shared by mux.c and end_h2.c. */
void ward_h2_end_event(struct ward_h2_end *e, unsigned ev);
nghttp2_data_provider ward_h2_end_provider(struct ward_h2_end *e);
/* nghttp2's send_data callback: a DATA frame of e's (source) into the
 * flush's staging buffer, header and payload, the payload copied once. */
int ward_h2_end_send_data(nghttp2_session *h2, nghttp2_frame *frame, const uint8_t *framehd,
			  size_t length, nghttp2_data_source *source, void *user);
void ward_h2_end_closed(struct ward_h2_end *e, uint32_t error_code);
void ward_h2_end_free(struct ward_h2_end *e);
/* Frees of ends wait while a dispatch runs (its loop may still hold them). */
void ward_h2_dispatch_enter(void);
void ward_h2_dispatch_leave(void);
#define WARD_H2_EV_RESPONSE 1u
#define WARD_H2_EV_READABLE 2u
#define WARD_H2_EV_DRAINED 4u
#define WARD_H2_EV_RESET 8u

#endif
