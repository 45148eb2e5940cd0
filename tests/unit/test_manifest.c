/* Unit tests of manifest streams: YAML typed as Kubernetes types it, JSON
 * streams, round trips through the emitter, and the errors bad input gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/manifest.h"
#include "kube/yaml.h"

static json_t *load(const char *text)
{
	struct ward_manifest m;

	assert_int_equal(ward_manifest_parse(text, strlen(text), &m), 0);
	return m.docs;
}

static char *render(json_t *docs, enum ward_manifest_format f)
{
	struct ward_manifest m = {.format = f, .docs = docs};
	struct ward_buf b;
	char *text;

	ward_buf_init(&b, 1 << 20);
	assert_int_equal(ward_manifest_render(&m, &b), 0);
	assert_int_equal(ward_buf_append(&b, "", 1), 0);
	text = (char *)ward_buf_detach(&b, &(size_t){0});
	return text;
}

static void expect_error_n(const char *text, size_t len, const char *reason)
{
	struct ward_manifest m = {0};

	assert_int_equal(ward_manifest_parse(text, len, &m), WARD_ERR_INVALID);
	assert_null(m.docs);
	if (!strstr(ward_err_msg(), reason))
		fail_msg("error '%s' does not mention '%s'", ward_err_msg(), reason);
}

static void expect_error(const char *text, const char *reason)
{
	expect_error_n(text, strlen(text), reason);
}

/* The scalars people trip over: yes/on/1.10/0777 as go-yaml reads them. */
static void test_plain_scalar_typing(void **state)
{
	json_t *docs = load("a: yes\nb: 'yes'\nc: 8080\nd: \"8080\"\ne: 1.10\nf: 0777\n"
			    "g: 0x1F\nh: ~\ni:\nj: 1_000\nk: 09\nl: 2024-01-02\nm: !!str 7\n"
			    "nn: Off\no: .5\np: 1e3\nq: 0o17\nr: -0b101\ns: plain text\n");
	json_t *d = json_array_get(docs, 0);

	assert_true(json_is_true(json_object_get(d, "a")));
	assert_string_equal(json_string_value(json_object_get(d, "b")), "yes");
	assert_int_equal(json_integer_value(json_object_get(d, "c")), 8080);
	assert_string_equal(json_string_value(json_object_get(d, "d")), "8080");
	assert_true(json_real_value(json_object_get(d, "e")) == 1.1);
	assert_int_equal(json_integer_value(json_object_get(d, "f")), 0777);
	assert_int_equal(json_integer_value(json_object_get(d, "g")), 31);
	assert_true(json_is_null(json_object_get(d, "h")));
	assert_true(json_is_null(json_object_get(d, "i")));
	assert_int_equal(json_integer_value(json_object_get(d, "j")), 1000);
	assert_true(json_real_value(json_object_get(d, "k")) == 9.0);
	assert_string_equal(json_string_value(json_object_get(d, "l")), "2024-01-02");
	assert_string_equal(json_string_value(json_object_get(d, "m")), "7");
	assert_true(json_is_false(json_object_get(d, "nn")));
	assert_true(json_real_value(json_object_get(d, "o")) == 0.5);
	assert_true(json_real_value(json_object_get(d, "p")) == 1000.0);
	assert_int_equal(json_integer_value(json_object_get(d, "q")), 15);
	assert_int_equal(json_integer_value(json_object_get(d, "r")), -5);
	assert_string_equal(json_string_value(json_object_get(d, "s")), "plain text");
	json_decref(docs);
}

/* Strings that would be re-typed come back quoted, so they stay strings. */
static void test_emitter_quotes_retyped_strings(void **state)
{
	const char *in = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"true\"\n  b: \"8080\"\n"
			 "  c: \"\"\n  d: \"null\"\n  e: \"1.5\"\n  f: hello\n  \"8080\": x\n"
			 "  g: |\n    two\n    lines\n  h: 1.5\n  i: 3\n  j: false\n";
	json_t *docs = load(in);
	char *out = render(docs, WARD_MANIFEST_YAML);
	json_t *again = load(out);

	assert_string_equal(out, in);
	assert_true(json_equal(docs, again));
	free(out);
	json_decref(docs);
	json_decref(again);
}

static void test_multi_document_and_anchors(void **state)
{
	json_t *docs;
	char *out;

	/* Anchors are per document: the second one has none defined. */
	expect_error("base: &b {x: 1}\n---\nlist: [*b]\n", "document 2");

	docs = load("a: &b {x: 1, z: 2}\nuse:\n  <<: *b\n  z: 3\nmore: [*b, *b]\n---\nk: v\n");
	assert_int_equal(json_array_size(docs), 2);
	out = render(docs, WARD_MANIFEST_YAML);
	assert_string_equal(out, "a:\n  x: 1\n  z: 2\nuse:\n  x: 1\n  z: 3\nmore:\n- x: 1\n  z: 2\n"
				 "- x: 1\n  z: 2\n---\nk: v\n");
	free(out);
	json_decref(docs);
}

static void test_json_stream(void **state)
{
	json_t *docs = load("{\"kind\": \"A\"}\n{\"kind\": \"B\", \"n\": 0.1}");
	char *out = render(docs, WARD_MANIFEST_JSON);

	assert_int_equal(json_array_size(docs), 2);
	assert_string_equal(out,
			    "{\n  \"kind\": \"A\"\n}\n{\n  \"kind\": \"B\",\n  \"n\": 0.1\n}\n");
	free(out);
	json_decref(docs);
}

static void test_bad_input(void **state)
{
	expect_error("a: 1\na: 2\n", "duplicate key a");
	expect_error("a: [1, 2\n", "document 1: line");
	expect_error("kind: A\n---\nkey: \"unterminated\n", "document 2");
	expect_error("{\"a\": 1, \"a\": 2}", "duplicate");
	expect_error("{\"a\": 1}\n{\"b\": ", "document 2");
	expect_error("{\"a\": 1}\n[1]", "document 2: line 2: a JSON document must be an object");
	expect_error("x: .inf\n", "has no JSON value");
	expect_error("x: !!int abc\n", "does not match its tag");
	expect_error("? [a]\n: 1\n", "mapping key must be a scalar");
	expect_error("x: *nope\n", "unknown or recursive alias");
	expect_error_n("x: 1\0y: 2", 9, "NUL");
}

/* A billion-laughs document is refused, not expanded. */
static void test_alias_bomb(void **state)
{
	char text[2048];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
				      i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	expect_error(text, "too many nodes");
}

static void test_resolve_plain(void **state)
{
	static const char *const strings[] = {"hello", "1.2.3", "0x", "+",  "-", "12:30",
					      "0b2",   "1e",	".",  "v1", NULL};
	json_t *y = ward_yaml_resolve_plain("y", 1);
	char num[64];

	for (const char *const *s = strings; *s; s++) {
		json_t *v = ward_yaml_resolve_plain(*s, strlen(*s));

		if (!json_is_string(v))
			fail_msg("'%s' should stay a string", *s);
		json_decref(v);
	}
	/* go-yaml's YAML 1.1 reads a bare y as true (keys too). */
	assert_true(json_is_true(y));
	json_decref(y);
	ward_yaml_format_real(0.1, num, sizeof(num));
	assert_string_equal(num, "0.1");
	ward_yaml_format_real(2, num, sizeof(num));
	assert_string_equal(num, "2.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_scalar_typing),
	    cmocka_unit_test(test_emitter_quotes_retyped_strings),
	    cmocka_unit_test(test_multi_document_and_anchors),
	    cmocka_unit_test(test_json_stream),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_alias_bomb),
	    cmocka_unit_test(test_resolve_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
