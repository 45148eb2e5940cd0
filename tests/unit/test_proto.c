/* The protobuf codec against the wire format itself: byte vectors worked out
 * by hand from the encoding guide, round trips, and every malformed input the
 * reader must refuse with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spiffe/proto.h"

#define READER(r, bytes) ward_proto_reader_init((r), (bytes), sizeof(bytes))

static void assert_buf_equal(const struct ward_buf *b, const uint8_t *want, size_t len)
{
	assert_int_equal(ward_buf_len(b), len);
	assert_memory_equal(ward_buf_peek(b), want, len);
}

static void expect_varint_bytes(uint64_t v, const uint8_t *want, size_t len)
{
	struct ward_proto_reader r;
	struct ward_buf b;
	uint64_t got;

	ward_buf_init(&b, 64);
	assert_int_equal(ward_proto_write_varint(&b, v), 0);
	assert_buf_equal(&b, want, len);
	ward_proto_reader_init(&r, want, len);
	assert_int_equal(ward_proto_read_varint(&r, &got), 0);
	assert_true(got == v);
	assert_true(ward_proto_reader_done(&r));
	ward_buf_free(&b);
}

static void test_varint_vectors(void **state)
{
	(void)state;
	expect_varint_bytes(0, (const uint8_t[]){0x00}, 1);
	expect_varint_bytes(1, (const uint8_t[]){0x01}, 1);
	expect_varint_bytes(127, (const uint8_t[]){0x7f}, 1);
	expect_varint_bytes(128, (const uint8_t[]){0x80, 0x01}, 2);
	expect_varint_bytes(150, (const uint8_t[]){0x96, 0x01}, 2); /* the guide's example */
	expect_varint_bytes(300, (const uint8_t[]){0xac, 0x02}, 2);
	expect_varint_bytes(UINT32_MAX, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
	expect_varint_bytes(
	    UINT64_MAX,
	    (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
}

/* A non-minimal varint is still a varint (encoders may pad, e.g. to patch a
 * length in place): the reader accepts it up to the 10-byte limit. */
static void test_varint_padded(void **state)
{
	static const uint8_t padded[] = {0x81, 0x80, 0x80, 0x00};
	struct ward_proto_reader r;
	uint64_t v;

	(void)state;
	READER(&r, padded);
	assert_int_equal(ward_proto_read_varint(&r, &v), 0);
	assert_int_equal(v, 1);
	assert_true(ward_proto_reader_done(&r));
}

static void test_varint_truncated(void **state)
{
	static const uint8_t cut[] = {0x08, 0x96};
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	uint32_t field;
	uint64_t v;

	(void)state;
	READER(&r, cut);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(ward_proto_read_varint(&r, &v), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(),
			    "varint at offset 1 cut short by the end of the message");
	assert_int_equal(r.off, 1); /* a failed read consumes nothing */

	ward_proto_reader_init(&r, cut, 0);
	assert_int_equal(ward_proto_read_varint(&r, &v), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(),
			    "varint at offset 0 cut short by the end of the message");
}

static void test_varint_overlong(void **state)
{
	static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0x81, 0x00};
	static const uint8_t over64[] = {0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0x02};
	static const uint8_t padded11[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					   0x80, 0x80, 0x80, 0x80, 0x00};
	struct ward_proto_reader r;
	uint64_t v;

	(void)state;
	READER(&r, eleven);
	assert_int_equal(ward_proto_read_varint(&r, &v), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "varint at offset 0 longer than 10 bytes");
	READER(&r, padded11);
	assert_int_equal(ward_proto_read_varint(&r, &v), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "varint at offset 0 longer than 10 bytes");
	READER(&r, over64);
	assert_int_equal(ward_proto_read_varint(&r, &v), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "varint at offset 0 over 64 bits");
}

/* message Test1 { int32 a = 1; } with a = 150, and
 * message Test2 { string b = 2; } with b = "testing": the encoding guide's
 * own examples. */
static void test_guide_examples(void **state)
{
	static const uint8_t test1[] = {0x08, 0x96, 0x01};
	static const uint8_t test2[] = {0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	const uint8_t *p;
	uint32_t field;
	uint64_t v;
	size_t len;
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 64);
	assert_int_equal(ward_proto_write_tag(&b, 1, WARD_PROTO_VARINT), 0);
	assert_int_equal(ward_proto_write_varint(&b, 150), 0);
	assert_buf_equal(&b, test1, sizeof(test1));
	ward_buf_free(&b);
	assert_int_equal(ward_proto_write_bytes(&b, 2, (const uint8_t *)"testing", 7), 0);
	assert_buf_equal(&b, test2, sizeof(test2));
	ward_buf_free(&b);

	READER(&r, test1);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(field, 1);
	assert_int_equal(wire, WARD_PROTO_VARINT);
	assert_int_equal(ward_proto_read_varint(&r, &v), 0);
	assert_int_equal(v, 150);
	assert_true(ward_proto_reader_done(&r));

	READER(&r, test2);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(field, 2);
	assert_int_equal(wire, WARD_PROTO_LEN);
	assert_int_equal(ward_proto_read_bytes(&r, &p, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(p, "testing", 7);
	assert_ptr_equal(p, test2 + 2); /* borrowed, not copied */
	assert_true(ward_proto_reader_done(&r));
}

struct test1 {
	uint64_t a;
};

static int encode_test1(const void *msg, struct ward_buf *out)
{
	const struct test1 *t = msg;

	GUARD(ward_proto_write_tag(out, 1, WARD_PROTO_VARINT));
	return ward_proto_write_varint(out, t->a);
}

static int encode_fails(const void *msg, struct ward_buf *out)
{
	(void)msg;
	GUARD(ward_proto_write_varint(out, 7));
	return ward_err_set(WARD_ERR_INVALID, "nested encoder refused");
}

static int encode_nothing(const void *msg, struct ward_buf *out)
{
	(void)msg;
	(void)out;
	return 0;
}

/* message Test3 { Test1 c = 3; } with c.a = 150: 1a 03 08 96 01. */
static void test_nested_message(void **state)
{
	static const uint8_t test3[] = {0x1a, 0x03, 0x08, 0x96, 0x01};
	struct test1 t = {.a = 150};
	struct ward_proto_reader r, inner;
	enum ward_proto_wire wire;
	const uint8_t *p;
	uint32_t field;
	uint64_t v;
	size_t len;
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 64);
	assert_int_equal(ward_proto_write_message(&b, 3, encode_test1, &t), 0);
	assert_buf_equal(&b, test3, sizeof(test3));
	ward_buf_free(&b);

	READER(&r, test3);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(field, 3);
	assert_int_equal(ward_proto_read_bytes(&r, &p, &len), 0);
	ward_proto_reader_init(&inner, p, len);
	assert_int_equal(ward_proto_read_tag(&inner, &field, &wire), 0);
	assert_int_equal(ward_proto_read_varint(&inner, &v), 0);
	assert_int_equal(v, 150);
	assert_true(ward_proto_reader_done(&inner));
	assert_true(ward_proto_reader_done(&r));

	/* A failing nested encoder leaves nothing behind and its reason stands. */
	assert_int_equal(ward_proto_write_message(&b, 3, encode_fails, NULL), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "nested encoder refused");
	assert_int_equal(ward_buf_len(&b), 0);
	ward_buf_free(&b);
}

/* An empty nested message is still present: tag and a zero length. */
static void test_nested_empty(void **state)
{
	static const uint8_t want[] = {0x0a, 0x00};
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 64);
	assert_int_equal(ward_proto_write_message(&b, 1, encode_nothing, NULL), 0);
	assert_buf_equal(&b, want, sizeof(want));
	ward_buf_free(&b);
}

static void test_length_past_end(void **state)
{
	static const uint8_t short7[] = {0x12, 0x07, 't'};
	/* 2^63 as a length must not wrap the bounds check into a fit. */
	static const uint8_t huge[] = {0x12, 0x80, 0x80, 0x80, 0x80, 0x80,
				       0x80, 0x80, 0x80, 0x80, 0x01, 'x'};
	/* A nested message claims 5 bytes of its parent's 2: its reader sees only 0.
	 */
	static const uint8_t nested[] = {0x0a, 0x02, 0x12, 0x05, 'a', 'b', 'c', 'd', 'e'};
	struct ward_proto_reader r, inner;
	enum ward_proto_wire wire;
	const uint8_t *p;
	uint32_t field;
	size_t len;

	(void)state;
	READER(&r, short7);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(ward_proto_read_bytes(&r, &p, &len), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "length 7 past end of message (1 left)");
	assert_int_equal(r.off, 1);

	READER(&r, huge);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(ward_proto_read_bytes(&r, &p, &len), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(),
			    "length 9223372036854775808 past end of message (1 left)");

	READER(&r, nested);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(ward_proto_read_bytes(&r, &p, &len), 0);
	assert_int_equal(len, 2);
	ward_proto_reader_init(&inner, p, len);
	assert_int_equal(ward_proto_read_tag(&inner, &field, &wire), 0);
	assert_int_equal(ward_proto_read_bytes(&inner, &p, &len), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "length 5 past end of message (0 left)");
}

static void expect_tag_error(const uint8_t *bytes, size_t len, const char *why)
{
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	uint32_t field;

	ward_proto_reader_init(&r, bytes, len);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), why);
}

static void test_bad_tags(void **state)
{
	(void)state;
	expect_tag_error((const uint8_t[]){0x00}, 1, "field number 0 at offset 0");
	expect_tag_error((const uint8_t[]){0x02, 0x00}, 2, "field number 0 at offset 0");
	expect_tag_error((const uint8_t[]){0x0b}, 1,
			 "field 1 at offset 0: wire type 3 (start group): groups are "
			 "not supported");
	expect_tag_error((const uint8_t[]){0x0c}, 1,
			 "field 1 at offset 0: wire type 4 (end group): groups are not supported");
	expect_tag_error((const uint8_t[]){0x0e}, 1,
			 "field 1 at offset 0: wire type 6 is undefined");
	expect_tag_error((const uint8_t[]){0x0f}, 1,
			 "field 1 at offset 0: wire type 7 is undefined");
	/* 2^29 << 3: one past the largest field number. */
	expect_tag_error((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x10}, 5,
			 "field number 536870912 at offset 0 over the maximum of 536870911");
	expect_tag_error((const uint8_t[]){0x80}, 1,
			 "varint at offset 0 cut short by the end of the message");
}

static void test_largest_field_number(void **state)
{
	static const uint8_t want[] = {0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00};
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	const uint8_t *p;
	uint32_t field;
	size_t len;
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 64);
	assert_int_equal(ward_proto_write_bytes(&b, WARD_PROTO_FIELD_MAX, NULL, 0), 0);
	assert_buf_equal(&b, want, sizeof(want));
	ward_buf_free(&b);
	READER(&r, want);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(field, WARD_PROTO_FIELD_MAX);
	assert_int_equal(wire, WARD_PROTO_LEN);
	assert_int_equal(ward_proto_read_bytes(&r, &p, &len), 0);
	assert_int_equal(len, 0);
	assert_true(ward_proto_reader_done(&r));
}

/* Unknown fields of every wire type before and after a known one. */
static void test_skip_every_wire_type(void **state)
{
	/* clang-format off */
	static const uint8_t msg[] = {
	    0x08, 0xff, 0xff, 0x03,                      /* 1: varint */
	    0x11, 1, 2, 3, 4, 5, 6, 7, 8,                /* 2: i64 */
	    0x1a, 0x02, 'h', 'i',                        /* 3: len */
	    0x25, 1, 2, 3, 4,                            /* 4: i32 */
	    0x32, 0x03, 'k', 'e', 'y',                   /* 6: the known field */
	    0xf8, 0xff, 0xff, 0xff, 0x0f, 0x96, 0x01,    /* 2^29-1: varint */
	};
	/* clang-format on */
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	const uint8_t *p = NULL;
	uint32_t field;
	size_t len = 0;
	int skipped = 0;

	(void)state;
	READER(&r, msg);
	while (!ward_proto_reader_done(&r)) {
		assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
		if (field == 6) {
			assert_int_equal(ward_proto_want_wire(wire, WARD_PROTO_LEN), 0);
			assert_int_equal(ward_proto_read_bytes(&r, &p, &len), 0);
			continue;
		}
		assert_int_equal(ward_proto_skip(&r, wire), 0);
		skipped++;
	}
	assert_int_equal(skipped, 5);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "key", 3);
}

static void expect_skip_error(const uint8_t *bytes, size_t len, const char *why)
{
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	uint32_t field;

	ward_proto_reader_init(&r, bytes, len);
	assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
	assert_int_equal(ward_proto_skip(&r, wire), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), why);
}

static void test_skip_truncated(void **state)
{
	struct ward_proto_reader r;

	(void)state;
	expect_skip_error((const uint8_t[]){0x09, 1, 2, 3, 4, 5, 6, 7}, 8,
			  "i64 at offset 1 cut short by the end of the message");
	expect_skip_error((const uint8_t[]){0x0d, 1, 2, 3}, 4,
			  "i32 at offset 1 cut short by the end of the message");
	expect_skip_error((const uint8_t[]){0x08, 0x80}, 2,
			  "varint at offset 1 cut short by the end of the message");
	expect_skip_error((const uint8_t[]){0x0a, 0x02, 0x00}, 3,
			  "length 2 past end of message (1 left)");
	ward_proto_reader_init(&r, (const uint8_t *)"", 0);
	assert_int_equal(ward_proto_skip(&r, WARD_PROTO_SGROUP), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "cannot skip wire type 3 (start group)");
}

static void test_want_wire(void **state)
{
	(void)state;
	assert_int_equal(ward_proto_want_wire(WARD_PROTO_LEN, WARD_PROTO_LEN), 0);
	assert_int_equal(ward_proto_want_wire(WARD_PROTO_VARINT, WARD_PROTO_LEN), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "wire type 0 (varint), expected 2 (length-delimited)");
	assert_int_equal(ward_proto_want_wire(WARD_PROTO_I32, WARD_PROTO_I64), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "wire type 5 (i32), expected 1 (i64)");
}

static void test_write_refuses(void **state)
{
	struct ward_buf b;
	uint8_t big[16] = {0};

	(void)state;
	ward_buf_init(&b, 8);
	assert_int_equal(ward_proto_write_tag(&b, 0, WARD_PROTO_VARINT), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "field number 0 out of range 1..536870911");
	assert_int_equal(ward_proto_write_tag(&b, WARD_PROTO_FIELD_MAX + 1, WARD_PROTO_LEN),
			 WARD_ERR_INVALID);
	assert_int_equal(ward_proto_write_tag(&b, 1, WARD_PROTO_SGROUP), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "field 1: cannot write wire type 3 (start group)");
	assert_int_equal(ward_buf_len(&b), 0);
	/* The buffer's limit holds: 1 + 1 + 16 bytes do not fit in 8. */
	assert_int_equal(ward_proto_write_bytes(&b, 1, big, sizeof(big)), WARD_ERR_RANGE);
	ward_buf_free(&b);
}

/* Every value written reads back, across lengths whose prefixes change size. */
static void test_round_trip_lengths(void **state)
{
	static const size_t lens[] = {0, 1, 127, 128, 16383, 16384, 70000};
	struct ward_proto_reader r;
	enum ward_proto_wire wire;
	const uint8_t *p;
	uint32_t field;
	size_t len;
	uint8_t *data = malloc(70000);
	struct ward_buf b;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < 70000; i++)
		data[i] = (uint8_t)(i * 7);
	ward_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(ward_proto_write_bytes(&b, (uint32_t)i + 1, data, lens[i]), 0);
	ward_proto_reader_init(&r, ward_buf_peek(&b), ward_buf_len(&b));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(ward_proto_read_tag(&r, &field, &wire), 0);
		assert_int_equal(field, i + 1);
		assert_int_equal(ward_proto_read_bytes(&r, &p, &len), 0);
		assert_int_equal(len, lens[i]);
		if (len)
			assert_memory_equal(p, data, len);
	}
	assert_true(ward_proto_reader_done(&r));
	ward_buf_free(&b);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_varint_vectors),
	    cmocka_unit_test(test_varint_padded),
	    cmocka_unit_test(test_varint_truncated),
	    cmocka_unit_test(test_varint_overlong),
	    cmocka_unit_test(test_guide_examples),
	    cmocka_unit_test(test_nested_message),
	    cmocka_unit_test(test_nested_empty),
	    cmocka_unit_test(test_length_past_end),
	    cmocka_unit_test(test_bad_tags),
	    cmocka_unit_test(test_largest_field_number),
	    cmocka_unit_test(test_skip_every_wire_type),
	    cmocka_unit_test(test_skip_truncated),
	    cmocka_unit_test(test_want_wire),
	    cmocka_unit_test(test_write_refuses),
	    cmocka_unit_test(test_round_trip_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
