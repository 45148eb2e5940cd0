/* The bounded buffer: limits hold, cursors stay consistent, detach hands off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"

static void test_append_read_roundtrip(void **state)
{
	struct ward_buf b;
	char out[16];

	(void)state;
	ward_buf_init(&b, 64);
	assert_int_equal(ward_buf_append(&b, "hello world", 11), 0);
	assert_int_equal(ward_buf_len(&b), 11);
	assert_int_equal(ward_buf_read(&b, out, 5), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(ward_buf_len(&b), 6);
	/* A read asking for more than is there gets what is there. */
	assert_int_equal(ward_buf_read(&b, out, sizeof(out)), 6);
	assert_memory_equal(out, " world", 6);
	assert_int_equal(ward_buf_read(&b, out, sizeof(out)), 0);
	ward_buf_free(&b);
}

static void test_limit_is_enforced(void **state)
{
	struct ward_buf b;
	uint8_t big[100] = {0};

	(void)state;
	ward_buf_init(&b, 64);
	assert_int_equal(ward_buf_append(&b, big, 65), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 0);
	assert_int_equal(ward_buf_append(&b, big, 60), 0);
	assert_int_equal(ward_buf_append(&b, big, 5), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 60); /* a refused append changes nothing */
	assert_int_equal(ward_buf_append(&b, big, 4), 0);
	assert_true(b.cap <= 64);
	/* SIZE_MAX must not wrap the arithmetic into a "fits". */
	assert_int_equal(ward_buf_append(&b, big, SIZE_MAX), WARD_ERR_RANGE);
	ward_buf_free(&b);
}

static void test_compacts_instead_of_growing(void **state)
{
	struct ward_buf b;
	uint8_t chunk[40], out[40];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	ward_buf_init(&b, 64);
	for (int i = 0; i < 100; i++) { /* a stream far longer than the limit */
		assert_int_equal(ward_buf_append(&b, chunk, 40), 0);
		assert_int_equal(ward_buf_read(&b, out, 30), 30);
		assert_int_equal(ward_buf_read(&b, out, 10), 10);
	}
	assert_true(b.cap <= 64);
	ward_buf_free(&b);
}

static void test_detach_hands_off_unread(void **state)
{
	struct ward_buf b;
	uint8_t *p;
	size_t len;
	char out[4];

	(void)state;
	ward_buf_init(&b, 1024);
	assert_null(ward_buf_detach(&b, &len));
	assert_int_equal(len, 0);
	assert_int_equal(ward_buf_append(&b, "abcdef", 6), 0);
	assert_int_equal(ward_buf_read(&b, out, 2), 2);
	p = ward_buf_detach(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "cdef", 4);
	free(p);
	assert_int_equal(ward_buf_len(&b), 0);
	assert_int_equal(ward_buf_append(&b, "z", 1), 0); /* usable again */
	ward_buf_free(&b);
	ward_buf_free(&b); /* idempotent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_read_roundtrip),
	    cmocka_unit_test(test_limit_is_enforced),
	    cmocka_unit_test(test_compacts_instead_of_growing),
	    cmocka_unit_test(test_detach_hands_off_unread),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
