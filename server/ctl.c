/* The admin socket's line protocol, both ends; see admin.h. */
#include "server/ctl.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/stream.h"

/* A connection is the request it carries (struct ward_ctl_req). */
struct ward_ctl_req {
	struct ward_stream sock;
	struct ward_ctl *admin;
	struct ward_list_node link; /* in admin->conns */
	struct ward_buf in;
	bool answered; /* the request line was taken */
	bool pending;  /* ... and its reply not yet given: the handler holds us */
	bool closing, closed;
};

struct ward_ctl {
	struct ward_unix_listener listener;
	ward_ctl_fn fn;
	void *arg;
	struct ward_list conns; /* struct ward_ctl_req, link */
	bool stopping;
};

json_t *ward_ctl_error(const char *why)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", why);
}

static void maybe_free(struct ward_ctl *a)
{
	if (a->stopping && !a->listener.path && a->conns.n == 0)
		free(a);
}

static void release(struct ward_ctl_req *c)
{
	struct ward_ctl *a = c->admin;

	ward_list_remove(&a->conns, &c->link);
	ward_buf_free(&c->in);
	free(c);
	maybe_free(a);
}

/* Freed once the handle is closed and no handler holds the request. */
static void on_conn_closed(struct ward_stream *s)
{
	struct ward_ctl_req *c = s->owner;

	c->closed = true;
	if (!c->pending)
		release(c);
}

static void conn_close(struct ward_ctl_req *c)
{
	if (c->closing)
		return;
	c->closing = true;
	ward_stream_close(&c->sock, false);
}

/* The reply is out (or could not be sent): the exchange is over. */
static void on_drained(struct ward_stream *s)
{
	if (s->queued == 0)
		conn_close(s->owner);
}

void ward_ctl_reply(struct ward_ctl_req *c, json_t *response)
{
	char *text = response && !c->closing ? json_dumps(response, JSON_COMPACT) : NULL;
	size_t n = text ? strlen(text) : 0;
	uint8_t *line;

	c->pending = false;
	json_decref(response);
	if (c->closed)
		return release(c);
	line = text ? malloc(n + 1) : NULL;
	if (!line) {
		free(text);
		return conn_close(c);
	}
	memcpy(line, text, n);
	line[n] = '\n';
	free(text);
	if (ward_stream_write(&c->sock, line, n + 1) < 0 || c->sock.queued == 0)
		conn_close(c);
}

/* The request is in (or cannot be): read no more, owe a reply. */
static void take(struct ward_ctl_req *c)
{
	c->answered = c->pending = true;
	ward_stream_read_stop(&c->sock);
}

static void handle_line(struct ward_ctl_req *c, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb((const char *)ward_buf_peek(&c->in), len, 0, &jerr);

	take(c);
	if (!req || !json_is_object(req)) {
		json_decref(req);
		return ward_ctl_reply(
		    c, ward_ctl_error("request must be one JSON object on one line"));
	}
	c->admin->fn(c->admin->arg, req, c);
	json_decref(req);
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t n)
{
	struct ward_ctl_req *c = s->owner;
	const uint8_t *nl;
	int rc;

	if (c->answered) {
		free(data);
		return;
	}
	rc = ward_buf_append(&c->in, data, n);
	free(data);
	if (rc < 0) {
		take(c);
		return ward_ctl_reply(c, ward_ctl_error("request longer than 64 KiB"));
	}
	nl = memchr(ward_buf_peek(&c->in), '\n', ward_buf_len(&c->in));
	if (nl)
		handle_line(c, (size_t)(nl - ward_buf_peek(&c->in)));
}

static void on_end(struct ward_stream *s)
{
	struct ward_ctl_req *c = s->owner;

	if (!c->answered)
		conn_close(c);
}

static void on_error(struct ward_stream *s, int status)
{
	(void)status;
	conn_close(s->owner);
}

static const struct ward_stream_ops conn_ops = {
    .read = on_read,
    .eof = on_end,
    .error = on_error,
    .drained = on_drained,
    .closed = on_conn_closed,
};

static void on_connection(uv_stream_t *listener, int status)
{
	struct ward_ctl *a = listener->data;
	struct ward_ctl_req *c;

	if (status < 0 || a->stopping || !(c = calloc(1, sizeof(*c))))
		return;
	c->admin = a;
	ward_buf_init(&c->in, WARD_ADMIN_MAX_LINE);
	if (ward_stream_init(&c->sock, listener->loop, WARD_STREAM_PIPE, AF_UNSPEC, &conn_ops, c) <
	    0) {
		free(c);
		return;
	}
	c->sock.read_size = 4096;
	ward_list_add(&a->conns, &c->link);
	if (ward_stream_accept(&c->sock, listener) < 0 || ward_stream_read_start(&c->sock) < 0)
		conn_close(c);
}

static void on_listener_closed(struct ward_unix_listener *l)
{
	maybe_free(l->pipe.data);
}

int ward_ctl_start(uv_loop_t *loop, const char *path, ward_ctl_fn fn, void *arg,
		   struct ward_ctl **out)
{
	struct ward_ctl *a = calloc(1, sizeof(*a));
	int rc;

	*out = NULL;
	ENSURE(a, WARD_ERR_NOMEM, "admin: out of memory");
	a->fn = fn;
	a->arg = arg;
	/* 0600: root and the server's own uid only. */
	rc = ward_unix_listener_start(&a->listener, loop, path, 0600, 16, on_connection, a,
				      on_listener_closed);
	if (rc < 0) {
		a->stopping = true; /* freed once the listener has closed */
		return rc;
	}
	*out = a;
	return 0;
}

void ward_ctl_stop(struct ward_ctl *a)
{
	struct ward_list_node *node, *next;

	if (!a || a->stopping)
		return;
	a->stopping = true;
	ward_list_each(&a->conns, node, next)
	    conn_close(ward_list_entry(node, struct ward_ctl_req, link));
	ward_unix_listener_stop(&a->listener);
}
