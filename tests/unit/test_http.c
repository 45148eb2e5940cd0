/* The HTTP request parser and response writer, in memory: good requests,
 * every limit, malformed input, pipelining, and input split byte by byte.
 * Then the server on a real loopback socket: a request, keep-alive, and the
 * refusals (oversize, malformed, slow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/http.h"

static struct ward_http_limits limits;

static int setup(void **state)
{
	(void)state;
	ward_http_limits_default(&limits);
	limits.header_bytes = 512;
	limits.body_bytes = 64;
	return 0;
}

static enum ward_http_parse_state feed_all(struct ward_http_parser *p, const char *text,
					   size_t *used)
{
	return ward_http_parse_feed(p, (const uint8_t *)text, strlen(text), used);
}

static bool slice_eq(struct ward_http_slice s, const char *text)
{
	return s.len == strlen(text) && !memcmp(s.p, text, s.len);
}

static void test_good_request(void **state)
{
	struct ward_http_parser p;
	const char *req = "POST /log/level?level=debug&x HTTP/1.1\r\nHost: a\r\n"
			  "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
	size_t used;
	bool found;

	(void)state;
	ward_http_parse_init(&p, &limits);
	assert_int_equal(feed_all(&p, req, &used), WARD_HTTP_REQUEST);
	assert_int_equal(used, strlen(req));
	assert_int_equal(p.req.method, HTTP_POST);
	assert_true(ward_http_path_is(&p.req, "/log/level"));
	assert_false(ward_http_path_is(&p.req, "/log"));
	assert_true(slice_eq(ward_http_query_get(&p.req, "level", &found), "debug"));
	assert_true(found);
	assert_int_equal(ward_http_query_get(&p.req, "x", &found).len, 0);
	assert_true(found);
	ward_http_query_get(&p.req, "lev", &found);
	assert_false(found);
	assert_true(slice_eq(ward_http_header_get(&p.req, "content-type"), "text/plain"));
	assert_null(ward_http_header_get(&p.req, "accept").p);
	assert_true(slice_eq(p.req.body, "hello"));
	assert_true(p.req.keep_alive);
	ward_http_parse_free(&p);
}

static void test_oversize_header(void **state)
{
	struct ward_http_parser p;
	char req[1024];
	size_t used;

	(void)state;
	memset(req, 'a', sizeof(req));
	memcpy(req, "GET / HTTP/1.1\r\nX-Big: ", 23);
	req[sizeof(req) - 1] = '\0';
	ward_http_parse_init(&p, &limits);
	assert_int_equal(feed_all(&p, req, &used), WARD_HTTP_ERROR);
	assert_int_equal(p.error_status, 431);
	ward_http_parse_free(&p);
}

static void test_too_many_headers(void **state)
{
	struct ward_http_parser p;
	char req[4096] = "GET / HTTP/1.1\r\n";
	struct ward_http_limits big = limits;
	size_t used;

	(void)state;
	big.header_bytes = 4096;
	for (int i = 0; i <= WARD_HTTP_MAX_HEADERS; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), "h%d: v\r\n", i);
	ward_http_parse_init(&p, &big);
	assert_int_equal(feed_all(&p, req, &used), WARD_HTTP_ERROR);
	assert_int_equal(p.error_status, 431);
	ward_http_parse_free(&p);
}

static void test_oversize_body(void **state)
{
	struct ward_http_parser p;
	size_t used;
	char chunked[512];

	(void)state;
	ward_http_parse_init(&p, &limits);
	assert_int_equal(feed_all(&p, "POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", &used),
			 WARD_HTTP_ERROR);
	assert_int_equal(p.error_status, 413);
	ward_http_parse_free(&p);

	/* chunked: no declared length, the limit applies as the body arrives */
	snprintf(chunked, sizeof(chunked),
		 "POST / HTTP/1.1\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n40\r\n%064d\r\n1\r\nx\r\n0\r\n\r\n",
		 0);
	ward_http_parse_init(&p, &limits);
	assert_int_equal(feed_all(&p, chunked, &used), WARD_HTTP_ERROR);
	assert_int_equal(p.error_status, 413);
	ward_http_parse_free(&p);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "GARBAGE\r\n\r\n",
	    "GET / HTTP/9.9.9\r\n\r\n",
	    "GET /\x01 HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
	    "GET http://[::1 HTTP/1.1\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ward_http_parser p;
		size_t used;

		ward_http_parse_init(&p, &limits);
		assert_int_equal(feed_all(&p, bad[i], &used), WARD_HTTP_ERROR);
		assert_int_equal(p.error_status, 400);
		/* further input changes nothing */
		assert_int_equal(feed_all(&p, "GET / HTTP/1.1\r\n\r\n", &used), WARD_HTTP_ERROR);
		ward_http_parse_free(&p);
	}
}

static void test_pipelined_and_split(void **state)
{
	const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
			  "POST /b HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz";
	struct ward_http_parser p;
	size_t used, off = 0, n = strlen(two);
	int seen = 0;

	(void)state;
	/* one byte at a time, with both requests back to back */
	ward_http_parse_init(&p, &limits);
	while (off < n) {
		enum ward_http_parse_state st =
		    ward_http_parse_feed(&p, (const uint8_t *)two + off, 1, &used);

		off += used;
		if (st == WARD_HTTP_NEED_MORE) {
			assert_int_equal(used, 1);
			continue;
		}
		assert_int_equal(st, WARD_HTTP_REQUEST);
		if (seen++ == 0) {
			assert_true(ward_http_path_is(&p.req, "/a"));
			assert_true(p.req.keep_alive);
		} else {
			assert_true(ward_http_path_is(&p.req, "/b"));
			assert_true(slice_eq(p.req.body, "xyz"));
			assert_false(p.req.keep_alive);
		}
		ward_http_parse_next(&p);
	}
	assert_int_equal(seen, 2);
	ward_http_parse_free(&p);

	/* all at once: the parser stops after the first and leaves the rest */
	ward_http_parse_init(&p, &limits);
	assert_int_equal(feed_all(&p, two, &used), WARD_HTTP_REQUEST);
	assert_true(used < n);
	assert_true(ward_http_path_is(&p.req, "/a"));
	assert_memory_equal(two + used, "POST /b", 7);
	ward_http_parse_next(&p);
	assert_int_equal(feed_all(&p, two + used, &off), WARD_HTTP_REQUEST);
	assert_int_equal(used + off, n);
	assert_true(ward_http_path_is(&p.req, "/b"));
	ward_http_parse_free(&p);
}

static void test_empty_feed_is_not_eof(void **state)
{
	struct ward_http_parser p;
	size_t used;

	(void)state;
	ward_http_parse_init(&p, &limits);
	assert_int_equal(feed_all(&p, "GET / HT", &used), WARD_HTTP_NEED_MORE);
	assert_int_equal(ward_http_parse_feed(&p, NULL, 0, &used), WARD_HTTP_NEED_MORE);
	assert_int_equal(feed_all(&p, "TP/1.0\r\n\r\n", &used), WARD_HTTP_REQUEST);
	assert_false(p.req.keep_alive); /* HTTP/1.0 without keep-alive */
	ward_http_parse_free(&p);
}

static void test_response_format(void **state)
{
	struct ward_http_response r = {0};
	uint8_t *out;
	size_t len;
	const char *want = "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; "
			   "charset=utf-8\r\nContent-Length: 5\r\nCache-Control: no-store\r\n"
			   "Allow: GET\r\nConnection: close\r\n\r\nnope\n";

	(void)state;
	assert_int_equal(ward_http_response_text(&r, 405, "%s", "nope"), 0);
	r.allow = "GET";
	assert_int_equal(ward_http_response_format(&r, false, &out, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
	free(r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_good_request, setup),
	    cmocka_unit_test_setup(test_oversize_header, setup),
	    cmocka_unit_test_setup(test_too_many_headers, setup),
	    cmocka_unit_test_setup(test_oversize_body, setup),
	    cmocka_unit_test_setup(test_malformed, setup),
	    cmocka_unit_test_setup(test_pipelined_and_split, setup),
	    cmocka_unit_test_setup(test_empty_feed_is_not_eof, setup),
	    cmocka_unit_test_setup(test_response_format, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
