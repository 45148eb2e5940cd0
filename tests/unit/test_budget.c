/* The budget of connections not yet proved: a newcomer always gets in, the
 * oldest is shed (its key's oldest silent one first, silent ones before those
 * that spoke), source keys are IPv4 addresses and IPv6 /64s, and every slot
 * taken is given back exactly once. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/addr.h"
#include "lib/budget.h"

#define N 16

struct conn {
	struct ward_budget_slot slot;
	int id;
	int shed; /* 0, or 1 + the reason */
};

static struct ward_budget budget;
static struct ward_budget_counts stats;
static struct conn conns[N];

static void on_shed(struct ward_budget_slot *s, enum ward_budget_reason why)
{
	struct conn *c = ward_list_entry(s, struct conn, slot);

	c->shed = 1 + (int)why;
	ward_budget_put(&budget, s);
}

/* The other way a connection might behave: it closes later, not now. */
static void on_shed_lazy(struct ward_budget_slot *s, enum ward_budget_reason why)
{
	ward_list_entry(s, struct conn, slot)->shed = 1 + (int)why;
}

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	a->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	a->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	return ss;
}

/* Keyed by source address, as the agent's inbound connections are. */
static void take(int i, struct sockaddr_storage src)
{
	uint8_t key[WARD_ADDR_SOURCE_KEY];

	ward_addr_source_key(&src, key);
	conns[i].id = i;
	ward_budget_take(&budget, &conns[i].slot, key, on_shed);
}

static int setup(void **state)
{
	(void)state;
	memset(conns, 0, sizeof(conns));
	memset(&stats, 0, sizeof(stats));
	ward_budget_init(&budget, 4, 2, &stats);
	return 0;
}

static void test_take_and_put(void **state)
{
	(void)state;
	take(0, v4("10.0.0.1"));
	take(1, v4("10.0.0.2"));
	assert_int_equal(ward_budget_held(&budget), 2);
	ward_budget_put(&budget, &conns[0].slot);
	ward_budget_put(&budget, &conns[0].slot); /* idempotent */
	assert_int_equal(ward_budget_held(&budget), 1);
	ward_budget_put(&budget, &conns[5].slot); /* never taken */
	assert_int_equal(stats.admitted, 2);
	assert_int_equal(stats.released, 1);
	assert_int_equal(stats.shed[0] + stats.shed[1], 0);
}

/* While there is room, one source may hold more than its share: a burst
 * from one busy client is not cut. */
static void test_room_sheds_nothing(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		take(i, v4("10.0.0.1"));
	assert_int_equal(ward_budget_held(&budget), 4);
	assert_int_equal(stats.shed[0] + stats.shed[1], 0);
}

/* Full: a newcomer from a source that holds its share displaces that
 * source's own oldest; any other newcomer displaces the oldest of all. */
static void test_full_sheds_the_heavy_hitter(void **state)
{
	(void)state;
	take(0, v4("10.0.0.9"));
	take(1, v4("10.0.0.1"));
	take(2, v4("10.0.0.1"));
	take(3, v4("10.0.0.1"));
	take(4, v4("10.0.0.1")); /* holds 3 of 4, share 2: its oldest goes */
	assert_int_equal(conns[1].shed, 1 + WARD_BUDGET_KEY_LIMIT);
	assert_int_equal(conns[0].shed, 0); /* older, but another source */
	take(5, v4("10.0.0.7"));	    /* under its share: the oldest of all goes */
	assert_int_equal(conns[0].shed, 1 + WARD_BUDGET_FULL);
	assert_int_equal(ward_budget_held(&budget), 4);
	assert_int_equal(stats.shed[WARD_BUDGET_KEY_LIMIT], 1);
	assert_int_equal(stats.shed[WARD_BUDGET_FULL], 1);
	/* Authenticated connections leave: room again, no shedding. */
	ward_budget_put(&budget, &conns[2].slot);
	take(6, v4("10.0.0.1"));
	assert_int_equal(conns[3].shed + conns[4].shed + conns[5].shed, 0);
	assert_int_equal(stats.admitted - stats.released, 4);
}

/* A newcomer never loses to an older connection, however many there are. */
static void test_newcomer_survives_a_flood(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		take(i, v4("10.9.9.9"));
	take(4, v4("10.0.0.7"));
	for (int i = 5; i < 9; i++)
		take(i, v4("10.9.9.9"));
	assert_true(conns[4].slot.held);
	assert_int_equal(conns[4].shed, 0);
}

/* Connections that have spoken are shed only after every silent one, and
 * still count against their source's share: a source that sends one byte on
 * each of its connections displaces its own, not another source's silent
 * newcomer (whose ClientHello may not have been read yet). */
static void test_heard_slots(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		take(i, v4("10.0.0.1"));
		ward_budget_heard(&budget, &conns[i].slot);
	}
	take(3, v4("10.0.0.9")); /* silent, and the budget is now full */
	take(4, v4("10.0.0.1")); /* its 3 spoke, past its share of 2: its own oldest goes */
	assert_int_equal(conns[0].shed, 1 + WARD_BUDGET_KEY_LIMIT);
	assert_int_equal(conns[3].shed, 0);
	ward_budget_heard(&budget, &conns[3].slot);
	ward_budget_heard(&budget, &conns[4].slot);
	take(5, v4("10.0.0.7")); /* none silent: the oldest of all goes */
	assert_int_equal(conns[1].shed, 1 + WARD_BUDGET_FULL);
	ward_budget_heard(&budget, &conns[4].slot); /* twice: no change */
	ward_budget_put(&budget, &conns[4].slot);
	assert_int_equal(ward_budget_held(&budget), 3);
	assert_int_equal(stats.admitted - stats.released, 3);
}

static void test_sources(void **state)
{
	(void)state;
	/* One /64 is one source: the third from it, the budget full, displaces
	 * the first. */
	take(0, v6("fd00:1:2:3::1"));
	take(1, v6("fd00:1:2:3::abcd"));
	take(2, v6("fd00:1:2:4::1")); /* another /64 */
	take(3, v6("fd00:1:2:4::2"));
	take(4, v6("fd00:1:2:3:ffff::1"));
	assert_int_equal(conns[0].shed, 1 + WARD_BUDGET_KEY_LIMIT);
	assert_int_equal(conns[2].shed, 0);
	/* An IPv4-mapped address is its IPv4 address. */
	ward_budget_init(&budget, 3, 2, &stats);
	take(5, v4("192.0.2.7"));
	take(6, v6("::ffff:192.0.2.7"));
	take(7, v4("10.1.1.1"));
	take(8, v4("192.0.2.7"));
	assert_int_equal(conns[5].shed, 1 + WARD_BUDGET_KEY_LIMIT);
	assert_int_equal(conns[7].shed, 0);
}

static void test_lazy_shed_still_frees_the_slot(void **state)
{
	(void)state;
	ward_budget_init(&budget, 1, 1, &stats);
	conns[0].id = 0;
	ward_budget_take(&budget, &conns[0].slot, (uint8_t[WARD_BUDGET_KEY]){0}, on_shed_lazy);
	take(1, v4("10.0.0.1"));
	assert_int_equal(conns[0].shed, 1 + WARD_BUDGET_FULL);
	assert_false(conns[0].slot.held);
	assert_int_equal(ward_budget_held(&budget), 1);
	assert_int_equal(stats.admitted - stats.released, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_take_and_put, setup),
	    cmocka_unit_test_setup(test_room_sheds_nothing, setup),
	    cmocka_unit_test_setup(test_full_sheds_the_heavy_hitter, setup),
	    cmocka_unit_test_setup(test_newcomer_survives_a_flood, setup),
	    cmocka_unit_test_setup(test_heard_slots, setup),
	    cmocka_unit_test_setup(test_sources, setup),
	    cmocka_unit_test_setup(test_lazy_shed_still_frees_the_slot, setup),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
