/* The JSON-line client (lib/jsonline.h) against the admin socket's server
 * side (server/ctl.h) on one loop: a reply given at once, one given later
 * (as a forced rotation does), a client that hangs up before its deferred
 * reply, and every way a call fails: no socket, a peer that closes without a
 * line, a reply that is not a JSON object, a peer that never answers. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/jsonline.h"
#include "lib/stream.h"
#include "server/ctl.h"

static uv_loop_t loop;
static char path[64];

struct result {
	int calls;
	json_t *reply;
	char error[256];
};

static void on_reply(void *arg, json_t *reply, const char *error)
{
	struct result *r = arg;

	r->calls++;
	r->reply = reply;
	if (error)
		snprintf(r->error, sizeof(r->error), "%s", error);
}

static void run_until(const struct result *r)
{
	for (int i = 0; i < 5000 && r->calls == 0; i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(r->calls, 1);
}

static void call(const json_t *req, unsigned timeout_ms, struct result *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(ward_jsonline_call(&loop, path, req, timeout_ms, on_reply, r, NULL), 0);
	assert_int_equal(r->calls, 0); /* never from inside the call */
	run_until(r);
}

/* ---- the server side: answers "now", holds "later" ----------------------- */

static struct ward_ctl_req *held;

static void handler(void *arg, const json_t *request, struct ward_ctl_req *req)
{
	const char *cmd = json_string_value(json_object_get(request, "command"));

	if (cmd && !strcmp(cmd, "later")) {
		held = req;
		return;
	}
	ward_ctl_reply(req, json_pack("{s:b,s:s}", "ok", 1, "echo", cmd ? cmd : ""));
}

static struct ward_ctl *ctl;

static int setup(void **state)
{
	snprintf(path, sizeof(path), "/tmp/ward-test-jsonline-%d.sock", getpid());
	uv_loop_init(&loop);
	held = NULL;
	return ward_ctl_start(&loop, path, handler, NULL, &ctl) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	ward_ctl_stop(ctl);
	uv_run(&loop, UV_RUN_DEFAULT);
	return uv_loop_close(&loop) == 0 ? 0 : -1;
}

static void test_reply_now_and_later(void **state)
{
	json_t *req = json_pack("{s:s}", "command", "now");
	struct result r;

	call(req, 5000, &r);
	assert_non_null(r.reply);
	assert_string_equal(json_string_value(json_object_get(r.reply, "echo")), "now");
	json_decref(r.reply);
	json_decref(req);

	/* A reply given later: the call waits for it. */
	req = json_pack("{s:s}", "command", "later");
	memset(&r, 0, sizeof(r));
	assert_int_equal(ward_jsonline_call(&loop, path, req, 5000, on_reply, &r, NULL), 0);
	for (int i = 0; i < 100 && !held; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_non_null(held);
	assert_int_equal(r.calls, 0);
	ward_ctl_reply(held, json_pack("{s:b}", "ok", 1));
	run_until(&r);
	assert_true(json_is_true(json_object_get(r.reply, "ok")));
	json_decref(r.reply);
	json_decref(req);
}

/* The client goes before its reply: the request stays the handler's until
 * it replies (into the void), and nothing leaks (valgrind, ASan). */
static void test_client_gone_before_reply(void **state)
{
	json_t *req = json_pack("{s:s}", "command", "later");
	struct ward_jsonline *c;
	struct result r = {0};

	assert_int_equal(ward_jsonline_call(&loop, path, req, 5000, on_reply, &r, &c), 0);
	for (int i = 0; i < 100 && !held; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_non_null(held);
	ward_jsonline_cancel(c);
	run_until(&r);
	assert_null(r.reply);
	assert_non_null(strstr(r.error, "cancelled"));
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	ward_ctl_reply(held, json_pack("{s:b}", "ok", 1));
	json_decref(req);
}

static void test_no_socket(void **state)
{
	json_t *req = json_pack("{s:s}", "command", "now");
	char real[64];
	struct result r;

	strcpy(real, path);
	strcat(path, ".absent");
	call(req, 5000, &r);
	assert_null(r.reply);
	assert_non_null(strstr(r.error, ".absent: "));
	assert_non_null(strstr(r.error, "no such file"));
	/* A path too long for a unix socket is refused at once. */
	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	{
		char longer[200];

		memset(longer, 'y', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		assert_int_equal(ward_jsonline_call(&loop, longer, req, 5000, on_reply, &r, NULL),
				 WARD_ERR_INVALID);
	}
	strcpy(path, real);
	json_decref(req);
}

/* ---- a peer that misbehaves ---------------------------------------------- */

static const char *peer_says; /* what the raw peer writes, then it closes; NULL: silent */
static uv_pipe_t raw, raw_conn;
static uv_write_t raw_write;
static int raw_open; /* handles of the raw peer not yet closed */

static void on_raw_closed(uv_handle_t *h)
{
	raw_open--;
}

static void raw_close(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_raw_closed);
}

static void on_raw_written(uv_write_t *w, int status)
{
	raw_close((uv_handle_t *)&raw_conn);
}

static void on_raw_connection(uv_stream_t *l, int status)
{
	uv_buf_t b = uv_buf_init((char *)peer_says, peer_says ? (unsigned)strlen(peer_says) : 0);

	uv_pipe_init(&loop, &raw_conn, 0);
	raw_open++;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&raw_conn), 0);
	if (peer_says) /* else: holds the connection, says nothing */
		assert_int_equal(
		    uv_write(&raw_write, (uv_stream_t *)&raw_conn, &b, 1, on_raw_written), 0);
}

static void raw_call(const char *says, unsigned timeout_ms, struct result *r)
{
	json_t *req = json_pack("{s:s}", "command", "now");

	peer_says = says;
	strcat(path, ".raw");
	assert_int_equal(ward_listen_unix(&loop, &raw, path, 0600, 4, on_raw_connection, NULL), 0);
	raw_open = 1;
	call(req, timeout_ms, r);
	raw_close((uv_handle_t *)&raw);
	if (raw_open > 1)
		raw_close((uv_handle_t *)&raw_conn);
	while (raw_open > 0)
		uv_run(&loop, UV_RUN_ONCE);
	unlink(path);
	path[strlen(path) - 4] = '\0';
	json_decref(req);
}

static void test_bad_peers(void **state)
{
	struct result r;

	raw_call("", 5000, &r);
	assert_null(r.reply);
	assert_non_null(strstr(r.error, "closed without a reply"));
	raw_call("not json\n", 5000, &r);
	assert_null(r.reply);
	assert_non_null(strstr(r.error, "the reply is not a JSON object"));
	raw_call("[1, 2]\n", 5000, &r);
	assert_null(r.reply);
	assert_non_null(strstr(r.error, "not a JSON object (another JSON value)"));
	/* A last line without its newline still counts once the peer closes. */
	raw_call("{\"ok\": true}", 5000, &r);
	assert_non_null(r.reply);
	json_decref(r.reply);
	raw_call(NULL, 200, &r);
	assert_null(r.reply);
	assert_non_null(strstr(r.error, "no reply within 0.2 s"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reply_now_and_later, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_gone_before_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_peers, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN); /* as ward server: a client that hung up is an EPIPE */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
