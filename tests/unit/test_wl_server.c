/* The Workload API transport in memory: a real listener on the libuv loop
 * and an nghttp2 client on a plain unix socket, pumped by hand. The service
 * behind it is a fake whose state the tests change, so what is checked is
 * the wire: statuses (Trailers-Only and trailers), one message per state
 * change and none for an unchanged state, calls released exactly once, a
 * connection that sends garbage closed alone, the connection limits (silent
 * connections shed oldest first and closed when idle, never one with a call
 * granted), and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "lib/log.h"
#include "spiffe/grpc.h"
#include "server/wl_server.h"
#include "server/wl_server_impl.h"

#define SVID "/SpiffeWorkloadAPI/FetchX509SVID"
#define BUNDLES "/SpiffeWorkloadAPI/FetchX509Bundles"
#define MAX_STREAMS 8

/* ---- the fake service ---------------------------------------------------- */

static struct {
	char state[8 * 1024]; /* what build sends */
	int build_status;
	int opens, closes;
} svc;

static int call_token;

static void fake_open(void *arg, enum ward_wl_method m, const struct ward_attest_creds *creds,
		      void **call, struct ward_wl_status *st)
{
	assert_non_null(creds); /* the kernel knows the test process */
	assert_int_equal(creds->pid, getpid());
	if (m == WARD_WL_FETCH_X509_BUNDLES) {
		st->code = WARD_GRPC_PERMISSION_DENIED;
		snprintf(st->message, sizeof(st->message), "no identity issued");
		return;
	}
	svc.opens++;
	*call = &call_token;
}

static void fake_build(void *arg, void *call, struct ward_buf *msg, struct ward_wl_status *st)
{
	assert_ptr_equal(call, &call_token);
	if (svc.build_status) {
		st->code = svc.build_status;
		snprintf(st->message, sizeof(st->message), "broken 100%%");
		return;
	}
	assert_int_equal(ward_buf_append(msg, svc.state, strlen(svc.state)), 0);
}

static void fake_close(void *arg, void *call)
{
	assert_ptr_equal(call, &call_token);
	svc.closes++;
}

static const struct ward_wl_ops fake_ops = {fake_open, fake_build, fake_close};

/* ---- an nghttp2 client pumped by hand ------------------------------------ */

struct stream {
	int32_t id;
	char status[8];	  /* grpc-status, from headers or trailers */
	char message[64]; /* grpc-message, still percent-encoded */
	char http[8];	  /* :status */
	struct ward_grpc_reader body;
	int messages;
	char last[32]; /* the start of the last message */
	bool closed;
};

struct client {
	int fd;
	nghttp2_session *h2;
	struct stream streams[MAX_STREAMS];
	int n;
	bool eof;
};

static uv_loop_t loop;
static struct ward_wl_server *srv;
static struct client *open_clients[4]; /* for a failed test's teardown to close */
static char sock_path[64];

static struct stream *find(struct client *c, int32_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->streams[i].id == id)
			return &c->streams[i];
	return NULL;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct stream *st = find(user, f->hd.stream_id);
	char *dst = NULL;
	size_t cap = 0;

	if (!st)
		return 0;
	if (namelen == 11 && !memcmp(name, "grpc-status", 11))
		dst = st->status, cap = sizeof(st->status);
	else if (namelen == 12 && !memcmp(name, "grpc-message", 12))
		dst = st->message, cap = sizeof(st->message);
	else if (namelen == 7 && !memcmp(name, ":status", 7))
		dst = st->http, cap = sizeof(st->http);
	if (dst)
		snprintf(dst, cap, "%.*s", (int)valuelen, (const char *)value);
	return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *user)
{
	struct stream *st = find(user, id);
	const uint8_t *msg;
	size_t n;

	assert_non_null(st);
	assert_int_equal(ward_grpc_reader_feed(&st->body, data, len), 0);
	while (ward_grpc_reader_next(&st->body, &msg, &n) == 0) {
		st->messages++;
		snprintf(st->last, sizeof(st->last), "%.*s", (int)n, (const char *)msg);
	}
	return 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t err, void *user)
{
	struct stream *st = find(user, id);

	if (st)
		st->closed = true;
	return 0;
}

/* A client whose streams get an HTTP/2 window of window bytes. */
static void client_open_window(struct client *c, uint32_t window)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window};
	nghttp2_session_callbacks *cb;

	memset(c, 0, sizeof(*c));
	strcpy(sa.sun_path, sock_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	assert_int_equal(nghttp2_session_client_new(&c->h2, cb, c), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, &iv, 1), 0);
	for (size_t i = 0; i < 4; i++)
		if (!open_clients[i]) {
			open_clients[i] = c;
			break;
		}
}

static void client_open(struct client *c)
{
	client_open_window(c, NGHTTP2_INITIAL_WINDOW_SIZE);
}

static void client_close(struct client *c)
{
	for (int i = 0; i < c->n; i++)
		ward_grpc_reader_free(&c->streams[i].body);
	nghttp2_session_del(c->h2);
	close(c->fd);
	for (size_t i = 0; i < 4; i++)
		if (open_clients[i] == c)
			open_clients[i] = NULL;
}

static ssize_t empty_request(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
			     uint32_t *flags, nghttp2_data_source *src, void *user)
{
	memset(buf, 0, 5); /* an empty X509SVIDRequest, gRPC-framed */
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return 5;
}

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE         \
	}

static struct stream *request(struct client *c, const char *path, bool security_header)
{
	nghttp2_nv nva[] = {NV(":method", "POST"),
			    NV(":scheme", "http"),
			    NV(":path", path),
			    NV(":authority", "localhost"),
			    NV("content-type", "application/grpc"),
			    NV("te", "trailers"),
			    NV("workload.spiffe.io", "true")};
	nghttp2_data_provider body = {.read_callback = empty_request};
	struct stream *st = &c->streams[c->n++];

	ward_grpc_reader_init(&st->body, WARD_GRPC_MAX_MESSAGE);
	st->id = nghttp2_submit_request(c->h2, NULL, nva, security_header ? 7 : 6, &body, NULL);
	assert_true(st->id > 0);
	return st;
}

/* One round: the client writes what it has, the server's loop runs, the
 * client reads what came back. */
static void pump(struct client *c)
{
	const uint8_t *out;
	uint8_t in[16384];
	ssize_t n;

	while ((n = nghttp2_session_mem_send(c->h2, &out)) > 0)
		assert_int_equal(write(c->fd, out, (size_t)n), n);
	uv_run(&loop, UV_RUN_NOWAIT);
	while ((n = read(c->fd, in, sizeof(in))) > 0)
		assert_true(nghttp2_session_mem_recv(c->h2, in, (size_t)n) >= 0);
	if (n == 0)
		c->eof = true;
}

static void pump_until(struct client *c, bool (*done)(struct client *, void *), void *arg)
{
	for (int i = 0; i < 2000 && !done(c, arg); i++) {
		pump(c);
		if (!done(c, arg))
			usleep(1000);
	}
	assert_true(done(c, arg));
}

static bool has_status(struct client *c, void *st)
{
	return ((struct stream *)st)->status[0] != '\0';
}

static bool has_messages(struct client *c, void *arg)
{
	return c->streams[0].messages >= *(int *)arg;
}

static bool at_eof(struct client *c, void *arg)
{
	return c->eof;
}

/* ---- tests --------------------------------------------------------------- */

static int setup(void **state)
{
	memset(&svc, 0, sizeof(svc));
	strcpy(svc.state, "v1");
	snprintf(sock_path, sizeof(sock_path), "/tmp/ward-test-wl-%d.sock", getpid());
	uv_loop_init(&loop);
	return ward_wl_server_start(&loop, sock_path, &fake_ops, NULL, &srv) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	for (size_t i = 0; i < 4; i++)
		if (open_clients[i])
			client_close(open_clients[i]);
	ward_wl_server_stop(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	return uv_loop_close(&loop) == 0 ? 0 : -1;
}

static void test_stream_pushes_changes_only(void **state)
{
	struct client c;
	struct stream *st;
	int want = 1;

	client_open(&c);
	st = request(&c, SVID, true);
	pump_until(&c, has_messages, &want);
	assert_string_equal(st->http, "200");
	assert_string_equal(st->last, "v1");
	assert_int_equal(svc.opens, 1);
	/* The same state again is not sent. */
	ward_wl_server_refresh(srv);
	for (int i = 0; i < 20; i++)
		pump(&c);
	assert_int_equal(st->messages, 1);
	/* A new one is. */
	strcpy(svc.state, "v2");
	ward_wl_server_refresh(srv);
	want = 2;
	pump_until(&c, has_messages, &want);
	assert_string_equal(st->last, "v2");
	assert_string_equal(st->status, ""); /* still open */
	/* A build that fails ends the call with trailers. */
	svc.build_status = WARD_GRPC_INTERNAL;
	ward_wl_server_refresh(srv);
	pump_until(&c, has_status, st);
	assert_string_equal(st->status, "13");
	assert_string_equal(st->message, "broken 100%25"); /* percent-encoded */
	assert_int_equal(st->messages, 2);
	client_close(&c);
	for (int i = 0; i < 50 && svc.closes == 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_int_equal(svc.closes, 1);
}

static void test_refusals(void **state)
{
	struct stream *nohdr, *unknown, *jwt, *bundles;
	struct client c;

	client_open(&c);
	nohdr = request(&c, SVID, false);
	unknown = request(&c, "/SpiffeWorkloadAPI/Nope", true);
	jwt = request(&c, "/SpiffeWorkloadAPI/FetchJWTBundles", true);
	bundles = request(&c, BUNDLES, true);
	pump_until(&c, has_status, bundles);
	pump_until(&c, has_status, nohdr);
	pump_until(&c, has_status, unknown);
	pump_until(&c, has_status, jwt);
	assert_string_equal(nohdr->status, "3");
	assert_string_equal(nohdr->message, "security header missing from request");
	assert_string_equal(unknown->status, "12");
	assert_string_equal(jwt->status, "12");
	assert_string_equal(bundles->status, "7");
	assert_string_equal(bundles->message, "no identity issued");
	/* Trailers-Only: HTTP 200, no message. */
	assert_string_equal(nohdr->http, "200");
	assert_int_equal(nohdr->messages + unknown->messages + bundles->messages, 0);
	assert_int_equal(svc.opens, 0); /* refused before the service saw them */
	client_close(&c);
}

static void test_garbage_closes_one_connection(void **state)
{
	struct client bad, good;
	int want = 1;

	client_open(&bad);
	assert_int_equal(write(bad.fd, "GET / HTTP/1.1\r\n\r\n", 18), 18);
	client_open(&good);
	request(&good, SVID, true);
	pump_until(&bad, at_eof, NULL);
	pump_until(&good, has_messages, &want);
	assert_false(good.eof);
	client_close(&bad);
	client_close(&good);
}

/* Lets the server accept (and shed) what has connected so far. */
static void settle(void)
{
	for (int i = 0; i < 20; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

/* A client that never wrote a byte: the server closes it (within 2 s). */
static bool closed_silently(struct client *c)
{
	char b[64];
	ssize_t n;

	for (int i = 0; i < 2000; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		n = read(c->fd, b, sizeof(b));
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
		usleep(1000);
	}
	return false;
}

static void test_limits(void **state)
{
	struct client granted, late, silent[3];
	struct ward_wl_limits l;
	int want = 1;

	ward_wl_limits_default(&l);
	l.max_pending = l.max_pending_per_uid = 2;
	l.idle_timeout_ms = 300;
	ward_wl_server_set_limits(srv, &l);
	client_open(&granted);
	request(&granted, SVID, true);
	pump_until(&granted, has_messages, &want);
	/* Three silent connections (no preface): the pending budget holds two,
	 * the oldest goes; the one with a call granted is not pending. */
	for (int i = 0; i < 3; i++) {
		client_open(&silent[i]);
		settle();
	}
	assert_true(closed_silently(&silent[0]));
	/* A newcomer that asks is served: the oldest silent one makes way. */
	client_open(&late);
	request(&late, SVID, true);
	pump_until(&late, has_messages, &want);
	assert_true(closed_silently(&silent[1]));
	/* Silent ones are closed after idle_timeout_ms; open calls never are. */
	assert_true(closed_silently(&silent[2]));
	for (int i = 0; i < 60; i++) {
		pump(&granted);
		usleep(10000);
	}
	assert_false(granted.eof);
	assert_false(late.eof);
	assert_int_equal(svc.opens, 2);
	for (int i = 0; i < 3; i++)
		client_close(&silent[i]);
	client_close(&late);
	client_close(&granted);
}

static void delivery(uint64_t gen, size_t open, size_t sent)
{
	struct ward_wl_delivery d;

	ward_wl_server_delivery(srv, gen, &d);
	assert_int_equal(d.open, open);
	assert_int_equal(d.sent, sent);
	assert_int_equal(d.n_lag, open - sent);
}

static bool all_sent(struct client *c, void *gen)
{
	struct ward_wl_delivery d;

	ward_wl_server_delivery(srv, *(uint64_t *)gen, &d);
	return d.sent == d.open;
}

/* What a forced CA rotation waits for: every open stream written the state
 * of a generation; a peer whose window is shut stays behind, named. */
static void test_delivery(void **state)
{
	struct client fast, stalled;
	struct stream *st;
	struct ward_wl_delivery d;
	uint64_t gen;
	int want = 1;

	client_open(&fast);
	request(&fast, SVID, true);
	pump_until(&fast, has_messages, &want);
	gen = ward_wl_server_refresh(srv);
	delivery(gen, 1, 1); /* the same state: the message sent stands for it */
	strcpy(svc.state, "v2");
	delivery(gen + 1, 1, 0); /* a generation not yet built */
	gen = ward_wl_server_refresh(srv);
	delivery(gen, 1, 1); /* written to the socket at once */

	/* A stream whose window is zero is open but never sent anything. */
	client_open_window(&stalled, 0);
	st = request(&stalled, SVID, true);
	for (int i = 0; i < 20; i++)
		pump(&stalled);
	assert_int_equal(st->messages, 0);
	strcpy(svc.state, "v3");
	gen = ward_wl_server_refresh(srv);
	ward_wl_server_delivery(srv, gen, &d);
	assert_int_equal(d.open, 2);
	assert_int_equal(d.sent, 1);
	assert_int_equal(d.n_lag, 1);
	assert_int_equal(d.lag[0].pid, getpid());
	assert_int_equal(d.lag[0].uid, getuid());
	assert_int_equal(d.lag[0].stream, st->id);
	/* Its window opens: it catches up. */
	assert_int_equal(nghttp2_submit_window_update(stalled.h2, NGHTTP2_FLAG_NONE, st->id, 65535),
			 0);
	pump_until(&stalled, all_sent, &gen);
	want = 1;
	pump_until(&stalled, has_messages, &want);
	assert_string_equal(st->last, "v3");
	client_close(&fast);
	client_close(&stalled);
}

/* Handed over is not written: a message nghttp2 took in full whose bytes
 * wait in the connection's write queue (the kernel's buffer is full: the
 * peer stopped reading) is not delivered yet. White-box: the queue is read
 * from the connection itself. */
static void test_delivery_counts_written_bytes(void **state)
{
	const struct wl_conn *conn;
	struct client c;
	struct stream *st;
	uint64_t gen = 0;
	int want = 1, i;

	client_open_window(&c, 16 * 1024 * 1024);
	assert_int_equal(nghttp2_submit_window_update(c.h2, NGHTTP2_FLAG_NONE, 0, 64 << 20), 0);
	st = request(&c, SVID, true);
	pump_until(&c, has_messages, &want);
	conn = ward_list_entry(srv->conns.head, struct wl_conn, link);
	/* The client stops reading; 4 KiB states fill the kernel's buffer. */
	for (i = 0; i < 4096 && conn->sock.queued == 0; i++) {
		snprintf(svc.state, sizeof(svc.state), "%04d%4092d", i, 0);
		gen = ward_wl_server_refresh(srv);
	}
	assert_true(conn->sock.queued > 0 && conn->sock.queued < WL_WRITE_HIGH);
	delivery(gen, 1, 0);
	/* It reads again: the last state arrives, and counts as delivered. */
	pump_until(&c, all_sent, &gen);
	for (int k = 0; k < 2000 && atoi(st->last) != i - 1; k++)
		pump(&c);
	assert_int_equal(atoi(st->last), i - 1);
	client_close(&c);
}

static void test_stop_ends_streams(void **state)
{
	struct client c;
	struct stream *st;
	int want = 1;

	client_open(&c);
	st = request(&c, SVID, true);
	pump_until(&c, has_messages, &want);
	ward_wl_server_stop(srv);
	srv = NULL;
	pump_until(&c, has_status, st);
	assert_string_equal(st->status, "14");
	pump_until(&c, at_eof, NULL);
	assert_int_equal(svc.closes, 1);
	assert_int_equal(access(sock_path, F_OK), -1); /* socket file removed */
	client_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream_pushes_changes_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_closes_one_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_counts_written_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_ends_streams, setup, teardown),
	};

	ward_log_set_level(WARD_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("wl_server", tests, NULL, NULL);
}
