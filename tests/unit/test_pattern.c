/* SPIFFE ID patterns: validation reasons and a matching table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spiffe/pattern.h"

static void invalid(const char *pattern, const char *why)
{
	ward_err_clear();
	assert_int_equal(ward_id_pattern_validate(pattern), WARD_ERR_INVALID);
	if (!strstr(ward_err_msg(), why))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", pattern, ward_err_msg(), why);
}

static void test_validate(void **state)
{
	static const char *ok[] = {
	    "spiffe://example.org",
	    "spiffe://example.org/web",
	    "spiffe://example.org/*",
	    "spiffe://example.org/**",
	    "spiffe://example.org/ns/*/sa/web",
	    "spiffe://example.org/ns/*/sa/*",
	    "spiffe://example.org/*/*/**",
	    "spiffe://example.org/ns/prod/**",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ward_id_pattern_validate(ok[i]) != 0)
			fail_msg("%s: %s", ok[i], ward_err_msg());

	invalid("", "is empty");
	invalid("example.org/**", "scheme is not");
	invalid("spiffe://*/x", "trust domain must be literal");
	invalid("spiffe://*.example.org/x", "trust domain must be literal");
	invalid("spiffe://**", "trust domain must be literal");
	invalid("spiffe://example.org/**/x", "\"**\" is allowed only as the last segment");
	invalid("spiffe://example.org/**/**", "\"**\" is allowed only as the last segment");
	invalid("spiffe://example.org/web-*", "\"*\" must be a whole path segment");
	invalid("spiffe://example.org/***", "\"*\" must be a whole path segment");
	invalid("spiffe://example.org/*/", "trailing slash");
	invalid("spiffe://example.org//*", "empty segment");
	invalid("spiffe://Example.org/*", "uppercase");
	invalid("spiffe://example.org/../*", "\".\" or \"..\"");
	invalid("spiffe://example.org/*?x", "\"*\" must be a whole path segment");
	invalid("spiffe://example.org/a?x", "query");
	assert_string_equal(ward_err_msg(),
			    "id pattern \"spiffe://example.org/a?x\": a query is not allowed");
}

struct row {
	const char *pattern, *id;
	bool match;
};

static const struct row table[] = {
    /* Literal patterns match byte for byte. */
    {"spiffe://example.org/web", "spiffe://example.org/web", true},
    {"spiffe://example.org/web", "spiffe://example.org/Web", false},
    {"spiffe://example.org/web", "spiffe://example.org/web/x", false},
    {"spiffe://example.org/web", "spiffe://example.org/we", false},
    {"spiffe://example.org/web", "spiffe://example.com/web", false},
    {"spiffe://example.org", "spiffe://example.org", true},
    {"spiffe://example.org", "spiffe://example.org/web", false},
    /* The trust domain is literal and whole: no suffix or prefix match. */
    {"spiffe://example.org/**", "spiffe://evil-example.org/web", false},
    {"spiffe://example.org/**", "spiffe://example.org.evil/web", false},
    {"spiffe://example.org/**", "spiffe://sub.example.org/web", false},
    /* "*" is exactly one segment. */
    {"spiffe://example.org/*", "spiffe://example.org/web", true},
    {"spiffe://example.org/*", "spiffe://example.org", false},
    {"spiffe://example.org/*", "spiffe://example.org/a/b", false},
    {"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/prod/sa/web", true},
    {"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/a/b/sa/web", false},
    {"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/prod/sa/db", false},
    {"spiffe://example.org/ns/*/sa/*", "spiffe://example.org/ns/prod/sa/db", true},
    /* "**" is zero or more trailing segments. */
    {"spiffe://example.org/**", "spiffe://example.org", true},
    {"spiffe://example.org/**", "spiffe://example.org/web", true},
    {"spiffe://example.org/**", "spiffe://example.org/anything/deep", true},
    {"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/prod", true},
    {"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/prod/sa/web", true},
    {"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/production/sa/web", false},
    {"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns", false},
    {"spiffe://example.org/*/**", "spiffe://example.org", false},
    {"spiffe://example.org/*/**", "spiffe://example.org/a", true},
    {"spiffe://example.org/*/**", "spiffe://example.org/a/b/c", true},
    /* Invalid IDs never match, whatever the pattern. */
    {"spiffe://example.org/**", "spiffe://example.org/", false},
    {"spiffe://example.org/**", "spiffe://example.org/a//b", false},
    {"spiffe://example.org/**", "spiffe://example.org/../x", false},
    {"spiffe://example.org/**", "spiffe://Example.org/x", false},
    {"spiffe://example.org/*", "spiffe://example.org/*", false},
    {"spiffe://example.org/**", "", false},
    /* Invalid patterns never match. */
    {"spiffe://*/**", "spiffe://example.org/x", false},
    {"spiffe://example.org/**/x", "spiffe://example.org/a/x", false},
    {"spiffe://example.org/web-*", "spiffe://example.org/web-1", false},
    {"", "spiffe://example.org/x", false},
};

static void test_match_table(void **state)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct row *r = &table[i];

		if (ward_id_pattern_match(r->pattern, r->id, strlen(r->id)) != r->match)
			fail_msg("%s vs %s: expected %s", r->pattern, r->id,
				 r->match ? "match" : "no match");
	}
}

/* The ID is length-delimited: bytes past id_len are not looked at. */
static void test_match_length(void **state)
{
	static const char buf[] = "spiffe://example.org/web/extra";

	assert_true(ward_id_pattern_match("spiffe://example.org/web", buf, 24));
	assert_false(ward_id_pattern_match("spiffe://example.org/web", buf, sizeof(buf) - 1));
	assert_false(
	    ward_id_pattern_match("spiffe://example.org/**", "spiffe://example.org/w\0b", 24));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_match_table),
	    cmocka_unit_test(test_match_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
