/* Memory back after a burst: a trim only when the load has fallen to half
 * its peak and by at least min_drop, at most once a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/trim.h"

static void test_trims_when_a_burst_ends(void **state)
{
	struct ward_trim t;

	(void)state;
	ward_trim_init(&t, 32);
	assert_false(ward_trim_tick(&t, 10, 1000));
	assert_false(ward_trim_tick(&t, 2000, 2000)); /* the burst */
	assert_false(ward_trim_tick(&t, 1500, 3000)); /* not yet half */
	assert_true(ward_trim_tick(&t, 900, 4000));
	assert_int_equal(t.trims, 1);
	assert_false(ward_trim_tick(&t, 400, 4500)); /* within a second of the last */
	assert_true(ward_trim_tick(&t, 0, 5000));    /* the peak was 900 */
	assert_false(ward_trim_tick(&t, 0, 9000));   /* nothing fell since */
	assert_int_equal(t.trims, 2);
}

static void test_small_falls_are_not_bursts(void **state)
{
	struct ward_trim t;

	(void)state;
	ward_trim_init(&t, 32);
	for (uint64_t now = 1000; now < 20000; now += 1000) {
		assert_false(ward_trim_tick(&t, 40, now));
		assert_false(ward_trim_tick(&t, 10, now + 500)); /* fell by 30 < 32 */
	}
	assert_int_equal(t.trims, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trims_when_a_burst_ends),
	    cmocka_unit_test(test_small_falls_are_not_bursts),
	};

	return cmocka_run_group_tests_name("trim", tests, NULL, NULL);
}
