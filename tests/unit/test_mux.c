/* The tunnel's HTTP/2 side in memory: a client mux and a server mux wired
 * together (each one's output is the other's input), no sockets, no TLS.
 * Covers a CONNECT stream's life (200, data both ways, half-close each
 * way), refusals (403, 400 for what is not a plain CONNECT), resets carried
 * both ways, per-stream flow control (a stream nobody reads holds its own
 * window and no other stream's), early data before the 200, the stream
 * limit, GOAWAY drain with streams in flight, an oversized header list, the
 * tunnel going away under its streams, and the Forwarded parser. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/mux.h"

#define BUF 65536
#define MAX_STREAMS 8

/* One side of the wire. */
struct side {
	struct ward_mux m;
	struct ward_buf wire; /* sent by this side, not yet delivered */
	bool stalled;	      /* the transport takes nothing (queued is huge) */
	bool stall_on_send;   /* and stalls after each write */
	int requests, goaways;
	/* server: how to answer the next requests (0: leave pending) */
	int answer;
	struct ward_h2_end *pending[64];
	int n_pending;
	struct ward_mux_request last_req;
};

/* One app connection's view of a stream end. */
struct tconn {
	struct ward_h2_end *e;
	int status, responses, resets, drained;
	bool slow; /* takes nothing when told it is readable */
	bool eof;
	struct ward_buf got;
};

static struct side client, server;
static struct tconn sconn[64]; /* server-side conns, attached to requests */
static int n_sconn;

static int t_send(void *owner, const uint8_t *data, size_t len)
{
	struct side *s = owner;

	s->stalled |= s->stall_on_send;
	return ward_buf_append(&s->wire, data, len);
}

static size_t t_queued(void *owner)
{
	return ((struct side *)owner)->stalled ? SIZE_MAX : 0;
}

static void t_dirty(void *owner)
{
	(void)owner;
}

static void c_take(struct tconn *c)
{
	uint8_t *d;
	size_t n;
	int rc;

	if (c->slow)
		return;
	while ((rc = c->e->base.ops->take(&c->e->base, BUF, &d, &n)) == 0) {
		assert_int_equal(ward_buf_append(&c->got, d, n), 0);
		free(d);
	}
	if (rc == WARD_ERR_EOF)
		c->eof = true;
}

static void ev_response(void *owner, struct ward_h2_end *e, int status)
{
	struct tconn *c = owner;

	(void)e;
	c->status = status;
	c->responses++;
}

static void ev_readable(void *owner, struct ward_h2_end *e)
{
	(void)e;
	c_take(owner);
}

static void ev_drained(void *owner, struct ward_h2_end *e)
{
	(void)e;
	((struct tconn *)owner)->drained++;
}

static void ev_reset(void *owner, struct ward_h2_end *e)
{
	(void)e;
	((struct tconn *)owner)->resets++;
}

static const struct ward_h2_end_events tev = {ev_response, ev_readable, ev_drained, ev_reset};

static void t_request(void *owner, struct ward_h2_end *e, const struct ward_mux_request *req)
{
	struct side *s = owner;
	struct tconn *c = &sconn[n_sconn++];

	s->requests++;
	s->last_req = *req;
	memset(c, 0, sizeof(*c));
	ward_buf_init(&c->got, 1 << 26);
	c->e = e;
	ward_h2_end_attach(e, &tev, c);
	if (s->answer)
		assert_int_equal(ward_h2_end_respond(e, s->answer), 0);
	else
		s->pending[s->n_pending++] = e;
}

static void t_goaway(void *owner)
{
	((struct side *)owner)->goaways++;
}

static const struct ward_mux_ops ops = {t_send, t_queued, t_dirty, t_request, t_goaway};

static const struct ward_mux_limits lim = {.max_streams = MAX_STREAMS,
					   .max_header_list = 4096,
					   .stream_window = BUF,
					   .buffer_bytes = BUF,
					   .out_high = 1 << 20};

/* Moves bytes both ways until neither side has anything to say. */
static void pump(void)
{
	for (int round = 0; round < 10000; round++) {
		size_t moved = 0, n;
		const uint8_t *p;

		assert_int_equal(ward_mux_flush(&client.m), 0);
		assert_int_equal(ward_mux_flush(&server.m), 0);
		if ((n = ward_buf_len(&client.wire))) {
			p = ward_buf_peek(&client.wire);
			assert_int_equal(ward_mux_recv(&server.m, p, n), 0);
			assert_int_equal(ward_buf_consume(&client.wire, n), 0);
			moved += n;
		}
		if ((n = ward_buf_len(&server.wire))) {
			p = ward_buf_peek(&server.wire);
			assert_int_equal(ward_mux_recv(&client.m, p, n), 0);
			assert_int_equal(ward_buf_consume(&server.wire, n), 0);
			moved += n;
		}
		if (!moved)
			return;
	}
	fail_msg("the muxes never went quiet");
}

static int setup(void **state)
{
	(void)state;
	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	n_sconn = 0;
	ward_buf_init(&client.wire, 1 << 26);
	ward_buf_init(&server.wire, 1 << 26);
	assert_int_equal(ward_mux_init(&client.m, WARD_MUX_CLIENT, &lim, &ops, &client), 0);
	assert_int_equal(ward_mux_init(&server.m, WARD_MUX_SERVER, &lim, &ops, &server), 0);
	pump(); /* SETTINGS both ways */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ward_mux_close(&client.m);
	ward_mux_close(&server.m);
	ward_buf_free(&client.wire);
	ward_buf_free(&server.wire);
	for (int i = 0; i < n_sconn; i++) {
		ward_h2_end_release(sconn[i].e, false);
		ward_buf_free(&sconn[i].got);
	}
	return 0;
}

static void open_conn(struct tconn *c, const char *authority)
{
	memset(c, 0, sizeof(*c));
	ward_buf_init(&c->got, 1 << 26);
	c->e = ward_h2_end_new(BUF, &tev, c);
	assert_non_null(c->e);
	assert_int_equal(ward_mux_connect(&client.m, c->e, authority, "10.0.0.1:40000"), 0);
}

static void close_conn(struct tconn *c, bool reset)
{
	ward_h2_end_release(c->e, reset);
	ward_buf_free(&c->got);
}

static void put(struct tconn *c, const void *data, size_t len)
{
	uint8_t *copy = malloc(len);

	memcpy(copy, data, len);
	assert_int_equal(c->e->base.ops->put(&c->e->base, copy, len), 0);
}

static bool got_is(const struct tconn *c, const void *data, size_t len)
{
	return ward_buf_len(&c->got) == len && !memcmp(ward_buf_peek(&c->got), data, len);
}

static void test_connect_data_halfclose(void **state)
{
	struct tconn c;
	struct ward_h2_end *se;
	char ip[64];

	(void)state;
	server.answer = 200;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(server.requests, 1);
	assert_string_equal(server.last_req.authority_text, "10.1.2.3:8080");
	assert_true(server.last_req.has_forwarded);
	ward_addr_format((struct sockaddr *)&server.last_req.forwarded_for, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.1:40000");
	assert_int_equal(c.status, 200);
	assert_int_equal(c.responses, 1);
	se = sconn[0].e;

	put(&c, "ping", 4);
	pump();
	assert_true(got_is(&sconn[0], "ping", 4));
	/* Client half-closes; the server side still sends. */
	assert_int_equal(c.e->base.ops->finish(&c.e->base), 0);
	pump();
	assert_true(sconn[0].eof);
	assert_true(c.e->base.ops->flushed(&c.e->base));
	assert_false(c.eof);
	put(&sconn[0], "pong", 4);
	assert_int_equal(se->base.ops->finish(&se->base), 0);
	pump();
	assert_true(got_is(&c, "pong", 4));
	assert_true(c.eof);
	assert_int_equal(c.resets + sconn[0].resets, 0);
	assert_int_equal(ward_mux_streams(&client.m), 0);
	assert_int_equal(ward_mux_streams(&server.m), 0);
	close_conn(&c, false);
}

static void test_server_half_closes_first(void **state)
{
	struct tconn c;

	(void)state;
	server.answer = 200;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(sconn[0].e->base.ops->finish(&sconn[0].e->base), 0);
	pump();
	assert_true(c.eof);
	put(&c, "late", 4); /* the other direction still flows */
	pump();
	assert_true(got_is(&sconn[0], "late", 4));
	assert_int_equal(ward_mux_streams(&client.m), 1);
	close_conn(&c, false);
}

static void test_refused_statuses(void **state)
{
	struct tconn c;

	(void)state;
	server.answer = 403;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(c.status, 403);
	/* nghttp2 follows a complete response with RST_STREAM NO_ERROR
	 * (RFC 9113 §8.1): the server holds nothing for a refused stream. */
	assert_int_equal(ward_mux_streams(&server.m), 0);
	close_conn(&c, false);
	pump();
	assert_int_equal(ward_mux_streams(&client.m), 0);
	assert_int_equal(ward_mux_streams(&server.m), 0);
	/* Not an address: answered 400 by the mux, never shown to the owner. */
	server.answer = 200;
	open_conn(&c, "backend.example:8080");
	pump();
	assert_int_equal(c.status, 400);
	assert_int_equal(server.requests, 1);
	close_conn(&c, false);
	open_conn(&c, "10.1.2.3:0");
	pump();
	assert_int_equal(c.status, 400);
	close_conn(&c, false);
	open_conn(&c, "[fd00::1]:8443");
	pump();
	assert_int_equal(c.status, 200);
	assert_string_equal(server.last_req.authority_text, "[fd00::1]:8443");
	assert_int_equal(server.last_req.authority.ss_family, AF_INET6);
	close_conn(&c, false);
}

/* A GET, or a CONNECT without :authority, is not HBONE. */
static void test_not_connect(void **state)
{
	nghttp2_nv get[] = {
	    {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
	    {(uint8_t *)":path", (uint8_t *)"/", 5, 1, 0},
	    {(uint8_t *)":authority", (uint8_t *)"10.1.2.3:80", 10, 11, 0},
	};
	struct tconn c;
	int32_t id;

	(void)state;
	server.answer = 200;
	open_conn(&c, "10.1.2.3:8080"); /* a real stream alongside */
	pump();
	id = nghttp2_submit_request(client.m.h2, NULL, get, 4, NULL, NULL);
	assert_true(id > 0);
	pump();
	assert_int_equal(server.requests, 1); /* only the CONNECT reached the owner */
	assert_int_equal(nghttp2_session_find_stream(client.m.h2, id), NULL);
	put(&c, "still", 5);
	pump();
	assert_true(got_is(&sconn[0], "still", 5));
	close_conn(&c, false);
}

static void test_resets_both_ways(void **state)
{
	struct tconn a, b;

	(void)state;
	server.answer = 200;
	open_conn(&a, "10.1.2.3:8080");
	open_conn(&b, "10.1.2.3:8081");
	pump();
	close_conn(&a, true); /* the app reset its connection */
	pump();
	assert_int_equal(sconn[0].resets, 1);
	assert_int_equal(sconn[1].resets, 0);
	ward_h2_end_release(sconn[1].e, true); /* the server's app reset */
	sconn[1].e = NULL;
	pump();
	assert_int_equal(b.resets, 1);
	assert_int_equal(b.e->base.ops->take(&b.e->base, BUF, &(uint8_t *){NULL}, &(size_t){0}),
			 WARD_ERR_RESET);
	close_conn(&b, false);
	pump();
	assert_int_equal(ward_mux_streams(&client.m), 0);
	assert_int_equal(ward_mux_streams(&server.m), 0);
}

/* A slow app holds its own stream's window and nothing else. */
static void test_flow_control_per_stream(void **state)
{
	struct tconn slow, fast;
	size_t big = 1 << 20;
	uint8_t *data = malloc(big);

	(void)state;
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 7);
	server.answer = 200;
	open_conn(&slow, "10.1.2.3:1");
	open_conn(&fast, "10.1.2.3:2");
	pump();
	sconn[0].slow = true;
	/* The relay puts only while queued() is below the limit. */
	for (size_t off = 0; off < big;) {
		size_t n = big - off < BUF ? big - off : BUF;

		if (slow.e->base.ops->queued(&slow.e->base) < BUF)
			put(&slow, data + off, n);
		put(&fast, data + off, n);
		off += n;
		pump();
	}
	assert_true(got_is(&sconn[1], data, big));
	assert_true(ward_buf_len(&sconn[0].e->in) <= BUF);
	assert_true(slow.e->base.ops->queued(&slow.e->base) > 0); /* stuck on its window */
	sconn[0].slow = false;
	c_take(&sconn[0]);
	pump();
	assert_true(slow.drained > 0);
	assert_true(ward_buf_len(&sconn[0].got) > BUF);
	close_conn(&slow, false);
	close_conn(&fast, false);
	free(data);
}

/* DATA the client sent before the 200 waits for the server's owner. */
static void test_early_data_held(void **state)
{
	struct tconn c;

	(void)state;
	server.answer = 0; /* leave it pending, as while connecting to the app */
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(server.n_pending, 1);
	/* Push DATA into the request before any response (a raw write). */
	put(&c, "early", 5);
	pump();
	sconn[0].slow = true;
	assert_int_equal(ward_h2_end_respond(server.pending[0], 200), 0);
	pump();
	assert_int_equal(c.status, 200);
	sconn[0].slow = false;
	c_take(&sconn[0]);
	assert_true(got_is(&sconn[0], "early", 5));
	close_conn(&c, false);
}

static void test_stream_limit(void **state)
{
	struct tconn c[MAX_STREAMS];

	(void)state;
	server.answer = 200;
	for (int i = 0; i < MAX_STREAMS; i++) {
		assert_true(ward_mux_can_open(&client.m));
		open_conn(&c[i], "10.1.2.3:8080");
	}
	assert_false(ward_mux_can_open(&client.m));
	pump();
	assert_int_equal(server.requests, MAX_STREAMS);
	close_conn(&c[0], false);
	pump();
	assert_true(ward_mux_can_open(&client.m));
	for (int i = 1; i < MAX_STREAMS; i++)
		close_conn(&c[i], false);
}

/* The server drains: the client hears GOAWAY and opens nothing more there;
 * the stream in flight finishes; then both sides are done. */
static void test_drain(void **state)
{
	struct tconn c;

	(void)state;
	server.answer = 200;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	ward_mux_drain(&server.m);
	pump();
	assert_true(client.goaways >= 1);
	assert_false(ward_mux_can_open(&client.m));
	put(&c, "after", 5);
	pump();
	assert_true(got_is(&sconn[0], "after", 5));
	assert_false(ward_mux_finished(&client.m));
	assert_int_equal(c.e->base.ops->finish(&c.e->base), 0);
	assert_int_equal(sconn[0].e->base.ops->finish(&sconn[0].e->base), 0);
	pump();
	ward_mux_drain(&client.m);
	pump();
	assert_true(ward_mux_finished(&client.m));
	assert_true(ward_mux_finished(&server.m));
	close_conn(&c, false);
}

/* A request the server never processed (beyond the last GOAWAY id) comes
 * back retryable, and succeeds on another session. */
static void test_refused_stream_is_retryable(void **state)
{
	struct tconn c;

	(void)state;
	server.answer = 200;
	ward_mux_drain(&server.m);
	pump(); /* notice, PING round trip, final GOAWAY (last id 0) */
	/* The client opens before it has seen GOAWAY: submit directly. */
	client.m.goaway_received = false;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(c.responses, 1);
	assert_int_equal(c.status, 0);
	assert_true(c.e->retryable);
	assert_int_equal(server.requests, 0);
	close_conn(&c, false);
}

/* The refused stream's owner hands it to a tunnel still opening; the refusing
 * session then closes. The owner heard of the refusal once, and the end is on
 * the new tunnel's waiting list alone, with no session (the e2e once looped
 * forever on a waiting list an end sat on twice). */
static void test_refused_stream_waits_elsewhere(void **state)
{
	struct ward_list opening = {0};
	struct tconn c;

	(void)state;
	ward_mux_drain(&server.m);
	pump();
	client.m.goaway_received = false;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(c.responses, 1);
	assert_true(c.e->retryable);
	ward_h2_end_wait(c.e, &opening);
	assert_null(c.e->mux); /* off the refusing session at once */
	assert_false(c.e->retryable);
	ward_h2_end_wait(c.e, &opening); /* twice: still once on the list */
	assert_int_equal(opening.n, 1);
	ward_mux_close(&client.m);
	assert_int_equal(c.responses, 1);
	assert_ptr_equal(c.e->wait_list, &opening);
	close_conn(&c, false);
	assert_int_equal(opening.n, 0);
}

/* A stream nghttp2 closed, its news delivered, then the session closes: the
 * owner is not told again. */
static void test_close_after_refusal_tells_once(void **state)
{
	struct tconn c;

	(void)state;
	ward_mux_drain(&server.m);
	pump();
	client.m.goaway_received = false;
	open_conn(&c, "10.1.2.3:8080");
	pump();
	assert_int_equal(c.responses, 1);
	ward_mux_close(&client.m);
	assert_int_equal(c.responses, 1);
	assert_int_equal(c.resets, 0);
	close_conn(&c, false);
}

/* A DATA frame nghttp2 kept for the next flush (the flush's buffer was
 * full) whose stream end is released before that flush: the frame's bytes
 * are gone with the end, so the stream is reset, and nothing reads them. */
static void test_release_with_a_frame_kept(void **state)
{
	static const struct ward_mux_limits small = {.max_streams = MAX_STREAMS,
						     .max_header_list = 4096,
						     .stream_window = BUF,
						     .buffer_bytes = BUF,
						     .out_high = 16384};
	struct tconn c[MAX_STREAMS];
	static uint8_t data[BUF / 2];

	(void)state;
	ward_mux_close(&client.m);
	ward_mux_close(&server.m);
	assert_int_equal(ward_mux_init(&client.m, WARD_MUX_CLIENT, &small, &ops, &client), 0);
	assert_int_equal(ward_mux_init(&server.m, WARD_MUX_SERVER, &small, &ops, &server), 0);
	pump();
	server.answer = 200;
	for (int i = 0; i < MAX_STREAMS; i++)
		open_conn(&c[i], "10.1.2.3:8080");
	pump();
	assert_int_equal(n_sconn, MAX_STREAMS);
	/* 8 x 32 KiB against a 48 KiB flush buffer, one flush at a time. */
	server.stall_on_send = true;
	for (int i = 0; i < MAX_STREAMS; i++)
		put(&sconn[i], data, sizeof(data));
	server.stalled = false;
	assert_int_equal(ward_mux_flush(&server.m), 0);
	assert_true(server.stalled);
	for (int i = 0; i < MAX_STREAMS; i++) {
		ward_h2_end_release(sconn[i].e, true);
		sconn[i].e = NULL;
	}
	server.stall_on_send = server.stalled = false;
	pump();
	for (int i = 0; i < MAX_STREAMS; i++) {
		assert_int_equal(c[i].resets, 1);
		close_conn(&c[i], false);
	}
}

static void test_header_list_limit(void **state)
{
	char big[5000];
	nghttp2_nv nva[] = {
	    {(uint8_t *)":method", (uint8_t *)"CONNECT", 7, 7, 0},
	    {(uint8_t *)":authority", (uint8_t *)"10.1.2.3:80", 10, 11, 0},
	    {(uint8_t *)"x-big", (uint8_t *)big, 5, sizeof(big), 0},
	};
	int32_t id;

	(void)state;
	memset(big, 'a', sizeof(big));
	server.answer = 200;
	id = nghttp2_submit_request(client.m.h2, NULL, nva, 3, NULL, NULL);
	assert_true(id > 0);
	pump();
	assert_int_equal(server.requests, 0);
	assert_int_equal(nghttp2_session_find_stream(client.m.h2, id), NULL); /* reset */
	assert_int_equal(ward_mux_streams(&server.m), 0);
}

/* The tunnel goes away: an open stream is reset, one awaiting its response
 * hears status 0. */
static void test_close_under_streams(void **state)
{
	struct tconn open, waiting;

	(void)state;
	server.answer = 200;
	open_conn(&open, "10.1.2.3:8080");
	pump();
	server.answer = 0;
	open_conn(&waiting, "10.1.2.3:8081");
	pump();
	ward_mux_close(&client.m);
	assert_int_equal(open.resets, 1);
	assert_int_equal(waiting.responses, 1);
	assert_int_equal(waiting.status, 0);
	close_conn(&open, false);
	close_conn(&waiting, false);
}

static void test_forwarded(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"for=\"10.0.0.1:4711\"", "10.0.0.1:4711"},
	    {"For=10.0.0.2", "10.0.0.2:0"},
	    {"proto=http;for=\"[2001:db8::1]:80\", for=10.9.9.9", "[2001:db8::1]:80"},
	    {"for=unknown", NULL},
	    {"for=\"_hidden\"", NULL},
	    {"by=10.0.0.1", NULL},
	    {"for=", NULL},
	    {"", NULL},
	};
	struct sockaddr_storage ss;
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = ward_mux_parse_forwarded((const uint8_t *)cases[i].in,
						   strlen(cases[i].in), &ss);

		assert_int_equal(ok, cases[i].out != NULL);
		if (ok) {
			ward_addr_format((struct sockaddr *)&ss, text, sizeof(text));
			assert_string_equal(text, cases[i].out);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_connect_data_halfclose, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_half_closes_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_statuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resets_both_ways, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flow_control_per_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_early_data_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_stream_is_retryable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_stream_waits_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_after_refusal_tells_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release_with_a_frame_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_list_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_under_streams, setup, teardown),
	    cmocka_unit_test(test_forwarded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
