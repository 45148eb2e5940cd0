/* A JSON-line call over a unix socket; see jsonline.h. */
#include "lib/jsonline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lib/buf.h"
#include "lib/stream.h"

struct ward_jsonline {
	struct ward_stream sock;
	uv_timer_t timer;
	struct ward_buf in;
	char *path;    /* owned: for messages */
	uint8_t *line; /* owned: the request, written once connected */
	size_t line_len;
	ward_jsonline_cb cb;
	void *arg;
	json_t *reply; /* owned until handed to cb */
	char error[256];
	unsigned timeout_ms;
	bool finished;
	int open_handles; /* the socket and the timer; freed when both closed */
};

static void release(struct ward_jsonline *c)
{
	if (--c->open_handles > 0)
		return;
	c->cb(c->arg, c->reply, c->reply ? NULL : c->error);
	ward_buf_free(&c->in);
	free(c->line);
	free(c->path);
	free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
	release(h->data);
}

static void on_sock_closed(struct ward_stream *s)
{
	release(s->owner);
}

/* The one end of a call: the callback follows once both handles closed. */
static void finish(struct ward_jsonline *c, json_t *reply)
{
	if (c->finished) {
		json_decref(reply);
		return;
	}
	c->finished = true;
	c->reply = reply;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	ward_stream_close(&c->sock, false);
}

__attribute__((format(printf, 2, 3))) static void fail(struct ward_jsonline *c, const char *fmt,
						       ...)
{
	va_list ap;
	int n;

	if (c->finished)
		return;
	n = snprintf(c->error, sizeof(c->error), "%s: ", c->path);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(c->error))
		vsnprintf(c->error + n, sizeof(c->error) - (size_t)n, fmt, ap);
	va_end(ap);
	finish(c, NULL);
}

static void parse(struct ward_jsonline *c, size_t len)
{
	json_error_t jerr;
	json_t *reply = json_loadb((const char *)ward_buf_peek(&c->in), len, 0, &jerr);

	if (!reply || !json_is_object(reply)) {
		json_decref(reply);
		return fail(c, "the reply is not a JSON object (%s)",
			    reply ? "another JSON value" : jerr.text);
	}
	finish(c, reply);
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t n)
{
	struct ward_jsonline *c = s->owner;
	const uint8_t *nl;
	int rc = ward_buf_append(&c->in, data, n);

	free(data);
	if (rc < 0)
		return fail(c, "reply longer than %d bytes", WARD_JSONLINE_MAX);
	nl = memchr(ward_buf_peek(&c->in), '\n', ward_buf_len(&c->in));
	if (nl)
		parse(c, (size_t)(nl - ward_buf_peek(&c->in)));
}

static void on_eof(struct ward_stream *s)
{
	struct ward_jsonline *c = s->owner;

	if (ward_buf_len(&c->in) > 0)
		return parse(c, ward_buf_len(&c->in));
	fail(c, "closed without a reply");
}

static void on_error(struct ward_stream *s, int status)
{
	fail(s->owner, "closed without a reply (%s)", uv_strerror(status));
}

static void on_connected(struct ward_stream *s, int status)
{
	struct ward_jsonline *c = s->owner;
	uint8_t *line = c->line;

	c->line = NULL;
	if (status < 0) {
		free(line);
		return fail(c, "%s", uv_strerror(status));
	}
	if (ward_stream_write(s, line, c->line_len) < 0 || ward_stream_read_start(s) < 0)
		fail(c, "%s", ward_err_msg());
}

static void on_timeout(uv_timer_t *t)
{
	struct ward_jsonline *c = t->data;

	fail(c, "no reply within %.1f s", (double)c->timeout_ms / 1000.0);
}

static const struct ward_stream_ops ops = {
    .read = on_read,
    .eof = on_eof,
    .error = on_error,
    .connected = on_connected,
    .closed = on_sock_closed,
};

static int request_line(struct ward_jsonline *c, const json_t *request)
{
	char *text = json_dumps(request, JSON_COMPACT);
	size_t n = text ? strlen(text) : 0;

	c->line = text ? malloc(n + 1) : NULL;
	if (c->line) {
		memcpy(c->line, text, n);
		c->line[n] = '\n';
		c->line_len = n + 1;
	}
	free(text);
	ENSURE(c->line, WARD_ERR_NOMEM, "%s: out of memory", c->path);
	return 0;
}

int ward_jsonline_call(uv_loop_t *loop, const char *path, const json_t *request,
		       unsigned timeout_ms, ward_jsonline_cb cb, void *arg,
		       struct ward_jsonline **out)
{
	struct sockaddr_un sa;
	struct ward_jsonline *c;

	ENSURE(strlen(path) < sizeof(sa.sun_path), WARD_ERR_INVALID,
	       "%s: a unix socket path is at most %zu bytes", path, sizeof(sa.sun_path) - 1);
	ENSURE(json_is_object(request), WARD_ERR_INVALID, "%s: the request is not an object", path);
	c = calloc(1, sizeof(*c));
	ENSURE(c, WARD_ERR_NOMEM, "%s: out of memory", path);
	c->path = strdup(path);
	if (!c->path ||
	    ward_stream_init(&c->sock, loop, WARD_STREAM_PIPE, AF_UNSPEC, &ops, c) < 0) {
		free(c->path);
		free(c);
		return ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", path);
	}
	c->cb = cb;
	c->arg = arg;
	c->open_handles = 2;
	ward_buf_init(&c->in, WARD_JSONLINE_MAX);
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->timeout_ms = timeout_ms;
	uv_timer_start(&c->timer, on_timeout, timeout_ms, 0);
	if (request_line(c, request) < 0 || ward_stream_connect_unix(&c->sock, path) < 0)
		fail(c, "%s", ward_err_msg());
	if (out)
		*out = c;
	return 0;
}

void ward_jsonline_cancel(struct ward_jsonline *call)
{
	fail(call, "cancelled");
}

struct sync_result {
	json_t *reply;
	char error[256];
};

static void on_sync_reply(void *arg, json_t *reply, const char *error)
{
	struct sync_result *r = arg;

	r->reply = reply;
	if (!reply)
		snprintf(r->error, sizeof(r->error), "%s", error);
}

int ward_jsonline_call_sync(const char *path, const json_t *request, unsigned timeout_ms,
			    json_t **reply)
{
	struct sync_result r = {0};
	uv_loop_t loop;
	int rc;

	*reply = NULL;
	ENSURE(uv_loop_init(&loop) == 0, WARD_ERR_IO, "%s: no event loop", path);
	rc = ward_jsonline_call(&loop, path, request, timeout_ms, on_sync_reply, &r, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	GUARD(rc);
	ENSURE(r.reply, WARD_ERR_IO, "%s", r.error);
	*reply = r.reply;
	return 0;
}
