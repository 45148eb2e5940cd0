/* The relay in memory: two proxies chained through socketpairs, as two
 * sidecars are through the network:
 *
 *   app1 ==sp== [plain | relay A | TLS client] ==sp== [TLS server | relay B | plain] ==sp== app2
 *
 * The TLS sessions complete their handshake in memory first; then every byte
 * crosses real sockets on a libuv loop. Covers data both ways, half-close in
 * each direction, a reset carried as a reset, and backpressure (a reader that
 * stops reading stops the writer without unbounded buffering). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/relay.h"
#include "agent/tls_ctx.h"
#include "certs/pem.h"

#define FIX "tests/unit/fixtures/"
#define LIMIT (64 * 1024)
#define CHUNK (16 * 1024)

struct proxy;

struct side {
	struct ward_stream s;
	struct ward_sock_end end;
	struct proxy *p;
};

/* One sidecar's connection: side[0] faces its app, side[1] the mesh. */
struct proxy {
	struct side side[2];
	struct ward_tls_session tls;
	struct ward_relay relay;
	enum ward_relay_state last;
	bool over;
	int closed;
};

struct rig {
	uv_loop_t loop;
	struct ward_tls_ctx *ctx;
	struct proxy a, b;
	int app1, app2; /* the test's own ends, non-blocking */
};

static void finish(struct proxy *p, enum ward_relay_state st)
{
	p->last = st;
	if (st == WARD_RELAY_OPEN || p->over)
		return;
	p->over = true;
	for (int i = 0; i < 2; i++)
		ward_stream_close(&p->side[i].s, st == WARD_RELAY_RESET);
}

static int index_of(const struct side *sd)
{
	return sd == &sd->p->side[1];
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t len)
{
	struct side *sd = s->owner;

	assert_int_equal(ward_end_feed(&sd->end.base, data, len, s->read_size), 0);
	finish(sd->p, ward_relay_pump(&sd->p->relay, index_of(sd)));
}

static void on_eof(struct ward_stream *s)
{
	struct side *sd = s->owner;

	ward_end_feed_eof(&sd->end.base);
	finish(sd->p, ward_relay_pump(&sd->p->relay, index_of(sd)));
}

static void on_error(struct ward_stream *s, int status)
{
	struct side *sd = s->owner;

	(void)status;
	finish(sd->p, WARD_RELAY_RESET);
}

static void on_drained(struct ward_stream *s)
{
	struct side *sd = s->owner;

	if (!sd->p->over)
		finish(sd->p, ward_relay_drained(&sd->p->relay, index_of(sd)));
}

static void on_shut(struct ward_stream *s)
{
	struct side *sd = s->owner;

	if (!sd->p->over)
		finish(sd->p, ward_relay_state(&sd->p->relay));
}

static void on_closed(struct ward_stream *s)
{
	struct side *sd = s->owner;

	sd->p->closed++;
}

static const struct ward_stream_ops ops = {
    .read = on_read,
    .eof = on_eof,
    .error = on_error,
    .drained = on_drained,
    .shut = on_shut,
    .closed = on_closed,
};

static void side_open(struct rig *r, struct proxy *p, int i, int fd)
{
	struct side *sd = &p->side[i];

	sd->p = p;
	assert_int_equal(ward_stream_init(&sd->s, &r->loop, WARD_STREAM_PIPE, AF_UNSPEC, &ops, sd),
			 0);
	assert_int_equal(ward_stream_open(&sd->s, fd), 0);
	sd->s.read_size = CHUNK;
}

static void load_ctx(struct rig *r)
{
	struct ward_pem_certs chain = {0}, bundle = {0};
	struct ward_pem_key key = {0};
	struct ward_tls_der ders[8];
	struct ward_tls_policy policy = {
	    .cipher_list = "TLS13-AES128-GCM-SHA256",
	    .groups = {WOLFSSL_ECC_X25519},
	    .n_groups = 1,
	    .sigalgs = "ECDSA+SHA256",
	};

	assert_int_equal(ward_pem_certs_load_file(FIX "good.pem", &chain), 0);
	assert_int_equal(ward_pem_key_load_file(FIX "leaf.key", &key), 0);
	assert_int_equal(ward_pem_certs_load_file(FIX "ca.pem", &bundle), 0);
	for (size_t i = 0; i < chain.count; i++)
		ders[i] = (struct ward_tls_der){chain.certs[i].data, chain.certs[i].len};
	ders[chain.count] = (struct ward_tls_der){bundle.certs[0].data, bundle.certs[0].len};
	struct ward_tls_material m = {.chain = ders,
				      .n_chain = chain.count,
				      .key = {key.der, key.len},
				      .bundle = ders + chain.count,
				      .n_bundle = 1};
	assert_int_equal(ward_tls_ctx_new(&m, &policy, "example.org", &r->ctx), 0);
	ward_pem_certs_free(&chain);
	ward_pem_certs_free(&bundle);
	ward_pem_key_free(&key);
}

static void pair(int fds[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds),
			 0);
}

static void rig_up(struct rig *r)
{
	int sp1[2], sp2[2], sp3[2], cerr = 0, serr = 0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&r->loop), 0);
	load_ctx(r);
	assert_int_equal(ward_tls_ctx_session(r->ctx, WARD_TLS_CLIENT, &r->a.tls), 0);
	assert_int_equal(ward_tls_ctx_session(r->ctx, WARD_TLS_SERVER, &r->b.tls), 0);
	assert_int_equal(ward_tls_session_pair(&r->a.tls, &r->b.tls, &cerr, &serr), 0);
	pair(sp1);
	pair(sp2);
	pair(sp3);
	r->app1 = sp1[0];
	r->app2 = sp3[1];
	side_open(r, &r->a, 0, sp1[1]);
	side_open(r, &r->a, 1, sp2[0]);
	side_open(r, &r->b, 1, sp2[1]);
	side_open(r, &r->b, 0, sp3[0]);
	for (struct proxy *p = &r->a; p <= &r->b; p++) {
		ward_end_plain_init(&p->side[0].end, &p->side[0].s, LIMIT + CHUNK);
		ward_end_tls_init(&p->side[1].end, &p->side[1].s, &p->tls);
		ward_relay_init(&p->relay, &p->side[0].end.base, &p->side[1].end.base, LIMIT,
				CHUNK);
		finish(p, ward_relay_pump(&p->relay, 0));
		finish(p, ward_relay_pump(&p->relay, 1));
	}
}

static void rig_down(struct rig *r)
{
	for (struct proxy *p = &r->a; p <= &r->b; p++) {
		finish(p, WARD_RELAY_RESET);
		for (int i = 0; i < 2; i++)
			ward_stream_close(&p->side[i].s, false);
	}
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(r->a.closed + r->b.closed, 4);
	for (struct proxy *p = &r->a; p <= &r->b; p++) {
		ward_tls_session_close(&p->tls);
		ward_end_sock_free(&p->side[0].end);
		ward_end_sock_free(&p->side[1].end);
	}
	ward_tls_ctx_put(r->ctx);
	if (r->app1 >= 0)
		close(r->app1);
	if (r->app2 >= 0)
		close(r->app2);
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* Runs the loop until fd has len bytes for buf (or EOF when len is 0). */
static size_t run_until_read(struct rig *r, int fd, char *buf, size_t len)
{
	size_t got = 0;

	for (int spins = 0; spins < 20000; spins++) {
		ssize_t n = read(fd, buf + got, len ? len - got : 1);

		if (n == 0 && len == 0)
			return 0;
		if (n > 0)
			got += (size_t)n;
		if (len && got == len)
			return got;
		uv_run(&r->loop, UV_RUN_NOWAIT);
		if (n < 0)
			usleep(100);
	}
	fail_msg("timed out with %zu of %zu bytes", got, len);
	return got;
}

static void run_until(struct rig *r, bool (*cond)(struct rig *))
{
	for (int spins = 0; spins < 20000 && !cond(r); spins++) {
		uv_run(&r->loop, UV_RUN_NOWAIT);
		usleep(100);
	}
	assert_true(cond(r));
}

static bool both_done(struct rig *r)
{
	return r->a.last == WARD_RELAY_DONE && r->b.last == WARD_RELAY_DONE;
}

static bool b_reset(struct rig *r)
{
	return r->b.last == WARD_RELAY_RESET;
}

static void test_both_ways_and_half_close(void **state)
{
	struct rig r;
	char buf[16];

	(void)state;
	rig_up(&r);
	assert_int_equal(write(r.app1, "hello", 5), 5);
	run_until_read(&r, r.app2, buf, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(r.app2, "world", 5), 5);
	run_until_read(&r, r.app1, buf, 5);
	assert_memory_equal(buf, "world", 5);

	/* app1 is done sending: app2 sees EOF, and can still answer. */
	assert_int_equal(shutdown(r.app1, SHUT_WR), 0);
	assert_int_equal(run_until_read(&r, r.app2, buf, 0), 0);
	assert_int_equal(r.a.last, WARD_RELAY_OPEN);
	assert_int_equal(write(r.app2, "late", 4), 4);
	run_until_read(&r, r.app1, buf, 4);
	assert_memory_equal(buf, "late", 4);

	/* Now the other direction: both relays finish cleanly. */
	assert_int_equal(shutdown(r.app2, SHUT_WR), 0);
	run_until(&r, both_done);
	assert_int_equal(run_until_read(&r, r.app1, buf, 0), 0);
	assert_int_equal(r.a.relay.moved[0], 5);
	assert_int_equal(r.a.relay.moved[1], 9);
	assert_int_equal(r.b.relay.moved[0], 9);
	assert_int_equal(r.b.relay.moved[1], 5);
	rig_down(&r);
}

/* app2 goes away for good; bytes still on their way to it make relay B's
 * write fail with EPIPE, which is a reset and not a clean end. */
static void test_reset_carried(void **state)
{
	struct rig r;
	char buf[8];

	(void)state;
	rig_up(&r);
	assert_int_equal(write(r.app1, "one", 3), 3);
	run_until_read(&r, r.app2, buf, 3);
	close(r.app2);
	r.app2 = -1;
	for (int i = 0; i < 50 && r.b.last != WARD_RELAY_RESET; i++) {
		if (write(r.app1, "more", 4) < 0 && errno != EAGAIN)
			break;
		uv_run(&r.loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	run_until(&r, b_reset);
	rig_down(&r);
}

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* A reader that stops reading stops the writer: no side queues much more
 * than its limit, the sources stop reading, and once the reader resumes
 * every byte arrives in order. */
static void test_backpressure(void **state)
{
	enum { TOTAL = 8 * 1024 * 1024 };
	static uint8_t out[TOTAL], in[64 * 1024];
	struct rig r;
	size_t sent = 0, got = 0;
	uint64_t h_out = 14695981039346656037ull, h_in = h_out;
	int stalled = 0;

	(void)state;
	for (size_t i = 0; i < TOTAL; i++)
		out[i] = (uint8_t)(i * 7 + i / 4099);
	rig_up(&r);
	/* Fill until nothing moves any more: app2 reads nothing. */
	while (sent < TOTAL && stalled < 200) {
		ssize_t n = write(r.app1, out + sent, TOTAL - sent);

		if (n > 0) {
			sent += (size_t)n;
			stalled = 0;
		} else {
			stalled++;
		}
		uv_run(&r.loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	assert_true(sent < TOTAL);
	assert_true(r.b.side[0].s.queued <= LIMIT + CHUNK);
	assert_true(r.a.side[1].s.queued <= LIMIT + 2 * CHUNK);
	assert_false(r.b.side[1].s.reading);
	assert_false(r.a.side[0].s.reading);
	/* Drain: everything arrives, in order. */
	h_out = mix(h_out, out, TOTAL);
	while (got < TOTAL) {
		ssize_t n = read(r.app2, in, sizeof(in));

		if (n > 0) {
			h_in = mix(h_in, in, (size_t)n);
			got += (size_t)n;
		}
		if (sent < TOTAL) {
			ssize_t w = write(r.app1, out + sent, TOTAL - sent);

			if (w > 0)
				sent += (size_t)w;
		}
		uv_run(&r.loop, UV_RUN_NOWAIT);
		if (n <= 0)
			usleep(100);
	}
	assert_int_equal(got, TOTAL);
	assert_true(h_in == h_out);
	assert_int_equal(r.a.relay.moved[0], TOTAL);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_ways_and_half_close),
	    cmocka_unit_test(test_reset_carried),
	    cmocka_unit_test(test_backpressure),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(ward_tls_global_init(), 0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ward_tls_global_cleanup();
	return rc;
}
