/* SPIFFE ID parser: every rule of SPIFFE-ID §2 with a negative case, and the
 * valid edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spiffe/id.h"

static struct ward_spiffe_id id;

static int parse(const char *s)
{
	return ward_spiffe_id_parse(s, strlen(s), &id);
}

/* s must be refused, with a reason that contains why. */
static void refused(const char *s, const char *why)
{
	ward_err_clear();
	assert_int_equal(parse(s), WARD_ERR_INVALID);
	assert_int_equal(id.len, 0);
	if (!strstr(ward_err_msg(), why))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", s, ward_err_msg(), why);
}

static void test_valid(void **state)
{
	static const char *ok[] = {
	    "spiffe://example.org",
	    "spiffe://example.org/web",
	    "spiffe://example.org/ns/default/sa/web",
	    "spiffe://a",
	    "spiffe://1.2.3.4/x",
	    "spiffe://my_td-1.example.org/Mixed.Case-path_0",
	    "spiffe://example.org/...",
	    "spiffe://example.org/.a/a./..b",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse(ok[i]) != 0)
			fail_msg("%s: %s", ok[i], ward_err_msg());
		assert_string_equal(id.text, ok[i]);
		assert_int_equal(id.len, strlen(ok[i]));
		assert_null(ward_spiffe_id_check(ok[i], strlen(ok[i])));
	}
}

static void test_parts(void **state)
{
	size_t len;
	const char *td;

	assert_int_equal(parse("spiffe://example.org/ns/prod"), 0);
	td = ward_spiffe_id_trust_domain(&id, &len);
	assert_int_equal(len, strlen("example.org"));
	assert_memory_equal(td, "example.org", len);
	assert_string_equal(ward_spiffe_id_path(&id), "/ns/prod");
	assert_true(ward_spiffe_id_member_of(&id, "example.org", 11));
	assert_false(ward_spiffe_id_member_of(&id, "example.com", 11));
	assert_false(ward_spiffe_id_member_of(&id, "example.or", 10));

	assert_int_equal(parse("spiffe://example.org"), 0);
	assert_string_equal(ward_spiffe_id_path(&id), "");
	td = ward_spiffe_id_trust_domain(&id, &len);
	assert_int_equal(len, 11);

	struct ward_spiffe_id a, b;
	assert_int_equal(ward_spiffe_id_parse("spiffe://e.org/a", 16, &a), 0);
	b = a; /* copyable by value */
	assert_true(ward_spiffe_id_equal(&a, &b));
	assert_int_equal(ward_spiffe_id_parse("spiffe://e.org/A", 16, &b), 0);
	assert_false(ward_spiffe_id_equal(&a, &b));
}

static void test_scheme(void **state)
{
	refused("", "is empty");
	refused("spiffe:/", "scheme is not");
	refused("spiffe:example.org/x", "scheme is not");
	refused("https://example.org/x", "scheme is not");
	refused("SPIFFE://example.org/x", "scheme must be lowercase");
	refused("Spiffe://example.org/x", "scheme must be lowercase");
	refused(" spiffe://example.org/x", "scheme is not");
}

static void test_trust_domain(void **state)
{
	refused("spiffe://", "trust domain is empty");
	refused("spiffe:///x", "trust domain is empty");
	refused("spiffe://Example.org/x", "trust domain has an uppercase letter");
	refused("spiffe://example.org:8443/x", "port");
	refused("spiffe://example.org:/x", "port");
	refused("spiffe://user@example.org/x", "userinfo");
	refused("spiffe://exa%6dple.org/x", "percent-encoding");
	refused("spiffe://example.org?x=1", "query");
	refused("spiffe://example.org#frag", "fragment");
	refused("spiffe://ex ample.org/x", "character outside [a-z0-9.-_]");
	refused("spiffe://[::1]/x", "character outside");
	refused("spiffe://exämple.org/x", "character outside");

	/* SPIFFE-ID §2.3: a trust domain is at most 255 bytes. */
	char s[9 + 256 + 1];
	memcpy(s, "spiffe://", 9);
	memset(s + 9, 'a', 255);
	s[9 + 255] = '\0';
	assert_int_equal(parse(s), 0);
	memset(s + 9, 'a', 256);
	s[9 + 256] = '\0';
	refused(s, "longer than 255 bytes");
}

static void test_path(void **state)
{
	refused("spiffe://example.org/", "trailing slash");
	refused("spiffe://example.org/x/", "trailing slash");
	refused("spiffe://example.org//x", "empty segment");
	refused("spiffe://example.org/x//y", "empty segment");
	refused("spiffe://example.org/.", "\".\" or \"..\"");
	refused("spiffe://example.org/..", "\".\" or \"..\"");
	refused("spiffe://example.org/a/./b", "\".\" or \"..\"");
	refused("spiffe://example.org/a/../b", "\".\" or \"..\"");
	refused("spiffe://example.org/a%20b", "percent-encoding");
	refused("spiffe://example.org/a?b", "query");
	refused("spiffe://example.org/a#b", "fragment");
	refused("spiffe://example.org/a b", "character outside [a-zA-Z0-9.-_]");
	refused("spiffe://example.org/a~b", "character outside");
	refused("spiffe://example.org/a:b", "character outside");
	refused("spiffe://example.org/*", "character outside");
	refused("spiffe://example.org/é", "character outside");
}

/* SPIFFE-ID §2.3: up to 2048 bytes, counting the scheme. */
static void test_length(void **state)
{
	char s[WARD_SPIFFE_ID_MAX + 2];
	size_t n;

	memcpy(s, "spiffe://example.org/", 21);
	memset(s + 21, 'p', sizeof(s) - 21);
	assert_int_equal(ward_spiffe_id_parse(s, WARD_SPIFFE_ID_MAX, &id), 0);
	assert_int_equal(id.len, 2048);
	assert_int_equal(strlen(id.text), 2048);
	assert_int_equal(ward_spiffe_id_parse(s, WARD_SPIFFE_ID_MAX + 1, &id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "longer than 2048 bytes"));
	/* The reason quotes a bounded prefix of the input. */
	n = strlen(ward_err_msg());
	assert_true(n < 300);
	assert_non_null(strstr(ward_err_msg(), "...\""));
}

/* Wire data is pointer + length: no NUL termination is assumed, and a NUL
 * inside the length is refused. */
static void test_length_delimited(void **state)
{
	static const char buf[] = "spiffe://example.org/web/GARBAGE";
	static const char nul[] = "spiffe://example.org/we\0b";

	assert_int_equal(ward_spiffe_id_parse(buf, 24, &id), 0);
	assert_string_equal(id.text, "spiffe://example.org/web");
	assert_int_equal(ward_spiffe_id_parse(nul, sizeof(nul) - 1, &id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "NUL byte"));
	assert_non_null(strstr(ward_err_msg(), "\\x00"));
	assert_int_equal(ward_spiffe_id_parse(nul, 0, &id), WARD_ERR_INVALID);
}

static void test_reason_format(void **state)
{
	assert_int_equal(parse("spiffe://Example.org/x"), WARD_ERR_INVALID);
	assert_string_equal(
	    ward_err_msg(),
	    "spiffe id \"spiffe://Example.org/x\": trust domain has an uppercase letter");
	assert_string_equal(ward_spiffe_id_check("spiffe://Example.org/x", 22),
			    "trust domain has an uppercase letter");
}

static void test_trust_domain_validate(void **state)
{
	assert_int_equal(ward_spiffe_trust_domain_validate("example.org", 11), 0);
	assert_int_equal(ward_spiffe_trust_domain_validate("", 0), WARD_ERR_INVALID);
	assert_int_equal(ward_spiffe_trust_domain_validate("Example.org", 11), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(),
			    "trust domain \"Example.org\": trust domain has an uppercase letter");
	assert_int_equal(ward_spiffe_trust_domain_validate("example.org/x", 13), WARD_ERR_INVALID);
	assert_int_equal(ward_spiffe_trust_domain_validate("spiffe://example.org", 20),
			 WARD_ERR_INVALID);
	assert_int_equal(ward_spiffe_trust_domain_validate("e\0x", 3), WARD_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_parts),
	    cmocka_unit_test(test_scheme),
	    cmocka_unit_test(test_trust_domain),
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_length),
	    cmocka_unit_test(test_length_delimited),
	    cmocka_unit_test(test_reason_format),
	    cmocka_unit_test(test_trust_domain_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
