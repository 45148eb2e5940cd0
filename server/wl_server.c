/* The Workload API listener and its connections on libuv: bytes in go to
 * nghttp2 (wl_stream.c), nghttp2's output goes to the socket within a
 * bounded write queue. See wl_server.h. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "server/wl_server_impl.h"

#define READ_SIZE (64 * 1024)
#define WRITE_BLOCK (64 * 1024)

struct write_req {
	uv_write_t req;
	struct wl_conn *conn;
	size_t len;
	char data[];
};

static void maybe_free_server(struct ward_wl_server *srv)
{
	if (srv->stopping && !srv->listener.data && srv->n_conns == 0) {
		free(srv->path);
		free(srv);
	}
}

static void on_conn_closed(uv_handle_t *h)
{
	struct wl_conn *c = h->data;
	struct ward_wl_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	free(c);
	maybe_free_server(srv);
}

/* The one teardown of a connection: its streams (and the calls behind
 * them), its HTTP/2 session, its socket. Never called from inside nghttp2. */
static void conn_close(struct wl_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	while (c->streams)
		wl_stream_free(c->streams);
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
	uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

/* Done when neither side has anything left to say (both sent GOAWAY, or
 * the server stopped) and every byte is written. */
static void close_if_done(struct wl_conn *c)
{
	if (c->closing || c->write_pending)
		return;
	if (c->srv->stopping ||
	    (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)))
		conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = malloc(READ_SIZE);
	buf->len = buf->base ? READ_SIZE : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct wl_conn *c = s->data;
	ssize_t used;

	if (n > 0 && !c->closing) {
		used = nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf->base, (size_t)n);
		if (used < 0) {
			ward_log(WARD_LOG_DEBUG, "workload_api_protocol_error", "{s:s,s:i}",
				 "reason", nghttp2_strerror((int)used), "pid",
				 c->have_creds ? (int)c->creds.pid : 0);
			conn_close(c);
		} else {
			wl_conn_flush(c);
		}
	} else if (n < 0) {
		conn_close(c);
	}
	free(buf->base);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct wl_conn *c = w->conn;

	c->write_pending -= w->len;
	explicit_bzero(w->data, w->len); /* SVID messages carry private keys */
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (!c->reading && c->write_pending < WL_WRITE_LOW) {
		c->reading = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0;
		wl_conn_flush(c);
	}
	close_if_done(c);
}

static int write_block(struct wl_conn *c, struct write_req *w)
{
	uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);

	w->conn = c;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write) < 0) {
		explicit_bzero(w->data, w->len);
		free(w);
		return -1;
	}
	c->write_pending += w->len;
	return 0;
}

/* Copies nghttp2's frames into blocks of up to 64 KiB and writes them,
 * until nghttp2 has nothing more or the write queue is full. */
void wl_conn_flush(struct wl_conn *c)
{
	struct write_req *w = NULL;
	const uint8_t *data;
	size_t cap = 0;
	ssize_t n;

	while (!c->closing && c->write_pending < WL_WRITE_HIGH) {
		n = nghttp2_session_mem_send(c->h2, &data);
		if (n <= 0)
			break;
		if (w && w->len + (size_t)n > cap) {
			if (write_block(c, w) < 0)
				return conn_close(c);
			w = NULL;
		}
		if (!w) {
			cap = (size_t)n > WRITE_BLOCK ? (size_t)n : WRITE_BLOCK;
			w = malloc(sizeof(*w) + cap);
			if (!w)
				return conn_close(c);
			w->len = 0;
		}
		memcpy(w->data + w->len, data, (size_t)n);
		w->len += (size_t)n;
	}
	if (w && write_block(c, w) < 0)
		return conn_close(c);
	if (c->reading && c->write_pending >= WL_WRITE_HIGH) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->reading = false;
	}
	close_if_done(c);
}

static void conn_start(struct ward_wl_server *srv, struct wl_conn *c)
{
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    ward_attest_peer_creds(fd, &c->creds) == 0)
		c->have_creds = true;
	else
		ward_log(WARD_LOG_WARN, "workload_api_no_peer_creds", "{s:s}", "reason",
			 ward_err_msg());
	if (wl_session_new(c) < 0) {
		ward_log(WARD_LOG_ERROR, "workload_api_session_failed", "{s:s}", "reason",
			 ward_err_msg());
		return conn_close(c);
	}
	c->reading = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0;
	wl_conn_flush(c); /* our SETTINGS */
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct ward_wl_server *srv = listener->data;
	struct wl_conn *c;

	if (status < 0 || srv->stopping)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	uv_pipe_init(srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0 || srv->n_conns > WARD_WL_MAX_CONNS) {
		ward_log(WARD_LOG_WARN, "workload_api_refused", "{s:i}", "connections",
			 (int)srv->n_conns);
		c->closing = true;
		uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
		return;
	}
	conn_start(srv, c);
}

void ward_wl_server_refresh(struct ward_wl_server *srv)
{
	for (struct wl_conn *c = srv->conns; c; c = c->next) {
		if (c->closing)
			continue;
		for (struct wl_stream *st = c->streams; st; st = st->next)
			wl_stream_refresh(st);
		wl_conn_flush(c);
	}
}

/* A socket file left by an earlier run is replaced; anything else at the
 * path is not ours to remove. */
static int prepare_path(const char *path)
{
	char *dir = strdup(path);
	struct stat st;

	ENSURE(dir, WARD_ERR_NOMEM, "socket: out of memory");
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST) {
		free(dir);
		return ward_err_set(WARD_ERR_IO, "%s: cannot create its directory: %s", path,
				    strerror(errno));
	}
	free(dir);
	if (lstat(path, &st) < 0)
		return 0;
	ENSURE(S_ISSOCK(st.st_mode), WARD_ERR_IO, "%s: exists and is not a socket", path);
	ENSURE(unlink(path) == 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct ward_wl_server *srv = h->data;

	srv->listener.data = NULL;
	maybe_free_server(srv);
}

int ward_wl_server_start(uv_loop_t *loop, const char *path, const struct ward_wl_ops *ops,
			 void *arg, struct ward_wl_server **out)
{
	struct ward_wl_server *srv = calloc(1, sizeof(*srv));
	int rc;

	*out = NULL;
	ENSURE(srv, WARD_ERR_NOMEM, "socket: out of memory");
	srv->path = strdup(path);
	if (!srv->path) {
		free(srv);
		return ward_err_set(WARD_ERR_NOMEM, "socket: out of memory");
	}
	srv->loop = loop;
	srv->ops = ops;
	srv->arg = arg;
	rc = prepare_path(path);
	if (rc < 0) {
		free(srv->path);
		free(srv);
		return rc;
	}
	uv_pipe_init(loop, &srv->listener, 0);
	srv->listener.data = srv;
	if ((rc = uv_pipe_bind(&srv->listener, path)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection)) < 0 ||
	    (rc = chmod(path, 0777) < 0 ? -errno : 0) < 0) {
		srv->stopping = true;
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
		return ward_err_set(WARD_ERR_IO, "%s: %s", path, uv_strerror(rc));
	}
	*out = srv;
	return 0;
}

void ward_wl_server_stop(struct ward_wl_server *srv)
{
	if (!srv || srv->stopping)
		return;
	for (struct wl_conn *c = srv->conns; c; c = c->next) {
		if (c->closing)
			continue;
		for (struct wl_stream *st = c->streams; st; st = st->next)
			wl_stream_end(st, WARD_GRPC_UNAVAILABLE, "server shutting down");
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
	}
	srv->stopping = true;
	for (struct wl_conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (!c->closing)
			wl_conn_flush(c); /* closes once its last bytes are written */
	}
	unlink(srv->path);
	uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}
