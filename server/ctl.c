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
#include "lib/log.h"

#define CLIENT_TIMEOUT_MS 30000

struct admin_conn {
	uv_pipe_t pipe;
	uv_write_t write;
	struct ward_ctl *admin;
	struct admin_conn *next;
	struct ward_buf in;
	char *reply; /* owned while being written */
	bool answered, closing;
};

struct ward_ctl {
	uv_pipe_t listener;
	ward_ctl_fn fn;
	void *arg;
	char *path;
	struct admin_conn *conns;
	bool stopping, listener_open;
};

json_t *ward_ctl_error(const char *why)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", why);
}

static void maybe_free(struct ward_ctl *a)
{
	if (a->stopping && !a->listener_open && !a->conns) {
		free(a->path);
		free(a);
	}
}

static void on_conn_closed(uv_handle_t *h)
{
	struct admin_conn *c = h->data, **pp;
	struct ward_ctl *a = c->admin;

	for (pp = &a->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	ward_buf_free(&c->in);
	free(c->reply);
	free(c);
	maybe_free(a);
}

static void conn_close(struct admin_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
	conn_close(req->data);
}

static void reply(struct admin_conn *c, json_t *response)
{
	char *text = response ? json_dumps(response, JSON_COMPACT) : NULL;
	size_t n = text ? strlen(text) : 0;
	uv_buf_t b;

	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	json_decref(response);
	c->reply = text ? malloc(n + 1) : NULL;
	if (!c->reply) {
		free(text);
		return conn_close(c);
	}
	memcpy(c->reply, text, n);
	c->reply[n] = '\n';
	free(text);
	b = uv_buf_init(c->reply, (unsigned)(n + 1));
	c->write.data = c;
	if (uv_write(&c->write, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0)
		conn_close(c);
}

static void handle_line(struct admin_conn *c, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb((const char *)c->in.data + c->in.rd, len, 0, &jerr);

	if (!req || !json_is_object(req)) {
		json_decref(req);
		return reply(c, ward_ctl_error("request must be one JSON object on one line"));
	}
	reply(c, c->admin->fn(c->admin->arg, req));
	json_decref(req);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = malloc(4096);
	buf->len = buf->base ? 4096 : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct admin_conn *c = s->data;
	const uint8_t *nl;

	if (n < 0 || c->answered) {
		free(buf->base);
		if (n < 0 && !c->answered)
			conn_close(c);
		return;
	}
	if (ward_buf_append(&c->in, buf->base, (size_t)n) < 0) {
		free(buf->base);
		return reply(c, ward_ctl_error("request longer than 64 KiB"));
	}
	free(buf->base);
	nl = memchr(c->in.data + c->in.rd, '\n', ward_buf_len(&c->in));
	if (nl)
		handle_line(c, (size_t)(nl - (c->in.data + c->in.rd)));
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct ward_ctl *a = listener->data;
	struct admin_conn *c;

	if (status < 0 || a->stopping || !(c = calloc(1, sizeof(*c))))
		return;
	c->admin = a;
	ward_buf_init(&c->in, WARD_ADMIN_MAX_LINE);
	uv_pipe_init(listener->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->next = a->conns;
	a->conns = c;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
		conn_close(c);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct ward_ctl *a = h->data;

	a->listener_open = false;
	maybe_free(a);
}

/* Created 0600 before anyone can connect: umask for the bind, then chmod. */
static int listen_private(struct ward_ctl *a, uv_loop_t *loop, const char *path)
{
	struct stat st;
	mode_t old;
	int rc;

	if (lstat(path, &st) == 0) {
		ENSURE(S_ISSOCK(st.st_mode), WARD_ERR_IO, "%s: exists and is not a socket", path);
		ENSURE(unlink(path) == 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	}
	uv_pipe_init(loop, &a->listener, 0);
	a->listener.data = a;
	a->listener_open = true;
	old = umask(0177);
	rc = uv_pipe_bind(&a->listener, path);
	umask(old);
	if (rc == 0)
		rc = chmod(path, 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&a->listener, 16, on_connection);
	ENSURE(rc == 0, WARD_ERR_IO, "%s: %s", path, uv_strerror(rc));
	return 0;
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
	a->path = strdup(path);
	rc = a->path ? listen_private(a, loop, path) : ward_err_set(WARD_ERR_NOMEM, "admin");
	if (rc < 0) {
		a->stopping = true;
		if (a->listener_open)
			uv_close((uv_handle_t *)&a->listener, on_listener_closed);
		else
			maybe_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void ward_ctl_stop(struct ward_ctl *a)
{
	if (!a || a->stopping)
		return;
	a->stopping = true;
	for (struct admin_conn *c = a->conns; c; c = c->next)
		conn_close(c);
	unlink(a->path);
	uv_close((uv_handle_t *)&a->listener, on_listener_closed);
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
