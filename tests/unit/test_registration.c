/* Registration entries: matching is "all of the entry's selectors are the
 * caller's", in file order; every bad entry is refused with a reason naming
 * its index and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/registration.h"

#define TD "example.org"

static struct ward_registration *load(const char *json)
{
	struct ward_registration *reg;

	if (ward_registration_load_string("entries.json", json, TD, &reg) < 0)
		fail_msg("%s", ward_err_msg());
	return reg;
}

static void refused(const char *json, const char *why)
{
	struct ward_registration *reg = (void *)1;

	ward_err_clear();
	assert_int_equal(ward_registration_load_string("entries.json", json, TD, &reg),
			 WARD_ERR_INVALID);
	assert_null(reg);
	if (!strstr(ward_err_msg(), why))
		fail_msg("reason \"%s\" lacks \"%s\"", ward_err_msg(), why);
}

static struct ward_selectors sels(char **items, size_t n)
{
	return (struct ward_selectors){items, n};
}

static const char *const entries =
    "{\"entries\": ["
    " {\"spiffe_id\": \"spiffe://example.org/web\", \"selectors\": [\"unix:uid:1000\"],"
    "  \"hint\": \"web\"},"
    " {\"spiffe_id\": \"spiffe://example.org/web-admin\","
    "  \"selectors\": [\"unix:uid:1000\", \"unix:group:admin\"],"
    "  \"federates_with\": [\"partner.org\"], \"x509_svid_ttl_s\": 60},"
    " {\"spiffe_id\": \"spiffe://example.org/db\", \"selectors\": [\"unix:user:postgres\","
    "  \"unix:sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]}"
    "]}";

static void test_load(void **state)
{
	struct ward_registration *reg = load(entries);

	assert_int_equal(reg->n, 3);
	assert_string_equal(reg->entries[0].id.text, "spiffe://example.org/web");
	assert_string_equal(reg->entries[0].hint, "web");
	assert_int_equal(reg->entries[0].x509_svid_ttl_s, 0);
	assert_int_equal(reg->entries[1].n_selectors, 2);
	assert_int_equal(reg->entries[1].n_federates_with, 1);
	assert_string_equal(reg->entries[1].federates_with[0], "partner.org");
	assert_int_equal(reg->entries[1].x509_svid_ttl_s, 60);
	assert_null(reg->entries[2].hint);
	assert_true(reg->uses_sha256);
	ward_registration_free(reg);

	reg = load("{\"entries\": []}");
	assert_int_equal(reg->n, 0);
	assert_false(reg->uses_sha256);
	ward_registration_free(reg);
}

static void test_match_all_selectors(void **state)
{
	struct ward_registration *reg = load(entries);
	char *web[] = {"unix:uid:1000", "unix:gid:1000", "unix:user:alice"};
	char *admin[] = {"unix:gid:50", "unix:group:admin", "unix:uid:1000"};
	char *pg_other_binary[] = {"unix:uid:999", "unix:user:postgres",
				   "unix:sha256:ffffffffffffffffffffffffffffffff"
				   "ffffffffffffffffffffffffffffffff"};
	char *nobody[] = {"unix:uid:65534"};
	struct ward_selectors s;
	size_t idx[4];

	s = sels(web, 3);
	assert_int_equal(ward_registration_match(reg, &s, idx, 4), 1);
	assert_int_equal(idx[0], 0);
	/* Both entries, in file order: the first is the default SVID. */
	s = sels(admin, 3);
	assert_int_equal(ward_registration_match(reg, &s, idx, 4), 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1);
	/* The count is the full count even when idx is shorter. */
	assert_int_equal(ward_registration_match(reg, &s, idx, 1), 2);
	/* One selector of two is not enough. */
	s = sels(pg_other_binary, 3);
	assert_int_equal(ward_registration_match(reg, &s, idx, 4), 0);
	s = sels(nobody, 1);
	assert_int_equal(ward_registration_match(reg, &s, idx, 4), 0);
	s = sels(NULL, 0);
	assert_int_equal(ward_registration_match(reg, &s, idx, 4), 0);
	ward_registration_free(reg);
}

#define ENTRY(body)                                                                                \
	"{\"entries\": [{\"spiffe_id\": \"spiffe://example.org/a\", "                              \
	"\"selectors\": [\"unix:uid:1\"]}, " body "]}"

static void test_bad_entries(void **state)
{
	refused("[]", "entries.json: entries file: must be an object (got an array)");
	refused("{}", "entries: required");
	refused("{\"entries\": [], \"extra\": 1}", "extra: unknown key");
	refused("{\"entries\": {}}", "entries: must be an array");
	refused("{\"entries\": [", "entries.json: line 1");
	refused(ENTRY("7"), "entries[1]: must be an object (got 7)");
	refused(ENTRY("{\"selectors\": [\"unix:uid:1\"]}"), "entries[1].spiffe_id: required");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\"}"),
		"entries[1].selectors: at least one selector is required");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": []}"),
		"entries[1].selectors: at least one selector is required");
	refused(
	    ENTRY("{\"spiffe_id\": \"spiffe://other.org/b\", \"selectors\": [\"unix:uid:1\"]}"),
	    "entries[1].spiffe_id: \"spiffe://other.org/b\" is not in trust domain example.org");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org\", \"selectors\": [\"unix:uid:1\"]}"),
		"entries[1].spiffe_id: \"spiffe://example.org\" has no path");
	refused(
	    ENTRY("{\"spiffe_id\": \"spiffe://example.org/a/\", \"selectors\": [\"unix:uid:1\"]}"),
	    "entries[1].spiffe_id: spiffe id");
	refused(ENTRY("{\"spiffe_id\": 5, \"selectors\": [\"unix:uid:1\"]}"),
		"entries[1].spiffe_id: must be a non-empty string (got 5)");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"k8s:ns:x\"]}"),
		"entries[1].selectors[0]: \"k8s:ns:x\" type must be \"unix\"");
	refused(
	    ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:pid:1\"]}"),
	    "entries[1].selectors[0]: \"unix:pid:1\" kind must be uid");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": "
		      "[\"unix:uid:1\", \"unix:uid:x\"]}"),
		"entries[1].selectors[1]: \"unix:uid:x\" must be a decimal number");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": "
		      "[\"unix:uid:1\", \"unix:uid:1\"]}"),
		"entries[1].selectors[1]: \"unix:uid:1\" is listed twice");
	refused(
	    ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:uid:\"]}"),
	    "must be unix:<kind>:<value>");
	refused(
	    ENTRY(
		"{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:sha256:AB\"]}"),
	    "must be 64 lowercase hex digits");
	refused(
	    ENTRY(
		"{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:path:bin\"]}"),
	    "must be an absolute path");
	refused(
	    ENTRY(
		"{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:user:a b\"]}"),
	    "must not contain spaces");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:uid:1\"],"
		      " \"federates_with\": [\"spiffe://partner.org\"]}"),
		"entries[1].federates_with[0]: \"spiffe://partner.org\" is a SPIFFE ID");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:uid:1\"],"
		      " \"x509_svid_ttl_s\": 0}"),
		"entries[1].x509_svid_ttl_s: must be an integer from 1");
	refused(ENTRY("{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"unix:uid:1\"],"
		      " \"ttl\": 5}"),
		"entries[1].ttl: unknown key");
	/* The same ID and selector set twice (in another order). */
	refused("{\"entries\": [{\"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": "
		"[\"unix:uid:1\", \"unix:gid:2\"]}, {\"spiffe_id\": \"spiffe://example.org/a\", "
		"\"selectors\": [\"unix:gid:2\", \"unix:uid:1\"]}]}",
		"entries[1]: same spiffe_id and selectors as entries[0]");
}

static void test_selector_grammar(void **state)
{
	assert_null(ward_attest_selector_check("unix:uid:0"));
	assert_null(ward_attest_selector_check("unix:gid:4294967294"));
	assert_non_null(ward_attest_selector_check("unix:gid:4294967295"));
	assert_non_null(ward_attest_selector_check("unix:uid:007"));
	assert_null(ward_attest_selector_check("unix:supplementary_gid:27"));
	assert_null(ward_attest_selector_check("unix:supplementary_group:sudo"));
	assert_null(ward_attest_selector_check("unix:path:/usr/bin/curl"));
	assert_non_null(ward_attest_selector_check("unix"));
	assert_non_null(ward_attest_selector_check("unix:"));
	assert_non_null(ward_attest_selector_check("UNIX:uid:1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_match_all_selectors),
	    cmocka_unit_test(test_bad_entries),
	    cmocka_unit_test(test_selector_grammar),
	};

	return cmocka_run_group_tests_name("registration", tests, NULL, NULL);
}
