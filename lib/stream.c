/* The stream-connection layer; the contract is in stream.h. */
#include "lib/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/sockopt.h"

#define DEFAULT_READ_SIZE (64u * 1024)

struct write_req {
	uv_write_t req;
	struct ward_stream *s;
	uint8_t *block; /* owned: the whole block, of which a tail was queued */
	size_t block_len;
	size_t queued_len;
};

void ward_stream_wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	explicit_bzero(p, len);
	free(p);
}

static void free_block(const struct ward_stream *s, uint8_t *p, size_t len)
{
	if (s->wipe)
		ward_stream_wipe_free(p, len);
	else
		free(p);
}

int ward_stream_init(struct ward_stream *s, uv_loop_t *loop, enum ward_stream_kind kind, int family,
		     const struct ward_stream_ops *ops, void *owner)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->owner = owner;
	s->read_size = DEFAULT_READ_SIZE;
	if (kind == WARD_STREAM_TCP)
		rc = uv_tcp_init_ex(loop, &s->h.tcp, (unsigned)family);
	else
		rc = uv_pipe_init(loop, &s->h.pipe, 0);
	ENSURE(rc == 0, WARD_ERR_IO, "socket: %s", uv_strerror(rc));
	s->h.handle.data = s;
	s->open = true;
	return 0;
}

int ward_stream_accept(struct ward_stream *s, uv_stream_t *listener)
{
	int rc = uv_accept(listener, &s->h.stream);

	ENSURE(rc == 0, WARD_ERR_IO, "accept: %s", uv_strerror(rc));
	return 0;
}

int ward_stream_open(struct ward_stream *s, int fd)
{
	int rc =
	    s->h.handle.type == UV_TCP ? uv_tcp_open(&s->h.tcp, fd) : uv_pipe_open(&s->h.pipe, fd);

	ENSURE(rc == 0, WARD_ERR_IO, "open: %s", uv_strerror(rc));
	return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct ward_stream *s = req->data;

	if (s->open && s->ops->connected)
		s->ops->connected(s, status);
}

int ward_stream_connect(struct ward_stream *s, const struct sockaddr *to)
{
	int rc;

	s->connect.data = s;
	rc = uv_tcp_connect(&s->connect, &s->h.tcp, to, on_connect);
	ENSURE(rc == 0, WARD_ERR_IO, "%s", uv_err_name(rc));
	return 0;
}

int ward_stream_connect_unix(struct ward_stream *s, const char *path)
{
	ENSURE(s->h.handle.type == UV_NAMED_PIPE, WARD_ERR_INVALID, "%s: not a unix stream", path);
	s->connect.data = s;
	uv_pipe_connect(&s->connect, &s->h.pipe, path, on_connect);
	return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ward_stream *s = h->data;

	(void)suggested;
	buf->base = malloc(s->read_size);
	buf->len = buf->base ? s->read_size : 0;
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct ward_stream *s = h->data;

	if (nread > 0) {
		s->ops->read(s, (uint8_t *)buf->base, (size_t)nread);
		return;
	}
	free(buf->base); /* nothing was read into it */
	if (nread == 0)
		return;
	ward_stream_read_stop(s);
	if (nread == UV_EOF) {
		s->eof = true;
		if (s->ops->eof)
			s->ops->eof(s);
	} else if (s->ops->error) {
		s->ops->error(s, (int)nread);
	}
}

int ward_stream_read_start(struct ward_stream *s)
{
	int rc;

	if (s->reading || s->eof || !s->open)
		return 0;
	rc = uv_read_start(&s->h.stream, on_alloc, on_read);
	ENSURE(rc == 0, WARD_ERR_IO, "read start: %s", uv_strerror(rc));
	s->reading = true;
	return 0;
}

void ward_stream_read_stop(struct ward_stream *s)
{
	if (s->reading && s->open)
		uv_read_stop(&s->h.stream);
	s->reading = false;
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct ward_stream *s = wr->s;

	s->queued -= wr->queued_len;
	free_block(s, wr->block, wr->block_len);
	free(wr);
	if (!s->open)
		return;
	if (status < 0) {
		if (s->ops->error)
			s->ops->error(s, status);
		return;
	}
	if (s->ops->drained)
		s->ops->drained(s);
}

static int write_error(int uv_rc)
{
	return ward_err_set(uv_rc == UV_ECONNRESET || uv_rc == UV_EPIPE ? WARD_ERR_RESET
									: WARD_ERR_IO,
			    "write: %s", uv_strerror(uv_rc));
}

int ward_stream_write(struct ward_stream *s, uint8_t *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	struct write_req *wr;
	int n, rc;

	if (len == 0 || !s->open) {
		free_block(s, data, len);
		return len == 0 ? 0 : ward_err_set(WARD_ERR_IO, "write: connection closed");
	}
	n = s->queued ? UV_EAGAIN : uv_try_write(&s->h.stream, &b, 1);
	if (n == (int)len) {
		free_block(s, data, len);
		return 0;
	}
	if (n < 0 && n != UV_EAGAIN) {
		free_block(s, data, len);
		return write_error(n);
	}
	if (n > 0)
		b = uv_buf_init((char *)data + n, (unsigned)(len - (size_t)n));
	wr = malloc(sizeof(*wr));
	if (!wr) {
		free_block(s, data, len);
		return ward_err_set(WARD_ERR_NOMEM, "write request");
	}
	*wr = (struct write_req){.s = s, .block = data, .block_len = len, .queued_len = b.len};
	rc = uv_write(&wr->req, &s->h.stream, &b, 1, on_write);
	if (rc < 0) {
		free_block(s, data, len);
		free(wr);
		return write_error(rc);
	}
	s->queued += wr->queued_len;
	return 0;
}

int ward_stream_write_copy(struct ward_stream *s, const void *data, size_t len)
{
	uint8_t *copy;

	if (len == 0)
		return 0;
	copy = malloc(len);
	ENSURE(copy, WARD_ERR_NOMEM, "write of %zu bytes", len);
	memcpy(copy, data, len);
	return ward_stream_write(s, copy, len);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct ward_stream *s = req->data;

	free(req);
	(void)status; /* a peer that already reset us has nothing left to shut */
	s->shut_done = true;
	if (s->open && s->ops->shut)
		s->ops->shut(s);
}

int ward_stream_shutdown(struct ward_stream *s)
{
	uv_shutdown_t *req;

	if (s->shut || !s->open)
		return 0;
	s->shut = true;
	req = malloc(sizeof(*req));
	ENSURE(req, WARD_ERR_NOMEM, "shutdown request");
	req->data = s;
	if (uv_shutdown(req, &s->h.stream, on_shutdown) < 0) {
		free(req);
		s->shut_done = true; /* already gone: nothing to wait for */
	}
	return 0;
}

static void on_close(uv_handle_t *h)
{
	struct ward_stream *s = h->data;

	s->ops->closed(s);
}

void ward_stream_close(struct ward_stream *s, bool reset)
{
	if (!s->open)
		return;
	s->open = false;
	s->reading = false;
	if (!reset || s->h.handle.type != UV_TCP || uv_tcp_close_reset(&s->h.tcp, on_close) < 0)
		uv_close(&s->h.handle, on_close);
}

int ward_stream_fd(const struct ward_stream *s)
{
	uv_os_fd_t fd = -1;

	if (!s->open || uv_fileno(&s->h.handle, &fd) < 0)
		return -1;
	return fd;
}

int ward_listen_tcp(uv_loop_t *loop, uv_tcp_t *l, const struct ward_addr *addr, bool fastopen,
		    int backlog, uv_connection_cb cb, void *data)
{
	char text[64];
	int fd, rc;

	uv_tcp_init(loop, l);
	l->data = data;
	ward_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text));
	fd = ward_sockopt_listen(addr, fastopen, backlog);
	if (fd < 0)
		return ward_err_prefix(fd, "listen on %s", text);
	rc = uv_tcp_open(l, fd);
	if (rc < 0)
		close(fd);
	else
		rc = uv_listen((uv_stream_t *)l, backlog, cb);
	ENSURE(rc == 0, WARD_ERR_IO, "listen on %s: %s", text, uv_strerror(rc));
	return 0;
}

/* A socket file an earlier run left is replaced; anything else at the path
 * is not ours to remove. */
static int clear_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	ENSURE(S_ISSOCK(st.st_mode), WARD_ERR_IO, "%s: exists and is not a socket", path);
	ENSURE(unlink(path) == 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	return 0;
}

int ward_listen_unix(uv_loop_t *loop, uv_pipe_t *l, const char *path, mode_t mode, int backlog,
		     uv_connection_cb cb, void *data)
{
	mode_t old;
	int rc;

	uv_pipe_init(loop, l, 0);
	l->data = data;
	GUARD(clear_path(path));
	/* The umask makes the file no wider than mode from the moment it
	 * exists; chmod then widens it to exactly mode where mode asks. */
	old = umask(~mode & 0777);
	rc = uv_pipe_bind(l, path);
	umask(old);
	if (rc == 0)
		rc = chmod(path, mode) < 0 ? -errno : 0;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)l, backlog, cb);
	ENSURE(rc == 0, WARD_ERR_IO, "%s: %s", path, uv_strerror(rc));
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct ward_unix_listener *l = (struct ward_unix_listener *)h;

	free(l->path);
	l->path = NULL;
	if (l->closed)
		l->closed(l);
}

int ward_unix_listener_start(struct ward_unix_listener *l, uv_loop_t *loop, const char *path,
			     mode_t mode, int backlog, uv_connection_cb cb, void *owner,
			     void (*closed)(struct ward_unix_listener *l))
{
	int rc;

	*l = (struct ward_unix_listener){.closed = closed, .path = strdup(path)};
	rc = l->path ? ward_listen_unix(loop, &l->pipe, path, mode, backlog, cb, owner)
		     : ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", path);
	if (!l->path)
		uv_pipe_init(loop, &l->pipe, 0); /* so that there is one close path */
	l->open = true;
	l->bound = rc == 0;
	if (rc < 0)
		ward_unix_listener_stop(l);
	return rc;
}

void ward_unix_listener_stop(struct ward_unix_listener *l)
{
	if (!l->open)
		return;
	l->open = false;
	if (l->bound)
		unlink(l->path);
	uv_close((uv_handle_t *)&l->pipe, on_listener_closed);
}
