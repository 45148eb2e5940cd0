/* The HTTP server on a real unix socket: a client thread talks to it while
 * the test's loop serves. Plain and HTTPS requests, keep-alive with pipelined
 * requests, and the refusals that must answer and close: malformed, oversize,
 * too slow (a silent client, a trickled head), errors, too many clients (the
 * oldest idle one makes way, busy ones never do); the server keeps serving
 * after each. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/http.h"

#define FIX "tests/unit/fixtures/"

struct harness {
	uv_loop_t loop;
	uv_async_t done;
	struct ward_http_server *srv;
	char path[108];
	void (*client)(struct harness *h);
	int requests; /* handled, counted on the loop thread */
	struct ward_http_pending *pending;
	uv_timer_t later;
	struct ward_http_pending *held[4]; /* /hold: answered together, 300 ms on */
	int n_held;
	uv_timer_t release;
};

static WOLFSSL_CTX *tls_client_ctx;

static void on_later(uv_timer_t *t)
{
	struct harness *h = t->data;
	struct ward_http_response r = {0};

	assert_int_equal(ward_http_response_text(&r, 200, "later"), 0);
	ward_http_pending_reply(h->pending, &r);
	h->pending = NULL;
}

static void on_release(uv_timer_t *t)
{
	struct harness *h = t->data;

	for (int i = 0; i < h->n_held; i++) {
		struct ward_http_response r = {0};

		assert_int_equal(ward_http_response_text(&r, 200, "held"), 0);
		ward_http_pending_reply(h->held[i], &r);
	}
	h->n_held = 0;
}

static void handler(struct ward_http_server *srv, const struct ward_http_request *req,
		    struct ward_http_response *resp, void *arg)
{
	struct harness *h = arg;

	h->requests++;
	if (ward_http_path_is(req, "/hold") && h->n_held < 4) { /* busy for a while */
		h->held[h->n_held] = ward_http_defer(srv, req);
		assert_non_null(h->held[h->n_held++]);
		uv_timer_start(&h->release, on_release, 300, 0);
		return;
	}
	if (ward_http_path_is(req, "/later")) { /* answered on the next loop turn */
		h->pending = ward_http_defer(srv, req);
		assert_non_null(h->pending);
		uv_timer_start(&h->later, on_later, 0, 0);
		return;
	}
	if (!ward_http_path_is(req, "/echo")) {
		assert_int_equal(ward_http_response_text(resp, 404, "no such path"), 0);
		return;
	}
	assert_int_equal(ward_http_response_text(resp, 200, "%s %.*s", http_method_str(req->method),
						 (int)req->body.len, req->body.p),
			 0);
}

static int dial(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Sends req and reads until the server closes. */
static char *exchange(struct harness *h, const char *req)
{
	static char out[65536];
	size_t len = 0;
	ssize_t n;
	int fd = dial(h->path);

	if (*req)
		assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (len < sizeof(out) - 1 && (n = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd);
	return out;
}

static void on_done(uv_async_t *a)
{
	struct harness *h = a->data;

	ward_http_server_free(h->srv);
	uv_close((uv_handle_t *)&h->done, NULL);
	uv_close((uv_handle_t *)&h->later, NULL);
	uv_close((uv_handle_t *)&h->release, NULL);
}

static void client_thread(void *arg)
{
	struct harness *h = arg;

	h->client(h);
	uv_async_send(&h->done);
}

static void run(void (*client)(struct harness *h), const struct ward_http_limits *l,
		WOLFSSL_CTX *server_ctx)
{
	struct harness h = {.client = client};
	uv_thread_t t;

	snprintf(h.path, sizeof(h.path), "/tmp/ward-test-http-%d.sock", (int)getpid());
	assert_int_equal(uv_loop_init(&h.loop), 0);
	uv_async_init(&h.loop, &h.done, on_done);
	h.done.data = &h;
	uv_timer_init(&h.loop, &h.later);
	h.later.data = &h;
	uv_timer_init(&h.loop, &h.release);
	h.release.data = &h;
	assert_int_equal(ward_http_server_new(&h.loop, l, handler, &h, &h.srv), 0);
	assert_int_equal(ward_http_server_listen_unix(h.srv, h.path), 0);
	if (server_ctx)
		assert_int_equal(ward_http_server_set_tls(h.srv, server_ctx), 0);
	assert_int_equal(uv_thread_create(&t, client_thread, &h), 0);
	uv_run(&h.loop, UV_RUN_DEFAULT);
	uv_thread_join(&t);
	assert_int_equal(uv_loop_close(&h.loop), 0);
	unlink(h.path);
}

static struct ward_http_limits small_limits(void)
{
	struct ward_http_limits l;

	ward_http_limits_default(&l);
	l.header_bytes = 1024;
	l.body_bytes = 64;
	l.header_timeout_ms = 1000;
	l.request_timeout_ms = 1000;
	l.idle_timeout_ms = 1000;
	l.max_clients = 2;
	return l;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads what fd has until the server closes it. */
static char *read_all(int fd)
{
	static char out[4096];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(out) - 1 && (n = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return out;
}

/* The server closed fd (within ms). */
static bool closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b[256];

	return poll(&p, 1, ms) == 1 && read(fd, b, sizeof(b)) == 0;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void plain_client(struct harness *h)
{
	char big[2048];
	const char *out;

	out =
	    exchange(h, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
	assert_true(starts(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "\r\n\r\nPOST hi\n"));
	/* pipelined: both answered in order on one connection */
	out = exchange(h,
		       "GET /echo HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(starts(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Connection: keep-alive"));
	assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
	/* HEAD: the headers of the GET, no body, and the connection stays in step */
	out = exchange(
	    h, "HEAD /echo HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(starts(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Length: 6\r\n")); /* of "HEAD \n", not sent */
	assert_non_null(strstr(out, "keep-alive\r\n\r\nHTTP/1.1 404 "));
	/* an error closes a kept-alive connection: the request behind it is not read */
	out = exchange(h, "GET /nope HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
	assert_true(starts(out, "HTTP/1.1 404 "));
	assert_non_null(strstr(out, "Connection: close"));
	assert_null(strstr(out, "200 OK"));
	out = exchange(h, "GET /later HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(starts(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "\r\n\r\nlater\n"));
	assert_true(starts(exchange(h, "BLAH\r\n\r\n"), "HTTP/1.1 400 "));
	assert_true(starts(exchange(h, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n"),
			   "HTTP/1.1 413 "));
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /echo HTTP/1.1\r\nX: ", 23);
	big[sizeof(big) - 1] = '\0';
	assert_true(starts(exchange(h, big), "HTTP/1.1 431 "));
	/* slowloris: half a request line, then nothing */
	out = exchange(h, "GET /echo HT");
	assert_true(starts(out, "HTTP/1.1 408 "));
	assert_non_null(strstr(out, "Connection: close"));
	/* still serving */
	out = exchange(h, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(starts(out, "HTTP/1.1 200 OK\r\n"));
}

static void test_plain(void **state)
{
	struct ward_http_limits l = small_limits();

	(void)state;
	l.max_clients = 16;
	run(plain_client, &l, NULL);
}

static void busy_client(struct harness *h)
{
	const char *hold = "GET /hold HTTP/1.1\r\nConnection: close\r\n\r\n";
	int a = dial(h->path), b = dial(h->path);

	/* two clients being answered hold the two slots: a third gets 503 */
	assert_int_equal(write(a, hold, strlen(hold)), (ssize_t)strlen(hold));
	assert_int_equal(write(b, hold, strlen(hold)), (ssize_t)strlen(hold));
	usleep(100000);
	assert_true(starts(exchange(h, "GET /echo HTTP/1.1\r\n\r\n"), "HTTP/1.1 503 "));
	assert_true(starts(read_all(a), "HTTP/1.1 200 "));
	assert_true(starts(read_all(b), "HTTP/1.1 200 "));
	close(a);
	close(b);
	/* once the server has seen the closes, a slot is free again */
	for (int i = 0; i < 500; i++) {
		if (starts(exchange(h, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n"),
			   "HTTP/1.1 200 "))
			return;
		usleep(10000);
	}
	fail_msg("no slot freed after the two clients closed");
}

static void test_max_clients(void **state)
{
	struct ward_http_limits l = small_limits();

	(void)state;
	l.header_timeout_ms = l.request_timeout_ms = 5000;
	run(busy_client, &l, NULL);
}

/* Clients that only hold a place (silent, or a head never finished) make way
 * for a newcomer, the oldest first. */
static void idle_client(struct harness *h)
{
	int a = dial(h->path), b = dial(h->path);

	assert_int_equal(write(b, "GET /echo HTTP/1.1\r\nX: ", 23), 23);
	usleep(100000);
	assert_true(starts(exchange(h, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n"),
			   "HTTP/1.1 200 "));
	assert_true(closed_within(a, 1000)); /* the oldest went */
	close(a);
	a = dial(h->path); /* full again: b (half a request) and a */
	usleep(100000);
	assert_true(starts(exchange(h, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n"),
			   "HTTP/1.1 200 "));
	assert_true(closed_within(b, 1000)); /* the oldest again */
	assert_false(closed_within(a, 100));
	close(a);
	close(b);
}

static void test_idle_clients_make_way(void **state)
{
	struct ward_http_limits l = small_limits();

	(void)state;
	l.header_timeout_ms = l.request_timeout_ms = l.idle_timeout_ms = 10000;
	run(idle_client, &l, NULL);
}

/* The head has its own deadline, however the bytes trickle in; a kept-alive
 * connection with nothing to say is closed after the idle time, without 408. */
static void slow_client(struct harness *h)
{
	const char *req = "GET /echo HTTP/1.1\r\n\r\n";
	uint64_t t0 = now_ms();
	int fd = dial(h->path), i;
	char *out;

	assert_int_equal(write(fd, "GET /echo HTTP/1.1\r\n", 20), 20);
	for (i = 0; i < 40 && write(fd, "X: y\r\n", 6) == 6; i++)
		usleep(50000);
	out = read_all(fd);
	close(fd);
	assert_true(starts(out, "HTTP/1.1 408 "));
	assert_true(now_ms() - t0 < 1500); /* header_timeout 300, not request_timeout 3000 */
	fd = dial(h->path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	out = read_all(fd); /* the answer, then the close at the idle time */
	assert_true(starts(out, "HTTP/1.1 200 "));
	assert_null(strstr(out, "408"));
	close(fd);
}

static void test_header_timeout(void **state)
{
	struct ward_http_limits l = small_limits();

	(void)state;
	l.header_timeout_ms = 300;
	l.request_timeout_ms = 3000;
	l.idle_timeout_ms = 200;
	run(slow_client, &l, NULL);
}

static void tls_client(struct harness *h)
{
	WOLFSSL *ssl = wolfSSL_new(tls_client_ctx);
	int fd = dial(h->path);
	const char *req =
	    "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
	char out[4096];
	int n, len = 0;

	assert_non_null(ssl);
	wolfSSL_set_fd(ssl, fd);
	assert_int_equal(wolfSSL_connect(ssl), WOLFSSL_SUCCESS);
	assert_int_equal(wolfSSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	while (len < (int)sizeof(out) - 1 &&
	       (n = wolfSSL_read(ssl, out + len, (int)sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	assert_true(starts(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "\r\n\r\nPOST abc\n"));
	wolfSSL_free(ssl);
	close(fd);
}

static void test_https(void **state)
{
	struct ward_http_limits l = small_limits();
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());

	(void)state;
	/* handshakes under valgrind are slow */
	l.header_timeout_ms = l.request_timeout_ms = 20000;
	assert_int_equal(wolfSSL_CTX_use_certificate_chain_file(sctx, FIX "good.pem"),
			 WOLFSSL_SUCCESS);
	assert_int_equal(
	    wolfSSL_CTX_use_PrivateKey_file(sctx, FIX "leaf.key", WOLFSSL_FILETYPE_PEM),
	    WOLFSSL_SUCCESS);
	tls_client_ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	wolfSSL_CTX_set_verify(tls_client_ctx, WOLFSSL_VERIFY_NONE, NULL);
	run(tls_client, &l, sctx);
	/* the server took its own ref: ours is still good, and the last */
	wolfSSL_CTX_free(sctx);
	wolfSSL_CTX_free(tls_client_ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_max_clients),
	    cmocka_unit_test(test_idle_clients_make_way),
	    cmocka_unit_test(test_header_timeout),
	    cmocka_unit_test(test_https),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN); /* as the agent does: a closed peer is an error code */
	wolfSSL_Init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	wolfSSL_Cleanup();
	return rc;
}
