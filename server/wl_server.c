/* The Workload API listener and its connections: bytes in go to nghttp2
 * (wl_stream.c), nghttp2's output goes to the socket (lib/stream.h) within a
 * bounded write queue. See wl_server.h. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/h2.h"
#include "lib/log.h"
#include "server/wl_server_impl.h"

#define READ_SIZE (64 * 1024)
#define WRITE_BLOCK (64 * 1024)
#define SOCKET_MODE 0777 /* attestation, not file mode, decides (as SPIRE) */

static const struct ward_stream_ops conn_ops;

static struct wl_conn *conn_of(struct ward_list_node *node)
{
	return ward_list_entry(node, struct wl_conn, link);
}

void wl_server_maybe_free(struct ward_wl_server *srv)
{
	if (srv->stopping && !srv->listener.path && srv->conns.n == 0 && !srv->sweep_open)
		free(srv);
}

static void on_conn_closed(struct ward_stream *s)
{
	struct wl_conn *c = s->owner;
	struct ward_wl_server *srv = c->srv;

	ward_list_remove(&srv->conns, &c->link);
	free(c);
	wl_server_maybe_free(srv);
}

/* The one teardown of a connection: its streams (and the calls behind
 * them), its HTTP/2 session, its socket. Never called from inside nghttp2. */
void wl_conn_close(struct wl_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	wl_limits_release(c);
	while (c->streams)
		wl_stream_free(c->streams);
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
	ward_stream_close(&c->sock, false);
}

/* Done when neither side has anything left to say (both sent GOAWAY, or
 * the server stopped) and every byte is written. */
static void close_if_done(struct wl_conn *c)
{
	if (c->closing || c->sock.queued)
		return;
	if (c->srv->stopping || ward_h2_finished(c->h2))
		wl_conn_close(c);
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t n)
{
	struct wl_conn *c = s->owner;

	if (!c->closing) {
		if (ward_h2_recv(c->h2, data, n) < 0) {
			ward_log(WARD_LOG_DEBUG, "workload_api_protocol_error", "{s:s,s:i}",
				 "reason", ward_err_msg(), "pid",
				 c->have_creds ? (int)c->creds.pid : 0);
			wl_conn_close(c);
		} else {
			wl_conn_flush(c);
		}
	}
	free(data);
}

static void on_end(struct ward_stream *s)
{
	wl_conn_close(s->owner);
}

static void on_error(struct ward_stream *s, int status)
{
	(void)status;
	wl_conn_close(s->owner);
}

/* A peer that does not read stops being read at WL_WRITE_HIGH, and is read
 * again once the queue is below WL_WRITE_LOW. */
static void on_drained(struct ward_stream *s)
{
	struct wl_conn *c = s->owner;

	wl_limits_wrote(c);
	if (!c->closing && !s->reading && s->queued < WL_WRITE_LOW) {
		if (ward_stream_read_start(s) < 0)
			return wl_conn_close(c);
		wl_conn_flush(c);
	}
	close_if_done(c);
}

static const struct ward_stream_ops conn_ops = {
    .read = on_read,
    .eof = on_end,
    .error = on_error,
    .drained = on_drained,
    .closed = on_conn_closed,
};

/* Writes nghttp2's frames in blocks of up to 64 KiB until nghttp2 has
 * nothing more or the write queue is full. The stream wipes every block once
 * written: SVID messages carry private keys. */
void wl_conn_flush(struct wl_conn *c)
{
	struct ward_buf out;
	uint8_t *block;
	size_t len;

	if (c->sock.queued == 0) /* nothing waits: a stall can only start now */
		wl_limits_wrote(c);
	while (!c->closing && c->sock.queued < WL_WRITE_HIGH) {
		ward_buf_init(&out, 2 * WRITE_BLOCK); /* room for a frame past the block */
		if (ward_h2_collect(c->h2, &out, WRITE_BLOCK) < 0) {
			ward_buf_free(&out);
			return wl_conn_close(c);
		}
		if (!(block = ward_buf_detach(&out, &len)))
			break;
		c->out_total += len;
		if (ward_stream_write(&c->sock, block, len) < 0)
			return wl_conn_close(c);
	}
	wl_conn_place_sent(c);
	if (c->sock.queued >= WL_WRITE_HIGH)
		ward_stream_read_stop(&c->sock);
	close_if_done(c);
}

static void conn_start(struct wl_conn *c)
{
	int fd = ward_stream_fd(&c->sock);

	if (fd >= 0 && ward_attest_peer_creds(fd, &c->creds) == 0)
		c->have_creds = true;
	else
		ward_log(WARD_LOG_WARN, "workload_api_no_peer_creds", "{s:s}", "reason",
			 ward_err_msg());
	if (!wl_limits_admit(c))
		return wl_conn_close(c);
	if (wl_session_new(c) < 0) {
		ward_log(WARD_LOG_ERROR, "workload_api_session_failed", "{s:s}", "reason",
			 ward_err_msg());
		return wl_conn_close(c);
	}
	if (ward_stream_read_start(&c->sock) < 0)
		return wl_conn_close(c);
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
	if (ward_stream_init(&c->sock, srv->loop, WARD_STREAM_PIPE, AF_UNSPEC, &conn_ops, c) < 0) {
		free(c);
		return;
	}
	c->sock.read_size = READ_SIZE;
	c->sock.wipe = true;
	ward_list_add(&srv->conns, &c->link);
	if (ward_stream_accept(&c->sock, listener) < 0) {
		c->closing = true;
		ward_stream_close(&c->sock, false);
		return;
	}
	conn_start(c);
}

uint64_t ward_wl_server_refresh(struct ward_wl_server *srv)
{
	struct ward_list_node *node, *next;

	srv->gen++;
	ward_list_each(&srv->conns, node, next)
	{
		struct wl_conn *c = conn_of(node);

		if (c->closing)
			continue;
		for (struct wl_stream *st = c->streams; st; st = st->next)
			wl_stream_refresh(st);
		wl_conn_flush(c);
	}
	return srv->gen;
}

static int make_parent(const char *path)
{
	char *dir = strdup(path);

	ENSURE(dir, WARD_ERR_NOMEM, "socket: out of memory");
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST) {
		free(dir);
		return ward_err_set(WARD_ERR_IO, "%s: cannot create its directory: %s", path,
				    strerror(errno));
	}
	free(dir);
	return 0;
}

static void on_listener_closed(struct ward_unix_listener *l)
{
	wl_server_maybe_free(l->pipe.data);
}

int ward_wl_server_start(uv_loop_t *loop, const char *path, const struct ward_wl_ops *ops,
			 void *arg, struct ward_wl_server **out)
{
	struct ward_wl_server *srv = calloc(1, sizeof(*srv));
	int rc;

	*out = NULL;
	ENSURE(srv, WARD_ERR_NOMEM, "socket: out of memory");
	rc = make_parent(path);
	if (rc < 0) {
		free(srv);
		return rc;
	}
	srv->loop = loop;
	srv->ops = ops;
	srv->arg = arg;
	wl_limits_init(srv);
	rc = ward_unix_listener_start(&srv->listener, loop, path, SOCKET_MODE, 128, on_connection,
				      srv, on_listener_closed);
	if (rc < 0) {
		srv->stopping = true; /* freed once the listener has closed */
		wl_limits_stop(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

void ward_wl_server_stop(struct ward_wl_server *srv)
{
	struct ward_list_node *node, *next;

	if (!srv || srv->stopping)
		return;
	ward_list_each(&srv->conns, node, next)
	{
		struct wl_conn *c = conn_of(node);

		if (c->closing)
			continue;
		for (struct wl_stream *st = c->streams; st; st = st->next)
			wl_stream_end(st, WARD_GRPC_UNAVAILABLE, "server shutting down");
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
	}
	srv->stopping = true;
	ward_list_each(&srv->conns, node, next)
	{
		struct wl_conn *c = conn_of(node);

		if (!c->closing)
			wl_conn_flush(c); /* closes once its last bytes are written */
	}
	ward_unix_listener_stop(&srv->listener);
	wl_limits_stop(srv);
}
