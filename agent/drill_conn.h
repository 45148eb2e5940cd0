/* One TCP client connection of `ward drill` (its load, and its watch of
 * agents' admin endpoints), on the stream layer: exchanges, one at a time, of
 * a request for an answer, each with a deadline that covers the connect.
 *
 *   echo: the answer must be the request's bytes, exactly;
 *   http: the answer is one HTTP/1.1 response (lib/http_client.h); a status
 *         of 400 or more is WARD_DRILL_HTTP_STATUS.
 *
 * Every exchange ends with exactly one callback, never from inside the call
 * that started it. A failed exchange closes the connection (a broken one is
 * never reused); so does an HTTP response without keep-alive. After a
 * success the connection stays open for the next exchange. The owner's
 * own close (ward_drill_conn_close) ends an exchange under way without a
 * callback. `closed` runs once, after the handles closed: then the owner
 * frees nothing, the connection frees itself. */
#ifndef WARD_AGENT_DRILL_CONN_H
#define WARD_AGENT_DRILL_CONN_H

#include <uv.h>

#include "agent/drill.h"
#include "lib/buf.h"
#include "lib/http_client.h"
#include "lib/stream.h"

#define WARD_DRILL_BODY_MAX (4u << 20)

struct ward_drill_conn;

struct ward_drill_conn_ops {
	/* An exchange ended (why WARD_DRILL_OK, or the failure). For http,
	 * c->reply holds the response during the call. */
	void (*done)(struct ward_drill_conn *c, enum ward_drill_why why);
	/* The connection is gone; c is freed after this returns. */
	void (*closed)(struct ward_drill_conn *c);
};

struct ward_drill_conn {
	struct ward_stream sock;
	uv_timer_t deadline;
	const struct ward_drill_conn_ops *ops;
	void *owner;
	bool http;
	bool connected, busy, closing;
	int open_handles;
	uint8_t *pending; /* the request, written once connected */
	size_t pending_len;
	struct ward_buf sent; /* echo: what must come back */
	struct ward_buf got;
	struct ward_http_reply reply;
	char detail[160];	      /* the failure in words, for logs and errors */
	enum ward_drill_why late_why; /* a failure to report on the next turn */
};

/* A connection to `to`, connecting now; an exchange may start at once. */
int ward_drill_conn_new(uv_loop_t *loop, const struct ward_addr *to, bool http,
			const struct ward_drill_conn_ops *ops, void *owner,
			struct ward_drill_conn **out) WARD_MUST_CHECK;
/* Starts an exchange of request (malloc'd; taken on every path) within
 * timeout_ms. WARD_ERR_INVALID when one is under way or the connection is
 * closing (then no callback follows). */
int ward_drill_conn_exchange(struct ward_drill_conn *c, uint8_t *request, size_t len,
			     unsigned timeout_ms) WARD_MUST_CHECK;
/* Idempotent; `closed` follows. */
void ward_drill_conn_close(struct ward_drill_conn *c);

#endif
