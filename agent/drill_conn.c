/* A drill client connection; see drill_conn.h. */
#include "agent/drill_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE (16 * 1024)

static void quiet_done(struct ward_drill_conn *c, enum ward_drill_why why)
{
}

static void quiet_closed(struct ward_drill_conn *c)
{
}

static const struct ward_drill_conn_ops silent = {quiet_done, quiet_closed};

static void release(struct ward_drill_conn *c)
{
	if (--c->open_handles > 0)
		return;
	c->ops->closed(c);
	free(c->pending);
	ward_buf_drop(&c->sent);
	ward_buf_drop(&c->got);
	ward_http_reply_free(&c->reply);
	free(c);
}

static void on_sock_closed(struct ward_stream *s)
{
	release(s->owner);
}

static void on_timer_closed(uv_handle_t *h)
{
	release(h->data);
}

void ward_drill_conn_close(struct ward_drill_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->busy = false;
	uv_timer_stop(&c->deadline);
	uv_close((uv_handle_t *)&c->deadline, on_timer_closed);
	/* A FIN, as an application closes: the mesh carries the close through. */
	ward_stream_close(&c->sock, false);
}

/* The exchange under way ends: the callback, then (unless it may be reused)
 * the close. The callback may close the connection or start the next
 * exchange. */
static void end(struct ward_drill_conn *c, enum ward_drill_why why, const char *detail)
{
	bool reuse = why == WARD_DRILL_OK && (!c->http || c->reply.keep_alive);

	if (!c->busy || c->closing)
		return;
	c->busy = false;
	uv_timer_stop(&c->deadline);
	snprintf(c->detail, sizeof(c->detail), "%s", detail ? detail : "");
	c->ops->done(c, why);
	if (!reuse && !c->busy)
		ward_drill_conn_close(c);
}

static void on_deadline(uv_timer_t *t)
{
	struct ward_drill_conn *c = t->data;

	if (c->late_why != WARD_DRILL_OK)
		return end(c, c->late_why, c->detail);
	end(c, c->connected ? WARD_DRILL_TIMEOUT : WARD_DRILL_CONNECT_TIMEOUT, "no answer in time");
}

/* A failure found while starting an exchange is told on the next loop turn,
 * as the contract promises. */
static void fail_later(struct ward_drill_conn *c, enum ward_drill_why why, const char *detail)
{
	c->late_why = why;
	snprintf(c->detail, sizeof(c->detail), "%s", detail);
	uv_timer_start(&c->deadline, on_deadline, 0, 0);
}

static void echo_check(struct ward_drill_conn *c)
{
	size_t want = ward_buf_len(&c->sent), have = ward_buf_len(&c->got);

	if (have > want ||
	    memcmp(ward_buf_peek(&c->got), ward_buf_peek(&c->sent), have < want ? have : want))
		return end(c, WARD_DRILL_MISMATCH, "the echo differs from what was sent");
	if (have == want)
		end(c, WARD_DRILL_OK, NULL);
}

static void http_feed(struct ward_drill_conn *c, const uint8_t *data, size_t n)
{
	size_t used;
	int rc = ward_http_reply_feed(&c->reply, data, n, &used);

	if (rc == WARD_ERR_WOULDBLOCK)
		return;
	if (rc == WARD_ERR_EOF)
		return end(c, WARD_DRILL_CLOSED, ward_err_msg());
	if (rc < 0)
		return end(c, WARD_DRILL_BAD_RESPONSE, ward_err_msg());
	if (used < n) /* bytes nobody asked for: the connection is out of step */
		c->reply.keep_alive = false;
	end(c, c->reply.status >= 400 ? WARD_DRILL_HTTP_STATUS : WARD_DRILL_OK, NULL);
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t n)
{
	struct ward_drill_conn *c = s->owner;

	if (!c->busy) { /* unasked bytes: not a peer the drill understands */
		free(data);
		return ward_drill_conn_close(c);
	}
	if (c->http) {
		http_feed(c, data, n);
	} else if (ward_buf_append(&c->got, data, n) < 0) {
		end(c, WARD_DRILL_MISMATCH, "more bytes came back than were sent");
	} else {
		echo_check(c);
	}
	free(data);
}

static void on_eof(struct ward_stream *s)
{
	struct ward_drill_conn *c = s->owner;

	if (c->busy && c->http)
		return http_feed(c, NULL, 0);
	if (c->busy)
		return end(c, WARD_DRILL_CLOSED, "the peer closed before the echo was whole");
	ward_drill_conn_close(c);
}

static void on_error(struct ward_stream *s, int status)
{
	struct ward_drill_conn *c = s->owner;
	char why[96];

	snprintf(why, sizeof(why), "%s", uv_strerror(status));
	if (!c->busy)
		return ward_drill_conn_close(c);
	end(c, status == UV_ECONNRESET || status == UV_EPIPE ? WARD_DRILL_RESET : WARD_DRILL_CLOSED,
	    why);
}

static void send_pending(struct ward_drill_conn *c)
{
	uint8_t *req = c->pending;

	c->pending = NULL;
	if (ward_stream_write(&c->sock, req, c->pending_len) < 0)
		return fail_later(c, WARD_DRILL_RESET, ward_err_msg());
	if (ward_stream_read_start(&c->sock) < 0)
		fail_later(c, WARD_DRILL_IO, ward_err_msg());
}

static void on_connected(struct ward_stream *s, int status)
{
	struct ward_drill_conn *c = s->owner;

	if (status < 0)
		return end(c,
			   status == UV_ECONNREFUSED ? WARD_DRILL_REFUSED
			   : status == UV_ETIMEDOUT  ? WARD_DRILL_CONNECT_TIMEOUT
						     : WARD_DRILL_CONNECT_FAILED,
			   uv_strerror(status));
	c->connected = true;
	send_pending(c);
}

static const struct ward_stream_ops stream_ops = {
    .read = on_read,
    .eof = on_eof,
    .error = on_error,
    .connected = on_connected,
    .closed = on_sock_closed,
};

int ward_drill_conn_new(uv_loop_t *loop, const struct ward_addr *to, bool http,
			const struct ward_drill_conn_ops *ops, void *owner,
			struct ward_drill_conn **out)
{
	struct ward_drill_conn *c = calloc(1, sizeof(*c));

	ENSURE(c, WARD_ERR_NOMEM, "drill: out of memory");
	if (ward_stream_init(&c->sock, loop, WARD_STREAM_TCP, to->ss.ss_family, &stream_ops, c) <
	    0) {
		free(c);
		return WARD_ERR_IO;
	}
	c->sock.read_size = READ_SIZE;
	uv_timer_init(loop, &c->deadline);
	c->deadline.data = c;
	c->open_handles = 2;
	c->ops = ops;
	c->owner = owner;
	c->http = http;
	ward_buf_init(&c->sent, 64 * 1024);
	ward_buf_init(&c->got, 64 * 1024);
	ward_http_reply_init(&c->reply, WARD_DRILL_BODY_MAX);
	if (ward_stream_connect(&c->sock, (const struct sockaddr *)&to->ss) < 0) {
		int rc = ward_err_prefix(WARD_ERR_IO, "connect");

		c->ops = &silent; /* never handed out: the owner hears nothing of it */
		ward_drill_conn_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ward_drill_conn_exchange(struct ward_drill_conn *c, uint8_t *request, size_t len,
			     unsigned timeout_ms)
{
	if (c->busy || c->closing) {
		free(request);
		return ward_err_set(WARD_ERR_INVALID, "drill: the connection is busy or closing");
	}
	c->busy = true;
	c->late_why = WARD_DRILL_OK;
	ward_buf_drop(&c->got);
	ward_buf_drop(&c->sent);
	ward_http_reply_next(&c->reply);
	if (!c->http && ward_buf_append(&c->sent, request, len) < 0) {
		free(request);
		c->busy = false;
		return ward_err_set(WARD_ERR_RANGE, "drill: an echo request over 64 KiB");
	}
	uv_timer_start(&c->deadline, on_deadline, timeout_ms, 0);
	c->pending = request;
	c->pending_len = len;
	if (c->connected)
		send_pending(c);
	return 0;
}
