/* The outbound tunnel pool's bookkeeping (agent/pool.h): which connection a
 * new stream goes on (an open one with room first, then one still opening,
 * never another destination's or another policy's, never a draining one),
 * how full a connection is (its session's streams, or what waits for it),
 * and the bounded memory of destinations without a tunnel. Open
 * connections are real client sessions (agent/mux.h) with no peer. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/pool.h"
#include "lib/addr.h"

static int t_send(void *owner, const uint8_t *data, size_t len)
{
	(void)owner;
	(void)data;
	(void)len;
	return 0;
}

static size_t t_queued(void *owner)
{
	(void)owner;
	return 0;
}

static void t_dirty(void *owner)
{
	(void)owner;
}

static void t_response(void *o, struct ward_h2_end *e, int s)
{
	(void)o;
	(void)e;
	(void)s;
}

static void t_event(void *o, struct ward_h2_end *e)
{
	(void)o;
	(void)e;
}

static const struct ward_mux_ops ops = {t_send, t_queued, t_dirty, NULL, NULL};
static const struct ward_h2_end_events ev = {t_response, t_event, t_event, t_event};

static struct sockaddr_storage sa(const char *text)
{
	struct ward_addr a;

	assert_int_equal(ward_addr_parse(text, &a), 0);
	return a.ss;
}

static struct ward_pool_key key(const char *text, uint64_t policy)
{
	struct sockaddr_storage s = sa(text);
	struct ward_pool_key k;

	ward_pool_key_init(&k, (struct sockaddr *)&s, policy);
	return k;
}

/* A waiting list with n ends on it (never opened). */
static void fill_waiting(struct ward_list *l, struct ward_h2_end **ends, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ends[i] = ward_h2_end_new(4096, &ev, ends);
		ward_list_add_tail(l, &ends[i]->wait_link);
		ends[i]->wait_list = l;
	}
}

static void test_keys(void **state)
{
	struct ward_pool_key a = key("10.0.0.1:8080", 1), b = key("[::ffff:10.0.0.1]:443", 1);
	struct ward_pool_key c = key("[fd00::1]:8080", 1);

	(void)state;
	/* The port and the v4-mapped form do not make another destination. */
	assert_true(ward_addr_ip_equal(&a.ip, &b.ip));
	assert_false(ward_addr_ip_equal(&a.ip, &c.ip));
}

static void test_pick_opening_until_full(void **state)
{
	struct ward_pool pool = {0};
	struct ward_pool_entry e = {0};
	struct ward_list waiting = {0};
	struct ward_h2_end *ends[3];
	struct ward_pool_key k = key("10.0.0.1:80", 7);

	(void)state;
	assert_null(ward_pool_pick(&pool, &k));
	ward_pool_add(&pool, &e, &k, 3);
	e.waiting = &waiting;
	assert_ptr_equal(ward_pool_pick(&pool, &k), &e);
	fill_waiting(&waiting, ends, 3);
	assert_int_equal(ward_pool_load(&e), 3);
	assert_null(ward_pool_pick(&pool, &k)); /* full: open another */
	ward_h2_end_release(ends[0], false);	/* an app gave up waiting */
	assert_int_equal(ward_pool_load(&e), 2);
	assert_ptr_equal(ward_pool_pick(&pool, &k), &e);
	/* Another destination, another policy: never this connection. */
	struct ward_pool_key other_ip = key("10.0.0.2:80", 7), other_policy = key("10.0.0.1:80", 8);
	assert_null(ward_pool_pick(&pool, &other_ip));
	assert_null(ward_pool_pick(&pool, &other_policy));
	ward_pool_remove(&pool, &e);
	ward_pool_remove(&pool, &e); /* twice is fine */
	assert_null(ward_pool_pick(&pool, &k));
	ward_h2_end_release(ends[1], false);
	ward_h2_end_release(ends[2], false);
}

/* An open connection beats one still opening; full or draining, none. */
static void test_open_preferred(void **state)
{
	struct ward_mux_limits lim = {.max_streams = 2,
				      .max_header_list = 4096,
				      .stream_window = 4096,
				      .buffer_bytes = 4096,
				      .out_high = 1 << 20};
	struct ward_pool pool = {0};
	struct ward_pool_entry opening = {0}, open = {0};
	struct ward_list waiting = {0};
	struct ward_mux m;
	struct ward_h2_end *s1, *s2;
	struct ward_pool_key k = key("10.0.0.1:80", 1);

	(void)state;
	assert_int_equal(ward_mux_init(&m, WARD_MUX_CLIENT, &lim, &ops, NULL), 0);
	ward_pool_add(&pool, &opening, &k, 2);
	opening.waiting = &waiting;
	ward_pool_add(&pool, &open, &k, 2);
	open.mux = &m;
	assert_ptr_equal(ward_pool_pick(&pool, &k), &open);
	s1 = ward_h2_end_new(4096, &ev, &pool);
	s2 = ward_h2_end_new(4096, &ev, &pool);
	assert_int_equal(ward_mux_connect(&m, s1, "10.0.0.1:80", NULL), 0);
	assert_int_equal(ward_mux_connect(&m, s2, "10.0.0.1:80", "10.9.9.9:1"), 0);
	assert_int_equal(ward_pool_load(&open), 2);
	assert_ptr_equal(ward_pool_pick(&pool, &k), &opening); /* open one full */
	ward_h2_end_release(s1, false);
	ward_h2_end_release(s2, false);
	ward_mux_drain(&m); /* a draining connection takes nothing new */
	opening.usable = false;
	assert_null(ward_pool_pick(&pool, &k));
	ward_mux_close(&m);
}

static void test_fallback_memory(void **state)
{
	struct ward_pool *pool = calloc(1, sizeof(*pool));
	struct sockaddr_storage a = sa("10.0.0.1:15008"), b = sa("10.0.0.1:8080");
	struct sockaddr_storage c = sa("10.0.0.3:15008");
	char text[64];

	(void)state;
	assert_false(ward_pool_fallback_active(pool, (struct sockaddr *)&a, 1000));
	assert_true(ward_pool_fallback_mark(pool, (struct sockaddr *)&a, 1000, 60000));
	assert_false(
	    ward_pool_fallback_mark(pool, (struct sockaddr *)&a, 2000, 60000));	   /* not news */
	assert_true(ward_pool_fallback_active(pool, (struct sockaddr *)&b, 5000)); /* any port */
	assert_false(ward_pool_fallback_active(pool, (struct sockaddr *)&c, 5000));
	assert_false(ward_pool_fallback_active(pool, (struct sockaddr *)&a, 62000)); /* expired */
	assert_true(ward_pool_fallback_mark(pool, (struct sockaddr *)&a, 62000, 60000));
	/* Bounded: past WARD_POOL_FALLBACK_MAX the mark ending first gives way. */
	for (int i = 0; i < WARD_POOL_FALLBACK_MAX; i++) {
		struct sockaddr_storage x;

		snprintf(text, sizeof(text), "10.1.%d.%d:1", i / 250, i % 250 + 1);
		x = sa(text);
		assert_true(ward_pool_fallback_mark(pool, (struct sockaddr *)&x, 70000 + i, 60000));
	}
	assert_int_equal(pool->n_fallback, WARD_POOL_FALLBACK_MAX);
	assert_false(ward_pool_fallback_active(pool, (struct sockaddr *)&a, 70000));
	free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_pick_opening_until_full),
	    cmocka_unit_test(test_open_preferred),
	    cmocka_unit_test(test_fallback_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
