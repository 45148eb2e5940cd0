/* gRPC framing: prefixes byte for byte, a reader that reassembles messages
 * however the DATA stream splits or joins them, refusal of what ward never
 * negotiates, and the grpc-message percent-encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spiffe/grpc.h"

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(ward_grpc_status_name(WARD_GRPC_OK), "ok");
	assert_string_equal(ward_grpc_status_name(WARD_GRPC_PERMISSION_DENIED),
			    "permission_denied");
	assert_string_equal(ward_grpc_status_name(WARD_GRPC_UNIMPLEMENTED), "unimplemented");
	assert_string_equal(ward_grpc_status_name(WARD_GRPC_UNAVAILABLE), "unavailable");
	assert_string_equal(ward_grpc_status_name(WARD_GRPC_UNAUTHENTICATED), "unauthenticated");
	assert_string_equal(ward_grpc_status_name(6), "already_exists");
	assert_string_equal(ward_grpc_status_name(15), "data_loss");
	assert_string_equal(ward_grpc_status_name(17), "unknown");
	assert_string_equal(ward_grpc_status_name(-1), "unknown");
	assert_string_equal(ward_grpc_status_name(1000), "unknown");
}

static void test_frame_bytes(void **state)
{
	static const uint8_t want[] = {0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0};
	uint8_t *big = calloc(1, 0x010203);
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 1 << 20);
	assert_int_equal(ward_grpc_frame_append(&b, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(ward_grpc_frame_append(&b, NULL, 0), 0); /* X509SVIDRequest{} */
	assert_int_equal(ward_buf_len(&b), sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	ward_buf_free(&b);

	/* The length is big-endian. */
	assert_non_null(big);
	assert_int_equal(ward_grpc_frame_append(&b, big, 0x010203), 0);
	assert_memory_equal(b.data, ((const uint8_t[]){0, 0, 0x01, 0x02, 0x03}), 5);
	ward_buf_free(&b);
	free(big);
}

/* A message that does not fit leaves no orphan prefix behind. */
static void test_frame_does_not_fit(void **state)
{
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 8);
	/* The prefix fits, the message does not: the prefix is taken back. */
	assert_int_equal(ward_grpc_frame_append(&b, (const uint8_t *)"abcd", 4), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 0);
	assert_int_equal(ward_grpc_frame_append(&b, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(ward_grpc_frame_append(&b, NULL, 0), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 8);
	assert_memory_equal(b.data, ((const uint8_t[]){0, 0, 0, 0, 3, 'a', 'b', 'c'}), 8);
	ward_buf_free(&b);
}

/* Two messages, "hello" and the empty one, framed into one stream. */
static void make_stream(struct ward_buf *b)
{
	ward_buf_init(b, 1024);
	assert_int_equal(ward_grpc_frame_append(b, (const uint8_t *)"hello", 5), 0);
	assert_int_equal(ward_grpc_frame_append(b, NULL, 0), 0);
	assert_int_equal(ward_grpc_frame_append(b, (const uint8_t *)"world!", 6), 0);
}

/* Feeds the stream in chunks of `chunk` bytes, draining after each feed as
 * the Workload API client does, and checks what comes out. */
static void feed_in_chunks(size_t chunk)
{
	static const char *const want[] = {"hello", "", "world!"};
	struct ward_grpc_reader r;
	struct ward_buf stream;
	size_t got = 0;

	make_stream(&stream);
	ward_grpc_reader_init(&r, 64);
	for (size_t off = 0; off < ward_buf_len(&stream); off += chunk) {
		size_t n =
		    ward_buf_len(&stream) - off < chunk ? ward_buf_len(&stream) - off : chunk;
		const uint8_t *msg;
		size_t len;
		int rc;

		assert_int_equal(ward_grpc_reader_feed(&r, ward_buf_peek(&stream) + off, n), 0);
		while ((rc = ward_grpc_reader_next(&r, &msg, &len)) == 0) {
			assert_true(got < 3);
			assert_int_equal(len, strlen(want[got]));
			assert_memory_equal(msg, want[got], len);
			got++;
		}
		assert_int_equal(rc, WARD_ERR_WOULDBLOCK);
		/* Partial exactly when the bytes so far end inside a message. */
		assert_int_equal(ward_grpc_reader_partial(&r),
				 off + n != 10 && off + n != 15 &&
				     off + n != ward_buf_len(&stream));
	}
	assert_int_equal(got, 3);
	assert_false(ward_grpc_reader_partial(&r));
	ward_grpc_reader_free(&r);
	ward_buf_free(&stream);
}

static void test_reader_any_split(void **state)
{
	(void)state;
	for (size_t chunk = 1; chunk <= 26; chunk++)
		feed_in_chunks(chunk);
}

static void test_reader_two_in_one_feed(void **state)
{
	static const uint8_t two[] = {0, 0, 0, 0, 1, 'x', 0, 0, 0, 0, 2, 'y', 'z'};
	struct ward_grpc_reader r;
	const uint8_t *msg;
	size_t len;

	(void)state;
	ward_grpc_reader_init(&r, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, two, sizeof(two)), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
	assert_int_equal(len, 1);
	assert_memory_equal(msg, "x", 1);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(msg, "yz", 2);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_WOULDBLOCK);
	assert_false(ward_grpc_reader_partial(&r));
	ward_grpc_reader_free(&r);
}

/* A whole message followed by the start of the next: the whole one comes
 * out, and a stream ending there was cut mid-message. */
static void test_reader_partial_at_end(void **state)
{
	static const uint8_t bytes[] = {0, 0, 0, 0, 1, 'x', 0, 0, 0, 0, 9, 'a', 'b'};
	struct ward_grpc_reader r;
	const uint8_t *msg;
	size_t len;

	(void)state;
	ward_grpc_reader_init(&r, 64);
	assert_false(ward_grpc_reader_partial(&r));
	assert_int_equal(ward_grpc_reader_feed(&r, bytes, sizeof(bytes)), 0);
	assert_false(ward_grpc_reader_partial(&r)); /* "x" is whole, only not yet read */
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_WOULDBLOCK);
	assert_true(ward_grpc_reader_partial(&r));
	ward_grpc_reader_free(&r);

	/* Three bytes of a prefix are a partial message too. */
	ward_grpc_reader_init(&r, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, bytes, 3), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_WOULDBLOCK);
	assert_true(ward_grpc_reader_partial(&r));
	ward_grpc_reader_free(&r);
}

static void test_reader_compressed(void **state)
{
	static const uint8_t compressed[] = {1, 0, 0, 0, 1, 'x'};
	struct ward_grpc_reader r;
	const uint8_t *msg;
	size_t len;

	(void)state;
	ward_grpc_reader_init(&r, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, compressed, sizeof(compressed)), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_UNSUPPORTED);
	assert_string_equal(ward_err_msg(),
			    "gRPC message is compressed, but no grpc-encoding was offered");
	/* Final: asking again does not resynchronise on the bytes after it. */
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_UNSUPPORTED);
	ward_grpc_reader_free(&r);

	ward_grpc_reader_init(&r, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, (const uint8_t[]){0x80, 0, 0, 0, 0}, 5), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "gRPC message flag 0x80 is not 0 or 1");
	ward_grpc_reader_free(&r);
}

/* An oversize length is refused from the prefix alone, before any of the
 * message is buffered. */
static void test_reader_oversize(void **state)
{
	static const uint8_t at_max[] = {0, 0, 0, 0, 64};
	static const uint8_t over[] = {0, 0, 0, 0, 65};
	static const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
	uint8_t body[64] = {0};
	struct ward_grpc_reader r;
	const uint8_t *msg;
	size_t len;

	(void)state;
	ward_grpc_reader_init(&r, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, at_max, sizeof(at_max)), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_WOULDBLOCK);
	assert_int_equal(ward_grpc_reader_feed(&r, body, sizeof(body)), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
	assert_int_equal(len, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, over, sizeof(over)), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(), "gRPC message of 65 bytes over the limit of 64");
	ward_grpc_reader_free(&r);

	ward_grpc_reader_init(&r, WARD_GRPC_MAX_MESSAGE);
	assert_int_equal(ward_grpc_reader_feed(&r, huge, sizeof(huge)), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(),
			    "gRPC message of 4294967295 bytes over the limit of 4194304");
	ward_grpc_reader_free(&r);
}

/* The reader holds the message being assembled plus one more whole one, and
 * refuses to buffer beyond that. */
static void test_reader_feed_bound(void **state)
{
	uint8_t frame[WARD_GRPC_PREFIX_LEN + 64] = {0, 0, 0, 0, 64};
	struct ward_grpc_reader r;
	const uint8_t *msg;
	size_t len;

	(void)state;
	ward_grpc_reader_init(&r, 64);
	assert_int_equal(ward_grpc_reader_feed(&r, frame, sizeof(frame) - 1), 0);
	/* The rest of the first message and all of a second in one chunk. */
	assert_int_equal(ward_grpc_reader_feed(&r, frame + sizeof(frame) - 1, 1), 0);
	assert_int_equal(ward_grpc_reader_feed(&r, frame, sizeof(frame)), 0);
	assert_int_equal(ward_grpc_reader_feed(&r, frame, 1), WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(), "gRPC stream: 138 bytes pending and 1 more exceed 138");
	/* What was pending is intact. */
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
	assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), WARD_ERR_WOULDBLOCK);
	/* Draining makes room again, as long as the stream keeps going. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(ward_grpc_reader_feed(&r, frame, sizeof(frame)), 0);
		assert_int_equal(ward_grpc_reader_next(&r, &msg, &len), 0);
		assert_int_equal(len, 64);
	}
	assert_true(r.in.cap <= 2 * sizeof(frame));
	ward_grpc_reader_free(&r);
	ward_grpc_reader_free(&r); /* safe twice */
}

static void expect_decoded(const char *in, size_t out_len, const char *want)
{
	char out[64];

	memset(out, 'Z', sizeof(out));
	ward_grpc_message_decode(in, strlen(in), out, out_len);
	assert_string_equal(out, want);
}

static void test_message_decode(void **state)
{
	char out[4] = "abc";

	(void)state;
	expect_decoded("no escapes", 64, "no escapes");
	expect_decoded("hello%20world", 64, "hello world");
	expect_decoded("%41%42%63", 64, "ABc");
	expect_decoded("%e2%9C%93 ok", 64, "\xe2\x9c\x93 ok");
	expect_decoded("100%", 64, "100%"); /* invalid escapes stay literal */
	expect_decoded("100%4", 64, "100%4");
	expect_decoded("%zz%4g%", 64, "%zz%4g%");
	expect_decoded("abcdef", 4, "abc"); /* truncated to fit */
	expect_decoded("%41%42%43", 3, "AB");
	expect_decoded("", 64, "");
	/* Wire data: only len bytes are read. */
	ward_grpc_message_decode("xy%41", 2, out, sizeof(out));
	assert_string_equal(out, "xy");
	ward_grpc_message_decode("%41", 2, out, sizeof(out));
	assert_string_equal(out, "%4");
	ward_grpc_message_decode("abc", 3, out, 0); /* nowhere to write */
}

static void expect_encoded(const char *in, size_t out_len, const char *want)
{
	char out[64];

	memset(out, 'Z', sizeof(out));
	ward_grpc_message_encode(in, out, out_len);
	assert_string_equal(out, want);
}

static void test_message_encode(void **state)
{
	char back[64];
	char enc[64];
	const char *msg = "no SVID for uid 1000: 100% \"denied\"\n\xe2\x9c\x93";

	(void)state;
	expect_encoded("plain text", 64, "plain text");
	expect_encoded("50% off", 64, "50%25 off");
	expect_encoded("tab\there\n", 64, "tab%09here%0A");
	expect_encoded("\xe2\x9c\x93", 64, "%E2%9C%93");
	expect_encoded("\x7f~", 64, "%7F~");
	expect_encoded("abcdef", 4, "abc");
	expect_encoded("ab\n", 5, "ab"); /* "%0A" does not fit whole */
	expect_encoded("ab\n", 6, "ab%0A");
	ward_grpc_message_encode("abc", enc, 0);

	ward_grpc_message_encode(msg, enc, sizeof(enc));
	ward_grpc_message_decode(enc, strlen(enc), back, sizeof(back));
	assert_string_equal(back, msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test(test_frame_bytes),
	    cmocka_unit_test(test_frame_does_not_fit),
	    cmocka_unit_test(test_reader_any_split),
	    cmocka_unit_test(test_reader_two_in_one_feed),
	    cmocka_unit_test(test_reader_partial_at_end),
	    cmocka_unit_test(test_reader_compressed),
	    cmocka_unit_test(test_reader_oversize),
	    cmocka_unit_test(test_reader_feed_bound),
	    cmocka_unit_test(test_message_decode),
	    cmocka_unit_test(test_message_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
