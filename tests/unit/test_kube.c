/* Unit tests of the injector's pieces: JSON Patch by difference, admission
 * reviews, injector settings, and inject/uninject on in-memory pods. The
 * golden files and the HTTPS webhook are tested end to end in
 * tests/e2e/test_inject.sh and test_webhook.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/admission.h"
#include "kube/inject.h"
#include "kube/inject_impl.h"
#include "kube/patch.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, 0, &err);

	if (!v)
		fail_msg("bad test JSON: %s", err.text);
	return v;
}

static void expect_patch(const char *from, const char *to, const char *want)
{
	json_t *a = parse(from), *b = parse(to), *ops = json_array(), *w = parse(want);

	assert_int_equal(ward_patch_diff(a, b, ops), 0);
	if (!json_equal(ops, w)) {
		char *got = json_dumps(ops, JSON_COMPACT);

		fail_msg("patch %s, want %s", got, want);
	}
	json_decref(a);
	json_decref(b);
	json_decref(ops);
	json_decref(w);
}

static void test_patch(void **state)
{
	expect_patch("{\"a\":1}", "{\"a\":1}", "[]");
	/* RFC 6901: "~" is "~0", "/" is "~1". */
	expect_patch("{\"m\":{}}", "{\"m\":{\"ward.io/x~y\":\"v\"}}",
		     "[{\"op\":\"add\",\"path\":\"/m/ward.io~1x~0y\",\"value\":\"v\"}]");
	/* Inserted items are adds at their final index, in order. */
	expect_patch("{\"l\":[\"b\",\"d\"]}", "{\"l\":[\"a\",\"b\",\"c\",\"d\"]}",
		     "[{\"op\":\"add\",\"path\":\"/l/0\",\"value\":\"a\"},"
		     "{\"op\":\"add\",\"path\":\"/l/2\",\"value\":\"c\"}]");
	expect_patch("{\"l\":[1,2]}", "{\"l\":[2,1,3]}",
		     "[{\"op\":\"replace\",\"path\":\"/l\",\"value\":[2,1,3]}]");
	expect_patch("{\"l\":[{\"a\":1}]}", "{\"l\":[{\"a\":2}]}",
		     "[{\"op\":\"replace\",\"path\":\"/l/0/a\",\"value\":2}]");
	expect_patch("{\"a\":1,\"b\":2}", "{\"b\":\"2\"}",
		     "[{\"op\":\"remove\",\"path\":\"/a\"},"
		     "{\"op\":\"replace\",\"path\":\"/b\",\"value\":\"2\"}]");
}

static const char pod[] = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
			  "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"app\"}]}}";

static void review(struct ward_inject_opts *o, const char *body, int status, const char *result,
		   const char *reason)
{
	struct ward_admission_reply r;

	assert_int_equal(ward_admission_review(o, body, strlen(body), &r), 0);
	assert_int_equal(r.status, status);
	assert_string_equal(r.result, result);
	if (!strstr(r.reason, reason))
		fail_msg("reason '%s' lacks '%s'", r.reason, reason);
	ward_admission_reply_free(&r);
}

static char *make_review(const char *uid, const char *object)
{
	char *text;

	assert_true(asprintf(&text,
			     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
			     "\"request\":{\"uid\":\"%s\",\"kind\":{\"kind\":\"Pod\"},"
			     "\"operation\":\"CREATE\",\"namespace\":\"ns\",\"object\":%s}}",
			     uid, object) > 0);
	return text;
}

static void test_admission(void **state)
{
	struct ward_inject_opts o;
	struct ward_admission_reply r;
	char *body = make_review("u-1", pod);
	json_t *answer;

	assert_int_equal(ward_inject_opts_init(&o), 0);
	assert_int_equal(ward_admission_review(&o, body, strlen(body), &r), 0);
	assert_int_equal(r.status, 200);
	answer = parse(r.body);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(answer, "response"), "uid")), "u-1");
	assert_true(json_is_true(json_object_get(json_object_get(answer, "response"), "allowed")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(answer, "response"), "patchType")),
	    "JSONPatch");
	json_decref(answer);
	ward_admission_reply_free(&r);
	free(body);

	body = make_review("u-2", "{\"metadata\":{\"annotations\":{\"ward.io/inject\":\"false\"}},"
				  "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
	review(&o, body, 200, "skipped", "ward.io/inject is false");
	free(body);
	body =
	    make_review("u-3", "{\"metadata\":{\"annotations\":{\"ward.io/log-level\":\"loud\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
	review(&o, body, 200, "denied", "ward.io/log-level");
	free(body);
	review(&o, "[]", 400, "malformed", "not a JSON object");
	review(&o, "{", 400, "malformed", "not JSON");
	review(&o,
	       "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	       "\"request\":{\"uid\":\"\"}}",
	       400, "malformed", "request.uid");
	ward_inject_opts_free(&o);
}

static void test_opts(void **state)
{
	struct ward_inject_opts o;
	json_t *cfg;

	assert_int_equal(ward_inject_opts_init(&o), 0);
	cfg = parse("{\"proxy_memory_limit\":\"1.5Gi\",\"proxy_cpu_limit\":\"2e3\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), 0);
	assert_string_equal(o.memory_limit, "1.5Gi");
	json_decref(cfg);
	cfg = parse("{\"proxy_memory_limit\":\"lots\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "proxy_memory_limit: 'lots' is not a Kubernetes"));
	json_decref(cfg);
	cfg = parse("{\"proxy_uid\":0}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), WARD_ERR_INVALID);
	json_decref(cfg);
	cfg = parse("{\"workload_socket_name\":\"../x\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), WARD_ERR_INVALID);
	json_decref(cfg);
	cfg = parse("{\"agent_config_map\":\"Bad_Name\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), WARD_ERR_INVALID);
	json_decref(cfg);
	/* The mesh scope: CIDRs by the config's rule, never "*". */
	cfg = parse("{\"mesh_cidrs\":\"10.244.0.0/16,fd00:10:244::/56\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), 0);
	assert_string_equal(o.mesh_cidrs, "10.244.0.0/16,fd00:10:244::/56");
	json_decref(cfg);
	static const char *const bad_scopes[] = {
	    "{\"mesh_cidrs\":\"*\"}", "{\"mesh_cidrs\":\"10.244.0.1/16\"}",
	    "{\"mesh_cidrs\":\"10.244.0.0\"}", "{\"mesh_cidrs\":[\"10.244.0.0/16\"]}"};
	for (size_t i = 0; i < sizeof(bad_scopes) / sizeof(bad_scopes[0]); i++) {
		cfg = parse(bad_scopes[i]);
		assert_int_equal(ward_inject_opts_load_json(&o, cfg), WARD_ERR_INVALID);
		assert_non_null(strstr(ward_err_msg(), "mesh_cidrs: "));
		json_decref(cfg);
	}
	ward_inject_opts_free(&o);
}

static const char *socket_env(const struct ward_inject_opts *o)
{
	static char value[256];
	json_t *c = ward_inject_proxy_container(o);
	json_t *env = json_array_get(json_object_get(c, "env"), 0);

	snprintf(value, sizeof(value), "%s", json_string_value(json_object_get(env, "value")));
	json_decref(c);
	return value;
}

/* The socket's name agrees with where it comes from: the SPIRE chart's
 * through the CSI driver, ward server's (agent.sock) from a node directory;
 * a name given wins. */
static void test_socket_name(void **state)
{
	struct ward_inject_opts o;
	json_t *cfg;

	(void)state;
	assert_int_equal(ward_inject_opts_init(&o), 0);
	assert_string_equal(socket_env(&o), "unix:///spiffe-workload-api/spire-agent.sock");
	cfg = parse("{\"workload_socket_hostpath\":\"/run/ward/sockets\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), 0);
	json_decref(cfg);
	assert_string_equal(socket_env(&o), "unix:///spiffe-workload-api/agent.sock");
	cfg = parse("{\"workload_socket_name\":\"api.sock\"}");
	assert_int_equal(ward_inject_opts_load_json(&o, cfg), 0);
	json_decref(cfg);
	assert_string_equal(socket_env(&o), "unix:///spiffe-workload-api/api.sock");
	ward_inject_opts_free(&o);
}

/* Inject then uninject of a template with nothing to create, with
 * everything to create, and with the legacy sidecar, gives it back. */
static void test_roundtrip(void **state)
{
	static const char *const templates[] = {
	    "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
	    "{\"metadata\":{\"annotations\":{}},\"spec\":{\"containers\":[{\"name\":\"a\"}],"
	    "\"initContainers\":[{\"name\":\"i\"}],\"volumes\":[]}}",
	    NULL};
	struct ward_inject_opts o;

	assert_int_equal(ward_inject_opts_init(&o), 0);
	for (int legacy = 0; legacy < 2; legacy++) {
		o.legacy_sidecar = legacy;
		for (const char *const *t = templates; *t; t++) {
			json_t *orig = parse(*t), *tmpl = json_deep_copy(orig),
			       *notes = json_array();

			assert_int_equal(
			    ward_inject_template(&o, WARD_INJECT, tmpl, "", "t", notes),
			    WARD_INJECT_CHANGED);
			assert_false(json_equal(orig, tmpl));
			assert_int_equal(
			    ward_inject_template(&o, WARD_INJECT, tmpl, "", "t", notes),
			    WARD_INJECT_UNCHANGED);
			assert_int_equal(
			    ward_inject_template(&o, WARD_UNINJECT, tmpl, "", "t", notes),
			    WARD_INJECT_CHANGED);
			assert_true(json_equal(orig, tmpl));
			json_decref(orig);
			json_decref(tmpl);
			json_decref(notes);
		}
	}
	ward_inject_opts_free(&o);
}

/* ward.io/preserve-source and ward.io/proxy-protocol-ports reach the agent
 * as --override; only a true preserve-source starts the proxy as root with
 * NET_ADMIN (to keep it across the switch to its uid) and asks ward iptables
 * for --preserve-source. */
static void test_app_annotations(void **state)
{
	static const char *const flags[] = {"true", "false"};
	struct ward_inject_opts o;

	assert_int_equal(ward_inject_opts_init(&o), 0);
	for (int i = 0; i < 2; i++) {
		char text[512];
		json_t *tmpl, *notes = json_array(), *init, *proxy, *sc;
		const char *cmd;

		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"annotations\":{\"ward.io/preserve-source\":\"%s\","
			 "\"ward.io/proxy-protocol-ports\":\"5432,8080\"}},"
			 "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
			 flags[i]);
		tmpl = parse(text);
		assert_int_equal(ward_inject_template(&o, WARD_INJECT, tmpl, "", "t", notes),
				 WARD_INJECT_CHANGED);
		init = json_array_get(
		    json_object_get(json_object_get(tmpl, "spec"), "initContainers"), 0);
		proxy = json_array_get(
		    json_object_get(json_object_get(tmpl, "spec"), "initContainers"), 1);
		cmd = json_string_value(json_array_get(json_object_get(proxy, "command"), 7));
		assert_string_equal(cmd, "--override");
		cmd = json_string_value(json_array_get(json_object_get(proxy, "command"), 8));
		snprintf(
		    text, sizeof(text),
		    "{\"proxy\":{\"uid\":1337,\"gid\":1337},\"inbound\":{\"preserve_source\":%s,"
		    "\"proxy_protocol_ports\":[5432,8080]}}",
		    flags[i]);
		assert_string_equal(cmd, text);
		sc = json_object_get(proxy, "securityContext");
		assert_int_equal(json_integer_value(json_object_get(sc, "runAsUser")),
				 i ? 1337 : 0);
		assert_int_equal(
		    json_array_size(json_object_get(json_object_get(sc, "capabilities"), "add")),
		    i ? 0 : 3);
		cmd = json_string_value(json_array_get(json_object_get(init, "command"), 6));
		if (i)
			assert_null(cmd);
		else
			assert_string_equal(cmd, "--preserve-source");
		json_decref(tmpl);
		json_decref(notes);
	}
	ward_inject_opts_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_patch),
	    cmocka_unit_test(test_admission),
	    cmocka_unit_test(test_opts),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_app_annotations),
	    cmocka_unit_test(test_socket_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
