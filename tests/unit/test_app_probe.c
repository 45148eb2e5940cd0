/* The app probes the agent runs for the kubelet (agent/app_probe.h): the
 * WARD_APP_PROBES parser with its bad inputs, and probes run for real on a
 * libuv loop: an "app" HTTP server and an "admin" server whose handler is
 * the prober, both on loopback, asked by a client thread as the kubelet
 * would. httpGet passes and fails by status, tcpSocket by connect, a probe
 * that gets no answer fails at its timeout, too many at once are refused,
 * and shutting down answers the probes in flight. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "agent/app_probe_impl.h"
#include "lib/http.h"

/* --- the parser --- */

static void parses(const char *json, unsigned n)
{
	struct ward_app_probes *p = NULL;

	if (ward_app_probes_parse(json, &p) < 0)
		fail_msg("%s: %s", json, ward_err_msg());
	assert_int_equal(ward_app_probes_count(p), n);
	ward_app_probes_free(p);
}

static void refuses(const char *json, const char *why)
{
	struct ward_app_probes *p = NULL;

	assert_true(ward_app_probes_parse(json, &p) < 0);
	assert_null(p);
	if (!strstr(ward_err_msg(), why))
		fail_msg("%s: got '%s', want '%s'", json, ward_err_msg(), why);
}

static void test_parse(void **state)
{
	char many[8192];
	size_t o = 0;

	(void)state;
	parses(NULL, 0);
	parses("", 0);
	parses("{}", 0);
	parses("{\"/app-health/web/readiness\": {\"httpGet\": {\"path\": \"/healthz?x=1\", "
	       "\"port\": 8080, \"scheme\": \"HTTPS\", \"httpHeaders\": [{\"name\": \"X-A\", "
	       "\"value\": \"b c\"}, {\"name\": \"Empty\", \"value\": \"\"}]}, "
	       "\"timeoutSeconds\": 3},"
	       " \"/app-health/web/liveness\": {\"tcpSocket\": {\"port\": 8080}},"
	       " \"/app-health/web/startup\": {\"grpc\": {\"port\": 9090, \"service\": \"s\"}}}",
	       3);
	refuses("[1]", "must be an object");
	refuses("{\"/app-health/a/b\": 1", "column");
	refuses("{\"/healthz\": {\"tcpSocket\": {\"port\": 1}}}", "a path under /app-health/");
	refuses("{\"/app-health/A/b\": {\"tcpSocket\": {\"port\": 1}}}", "lowercase");
	refuses("{\"/app-health/../b\": {\"tcpSocket\": {\"port\": 1}}}", "a path under");
	refuses("{\"/app-health/\": {\"tcpSocket\": {\"port\": 1}}}", "a path under");
	refuses("{\"/app-health/a/b\": {}}", "exactly one of httpGet, tcpSocket, grpc");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 1}, \"grpc\": {\"port\": 1}}}",
		"exactly one");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {}}}", "the port is required");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 0}}}", "port");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 65536}}}", "port");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": \"http\"}}}", "port");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 1, \"host\": \"10.0.0.1\"}}}",
		"host: not supported");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 1, \"path\": \"/\"}}}",
		"tcpSocket.path: unknown key");
	refuses("{\"/app-health/a/b\": {\"exec\": {\"command\": [\"true\"]}}}",
		"exec: unknown key");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 1}, \"timeoutSeconds\": 0}}",
		"timeoutSeconds");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 1}, \"timeoutSeconds\": 61}}",
		"timeoutSeconds");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"path\": \"x\"}}}",
		"must start with '/'");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"path\": \"/a b\"}}}",
		"no spaces");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"path\": \"/\\r\\nX: y\"}}}",
		"control characters");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"scheme\": \"FTP\"}}}",
		"HTTP or HTTPS");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"httpHeaders\": "
		"[{\"name\": \"X\"}]}}}",
		"needs name and value");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"httpHeaders\": "
		"[{\"name\": \"X: y\\r\\nZ\", \"value\": \"v\"}]}}}",
		"not an HTTP header name");
	refuses("{\"/app-health/a/b\": {\"httpGet\": {\"port\": 1, \"httpHeaders\": "
		"[{\"name\": \"X\", \"value\": \"v\\r\\nInjected: 1\"}]}}}",
		"control characters");
	refuses("{\"/app-health/a/b\": {\"grpc\": {\"port\": 1, \"service\": 7}}}",
		"must be a string");
	refuses("{\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 1}}, "
		"\"/app-health/a/b\": {\"tcpSocket\": {\"port\": 2}}}",
		"duplicate");
	o += (size_t)snprintf(many + o, sizeof(many) - o, "{");
	for (int i = 0; i <= WARD_APP_PROBE_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o,
				      "%s\"/app-health/c/%d\": {\"tcpSocket\": {\"port\": 1}}",
				      i ? "," : "", i);
	snprintf(many + o, sizeof(many) - o, "}");
	refuses(many, "more than 64 probes");
}

/* --- probes on a loop --- */

struct harness {
	uv_loop_t loop;
	uv_async_t done;
	uv_timer_t later;
	struct ward_http_server *app, *admin, *app_pod_ip;
	struct ward_app_probes *probes;
	unsigned app_port, admin_port, closed_port, pod_ip_port;
	struct ward_http_pending *held[32]; /* the app's /slow requests */
	size_t n_held;
	void (*client)(struct harness *h);
	bool done_sent; /* the client ended the test itself */
};

static unsigned free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* The app: /healthz 200, /moved 302, /bad 500, /slow never answers (until
 * the test ends). */
static void app_handler(struct ward_http_server *srv, const struct ward_http_request *req,
			struct ward_http_response *r, void *arg)
{
	struct harness *h = arg;
	struct ward_http_slice ua = ward_http_header_get(req, "user-agent");
	struct ward_http_slice x = ward_http_header_get(req, "x-probe");

	if (ward_http_path_is(req, "/slow")) {
		assert_true(h->n_held < 32);
		h->held[h->n_held++] = ward_http_defer(srv, req);
		return;
	}
	/* The kubelet's User-Agent, and the probe's own headers, reach the app. */
	assert_true(ua.len > 10 && !memcmp(ua.p, "kube-probe", 10));
	if (ward_http_path_is(req, "/healthz"))
		assert_true(x.len == 3 && !memcmp(x.p, "yes", 3));
	assert_int_equal(ward_http_response_text(r,
						 ward_http_path_is(req, "/healthz") ? 200
						 : ward_http_path_is(req, "/moved") ? 302
										    : 500,
						 "app"),
			 0);
}

static void admin_handler(struct ward_http_server *srv, const struct ward_http_request *req,
			  struct ward_http_response *r, void *arg)
{
	struct harness *h = arg;

	if (!ward_app_probes_serve(h->probes, srv, req, r))
		assert_int_equal(ward_http_response_text(r, 404, "not a probe"), 0);
}

static int dial(unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void send_probe(int fd, const char *method, const char *path)
{
	char req[512];
	int n =
	    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nConnection: close\r\n\r\n", method, path);

	assert_int_equal(write(fd, req, (size_t)n), n);
}

/* The whole answer, until the admin closes. */
static char *read_all(int fd)
{
	static char out[8192];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(out) - 1 && (n = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd);
	return out;
}

static char *probe(struct harness *h, const char *method, const char *path)
{
	int fd = dial(h->admin_port);

	send_probe(fd, method, path);
	return read_all(fd);
}

static void expect(const char *out, const char *status, const char *body)
{
	if (strncmp(out, status, strlen(status)) || !strstr(out, body))
		fail_msg("got '%s', want '%s' ... '%s'", out, status, body);
}

static void on_later(uv_timer_t *t)
{
	struct harness *h = t->data;

	/* Shut down with probes in flight: each is answered. */
	ward_app_probes_free(h->probes);
	h->probes = NULL;
	for (size_t i = 0; i < h->n_held; i++) {
		struct ward_http_response r = {.status = 200};

		ward_http_pending_reply(h->held[i], &r);
	}
	ward_http_server_free(h->app);
	ward_http_server_free(h->admin);
	ward_http_server_free(h->app_pod_ip);
	uv_close((uv_handle_t *)&h->done, NULL);
	uv_close((uv_handle_t *)&h->later, NULL);
}

static void on_done(uv_async_t *a)
{
	struct harness *h = a->data;

	uv_timer_start(&h->later, on_later, 0, 0);
}

static void client_thread(void *arg)
{
	struct harness *h = arg;

	h->client(h);
	if (!h->done_sent)
		uv_async_send(&h->done);
}

static void listen_on(struct ward_http_server *srv, const char *ip, unsigned port)
{
	struct ward_addr a;
	char text[80];

	snprintf(text, sizeof(text), "%s:%u", ip, port);
	assert_int_equal(ward_addr_parse(text, &a), 0);
	assert_int_equal(ward_http_server_listen_tcp(srv, &a), 0);
}

static void run(void (*client)(struct harness *h))
{
	struct harness h = {.client = client};
	struct ward_http_limits l;
	char json[2048];
	uv_thread_t t;

	h.app_port = free_port();
	h.admin_port = free_port();
	h.closed_port = free_port();
	h.pod_ip_port = free_port();
	snprintf(json, sizeof(json),
		 "{\"/app-health/web/readiness\": {\"httpGet\": {\"path\": \"/healthz\", \"port\": "
		 "%u, \"httpHeaders\": [{\"name\": \"X-Probe\", \"value\": \"yes\"}]}},"
		 " \"/app-health/web/moved\": {\"httpGet\": {\"path\": \"/moved\", \"port\": %u}},"
		 " \"/app-health/web/bad\": {\"httpGet\": {\"path\": \"/bad\", \"port\": %u}},"
		 " \"/app-health/web/slow\": {\"httpGet\": {\"path\": \"/slow\", \"port\": %u}},"
		 " \"/app-health/web/liveness\": {\"tcpSocket\": {\"port\": %u}},"
		 " \"/app-health/web/closed\": {\"tcpSocket\": {\"port\": %u}},"
		 " \"/app-health/web/grpc\": {\"grpc\": {\"port\": %u}},"
		 " \"/app-health/web/pod-ip\": {\"httpGet\": {\"path\": \"/healthz\", \"port\": %u,"
		 " \"httpHeaders\": [{\"name\": \"X-Probe\", \"value\": \"yes\"}]}}}",
		 h.app_port, h.app_port, h.app_port, h.app_port, h.app_port, h.closed_port,
		 h.app_port, h.pod_ip_port);
	assert_int_equal(ward_app_probes_parse(json, &h.probes), 0);
	assert_int_equal(uv_loop_init(&h.loop), 0);
	assert_int_equal(ward_app_probes_start(h.probes, &h.loop), 0);
	uv_async_init(&h.loop, &h.done, on_done);
	uv_timer_init(&h.loop, &h.later);
	h.done.data = h.later.data = &h;
	ward_http_limits_default(&l);
	assert_int_equal(ward_http_server_new(&h.loop, &l, app_handler, &h, &h.app), 0);
	assert_int_equal(ward_http_server_new(&h.loop, &l, admin_handler, &h, &h.admin), 0);
	listen_on(h.app, "127.0.0.1", h.app_port);
	listen_on(h.admin, "127.0.0.1", h.admin_port);
	/* An app on this host's own address only, as an app bound to its pod IP. */
	if (h.probes->pod_ip[0] && h.probes->pod_ip[0] != '[') {
		assert_int_equal(ward_http_server_new(&h.loop, &l, app_handler, &h, &h.app_pod_ip),
				 0);
		listen_on(h.app_pod_ip, h.probes->pod_ip, h.pod_ip_port);
	}
	assert_int_equal(uv_thread_create(&t, client_thread, &h), 0);
	uv_run(&h.loop, UV_RUN_DEFAULT);
	uv_thread_join(&t);
	assert_int_equal(uv_loop_close(&h.loop), 0);
}

static void verdicts(struct harness *h)
{
	expect(probe(h, "GET", "/app-health/web/readiness"), "HTTP/1.1 200 ", "ok");
	expect(probe(h, "HEAD", "/app-health/web/readiness"), "HTTP/1.1 200 ", "");
	expect(probe(h, "GET", "/app-health/web/moved"), "HTTP/1.1 200 ", "ok");
	expect(probe(h, "GET", "/app-health/web/bad"), "HTTP/1.1 503 ", "HTTP status 500");
	expect(probe(h, "GET", "/app-health/web/liveness"), "HTTP/1.1 200 ", "ok");
	expect(probe(h, "GET", "/app-health/web/closed"), "HTTP/1.1 503 ",
	       "cannot connect to 127.0.0.1:");
	/* An HTTP/1.1 server is no gRPC health service. */
	expect(probe(h, "GET", "/app-health/web/grpc"), "HTTP/1.1 503 ", "");
	/* The default timeout is 1 s: the app's silence is a failure. */
	expect(probe(h, "GET", "/app-health/web/slow"), "HTTP/1.1 503 ", "within 1000 ms");
	/* Refused on loopback, the probe tries the pod's (here: this host's)
	 * address, where an app bound to it alone answers. */
	if (h->app_pod_ip)
		expect(probe(h, "GET", "/app-health/web/pod-ip"), "HTTP/1.1 200 ", "ok");
	else
		printf("(no non-loopback IPv4 address here: pod-ip probe not run)\n");
	expect(probe(h, "GET", "/app-health/web/nope"), "HTTP/1.1 404 ", "no such app probe");
	expect(probe(h, "GET", "/app-health/web/readiness/x"), "HTTP/1.1 404 ", "");
	expect(probe(h, "POST", "/app-health/web/readiness"), "HTTP/1.1 405 ", "use GET");
	expect(probe(h, "GET", "/elsewhere"), "HTTP/1.1 404 ", "not a probe");
}

static void test_verdicts(void **state)
{
	(void)state;
	run(verdicts);
}

/* WARD_APP_PROBE_MAX_INFLIGHT probes wait on the silent app; the next is
 * refused at once; the probe of a healthy path is not blocked by them for
 * longer than their timeout; closing with probes in flight answers them. */
static void crowd(struct harness *h)
{
	int fds[WARD_APP_PROBE_MAX_INFLIGHT];

	for (int i = 0; i < WARD_APP_PROBE_MAX_INFLIGHT; i++) {
		fds[i] = dial(h->admin_port);
		send_probe(fds[i], "GET", "/app-health/web/slow");
	}
	usleep(200 * 1000);
	expect(probe(h, "GET", "/app-health/web/readiness"), "HTTP/1.1 503 ",
	       "too many app probes in flight");
	for (int i = 0; i < WARD_APP_PROBE_MAX_INFLIGHT; i++)
		expect(read_all(fds[i]), "HTTP/1.1 503 ", "within 1000 ms");
	expect(probe(h, "GET", "/app-health/web/readiness"), "HTTP/1.1 200 ", "ok");
	/* Left in flight for the shutdown. */
	fds[0] = dial(h->admin_port);
	send_probe(fds[0], "GET", "/app-health/web/slow");
	usleep(100 * 1000);
	h->done_sent = true;
	uv_async_send(&h->done);
	expect(read_all(fds[0]), "HTTP/1.1 503 ", "shutting down");
}

static void test_crowd(void **state)
{
	(void)state;
	run(crowd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_crowd),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
