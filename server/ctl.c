/* The admin socket's line protocol, both ends; see admin.h. */
#include "server/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/stream.h"

#define CLIENT_TIMEOUT_MS 30000

struct admin_conn {
	struct ward_stream sock;
	struct ward_ctl *admin;
	struct ward_list_node link; /* in admin->conns */
	struct ward_buf in;
	bool answered, closing;
};

struct ward_ctl {
	struct ward_unix_listener listener;
	ward_ctl_fn fn;
	void *arg;
	struct ward_list conns; /* struct admin_conn, link */
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

static void on_conn_closed(struct ward_stream *s)
{
	struct admin_conn *c = s->owner;
	struct ward_ctl *a = c->admin;

	ward_list_remove(&a->conns, &c->link);
	ward_buf_free(&c->in);
	free(c);
	maybe_free(a);
}

static void conn_close(struct admin_conn *c)
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

static void reply(struct admin_conn *c, json_t *response)
{
	char *text = response ? json_dumps(response, JSON_COMPACT) : NULL;
	size_t n = text ? strlen(text) : 0;
	uint8_t *line;

	c->answered = true;
	ward_stream_read_stop(&c->sock);
	json_decref(response);
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

static void handle_line(struct admin_conn *c, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb((const char *)ward_buf_peek(&c->in), len, 0, &jerr);

	if (!req || !json_is_object(req)) {
		json_decref(req);
		return reply(c, ward_ctl_error("request must be one JSON object on one line"));
	}
	reply(c, c->admin->fn(c->admin->arg, req));
	json_decref(req);
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t n)
{
	struct admin_conn *c = s->owner;
	const uint8_t *nl;
	int rc;

	if (c->answered) {
		free(data);
		return;
	}
	rc = ward_buf_append(&c->in, data, n);
	free(data);
	if (rc < 0)
		return reply(c, ward_ctl_error("request longer than 64 KiB"));
	nl = memchr(ward_buf_peek(&c->in), '\n', ward_buf_len(&c->in));
	if (nl)
		handle_line(c, (size_t)(nl - ward_buf_peek(&c->in)));
}

static void on_end(struct ward_stream *s)
{
	struct admin_conn *c = s->owner;

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
	struct admin_conn *c;

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
	    conn_close(ward_list_entry(node, struct admin_conn, link));
	ward_unix_listener_stop(&a->listener);
}

/* ---- client -------------------------------------------------------------- */

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	ENSURE(strlen(path) < sizeof(sa.sun_path), WARD_ERR_INVALID, "%s: path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ENSURE(fd >= 0, WARD_ERR_IO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return ward_err_set(WARD_ERR_IO, "%s: %s", path, strerror(err));
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		ENSURE(n > 0, WARD_ERR_IO, "admin socket: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until the server closes (it does after one line), within a bound. */
static int read_reply(int fd, struct ward_buf *in)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char chunk[4096];
	ssize_t n;

	for (;;) {
		ENSURE(poll(&pfd, 1, CLIENT_TIMEOUT_MS) > 0, WARD_ERR_IO,
		       "admin socket: no reply within %d s", CLIENT_TIMEOUT_MS / 1000);
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		ENSURE(n >= 0, WARD_ERR_IO, "admin socket: %s", strerror(errno));
		if (n == 0)
			return 0;
		GUARD(ward_buf_append(in, chunk, (size_t)n));
	}
}

int ward_ctl_call(const char *path, const json_t *request, json_t **response)
{
	char *line = json_dumps(request, JSON_COMPACT);
	struct ward_buf in;
	json_error_t jerr;
	int fd, rc;

	*response = NULL;
	ENSURE(line, WARD_ERR_NOMEM, "admin: out of memory");
	fd = connect_to(path);
	if (fd < 0) {
		free(line);
		return fd;
	}
	ward_buf_init(&in, 16 * 1024 * 1024);
	rc = send_all(fd, line, strlen(line));
	if (rc == 0)
		rc = send_all(fd, "\n", 1);
	free(line);
	if (rc == 0)
		rc = read_reply(fd, &in);
	close(fd);
	if (rc == 0) {
		*response = json_loadb((const char *)in.data, ward_buf_len(&in), 0, &jerr);
		if (!*response)
			rc = ward_err_set(WARD_ERR_INVALID, "admin socket: reply is not JSON: %s",
					  jerr.text);
	}
	ward_buf_free(&in);
	return rc;
}
