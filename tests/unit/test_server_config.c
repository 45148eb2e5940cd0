/* `ward server`'s configuration: defaults, relative paths, and every bad
 * value refused with a reason naming its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/server_config.h"

static struct ward_server_config *load(const char *json)
{
	struct ward_server_config *cfg;

	if (ward_server_config_load_string(json, "/etc/ward", &cfg) < 0)
		fail_msg("%s", ward_err_msg());
	return cfg;
}

static void refused(const char *json, const char *why)
{
	struct ward_server_config *cfg = (void *)1;

	ward_err_clear();
	assert_int_equal(ward_server_config_load_string(json, "/etc/ward", &cfg), WARD_ERR_INVALID);
	assert_null(cfg);
	if (!strstr(ward_err_msg(), why))
		fail_msg("reason \"%s\" lacks \"%s\"", ward_err_msg(), why);
}

#define MIN_CONFIG "\"trust_domain\": \"example.org\", \"entries\": \"entries.json\""

static void test_defaults(void **state)
{
	struct ward_server_config *c = load("{" MIN_CONFIG "}");

	assert_string_equal(c->trust_domain, "example.org");
	assert_string_equal(c->entries, "/etc/ward/entries.json");
	assert_string_equal(c->socket, "/run/ward/server.sock");
	assert_string_equal(c->admin_socket, "/run/ward/server-admin.sock");
	assert_string_equal(c->data_dir, "/var/lib/ward/server");
	assert_int_equal(c->svid_ttl_s, 3600);
	assert_int_equal(c->ca_ttl_s, 86400);
	assert_null(c->upstream.cert);
	assert_int_equal(c->n_federation, 0);
	assert_int_equal(c->workload_size_limit, 256LL * 1024 * 1024);
	assert_int_equal(c->limits.max_connections, 1024);
	assert_int_equal(c->limits.max_connections_per_uid, 512);
	assert_int_equal(c->limits.max_pending, 128);
	assert_int_equal(c->limits.max_pending_per_uid, 32);
	assert_int_equal(c->limits.idle_timeout_ms, 5000);
	assert_int_equal(c->limits.write_stall_ms, 10000);
	assert_int_equal(c->rotation_grace_ms, 500);
	assert_int_equal(c->rotation_max_wait_ms, 5000);
	assert_string_equal(c->log_level, "info");
	ward_server_config_free(c);
}

static void test_everything(void **state)
{
	struct ward_server_config *c = load(
	    "{" MIN_CONFIG ", \"socket\": \"/tmp/w.sock\", \"admin_socket\": \"a.sock\","
	    "\"data_dir\": \"data\", \"svid_ttl_s\": 5, \"ca_ttl_s\": 60,"
	    "\"upstream\": {\"cert\": \"up.pem\", \"key\": \"/k/up.key\", \"bundle\": \"b.pem\"},"
	    "\"federation\": {\"partner.org\": \"p.pem\", \"other.net\": \"/o.pem\"},"
	    "\"attestation\": {\"workload_size_limit\": 0}, \"log\": {\"level\": \"debug\"},"
	    "\"limits\": {\"max_connections\": 10, \"max_connections_per_uid\": 9,"
	    "\"max_pending\": 8, \"max_pending_per_uid\": 7, \"idle_timeout_ms\": 600,"
	    "\"write_stall_ms\": 700},"
	    "\"rotation\": {\"grace_ms\": 0, \"max_wait_ms\": 100}}");

	assert_string_equal(c->socket, "/tmp/w.sock");
	assert_string_equal(c->admin_socket, "/etc/ward/a.sock");
	assert_string_equal(c->data_dir, "/etc/ward/data");
	assert_int_equal(c->svid_ttl_s, 5);
	assert_int_equal(c->ca_ttl_s, 60);
	assert_string_equal(c->upstream.cert, "/etc/ward/up.pem");
	assert_string_equal(c->upstream.key, "/k/up.key");
	assert_string_equal(c->upstream.bundle, "/etc/ward/b.pem");
	assert_int_equal(c->n_federation, 2);
	assert_string_equal(c->federation[0].trust_domain, "partner.org");
	assert_string_equal(c->federation[0].bundle_file, "/etc/ward/p.pem");
	assert_string_equal(c->federation[1].bundle_file, "/o.pem");
	assert_int_equal(c->workload_size_limit, 0);
	assert_int_equal(c->limits.max_connections, 10);
	assert_int_equal(c->limits.max_connections_per_uid, 9);
	assert_int_equal(c->limits.max_pending, 8);
	assert_int_equal(c->limits.max_pending_per_uid, 7);
	assert_int_equal(c->limits.idle_timeout_ms, 600);
	assert_int_equal(c->limits.write_stall_ms, 700);
	assert_int_equal(c->rotation_grace_ms, 0);
	assert_int_equal(c->rotation_max_wait_ms, 100);
	assert_string_equal(c->log_level, "debug");
	ward_server_config_free(c);
}

static void test_bad(void **state)
{
	refused("[]", "config: must be an object");
	refused("{", "config: line 1");
	refused("{\"entries\": \"e.json\"}", "trust_domain: required");
	refused("{\"trust_domain\": \"example.org\"}", "entries: required");
	refused("{" MIN_CONFIG ", \"sockets\": \"x\"}", "sockets: unknown key");
	refused("{\"trust_domain\": \"spiffe://example.org\", \"entries\": \"e\"}",
		"trust_domain: \"spiffe://example.org\" is a SPIFFE ID");
	refused("{\"trust_domain\": \"Example.org\", \"entries\": \"e\"}", "trust_domain: ");
	refused("{" MIN_CONFIG ", \"svid_ttl_s\": 0}",
		"svid_ttl_s: must be an integer from 1 to 31536000");
	refused("{" MIN_CONFIG ", \"ca_ttl_s\": 59}", "ca_ttl_s: must be an integer from 60");
	refused("{" MIN_CONFIG ", \"svid_ttl_s\": 600, \"ca_ttl_s\": 600}",
		"svid_ttl_s: 600 must be shorter than ca_ttl_s (600)");
	refused("{" MIN_CONFIG ", \"socket\": 7}", "socket: must be a non-empty string (got 7)");
	refused("{" MIN_CONFIG ", \"socket\": \"/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"socket: socket path longer than 107 bytes");
	refused("{" MIN_CONFIG ", \"socket\": \"/s\", \"admin_socket\": \"/s\"}",
		"admin_socket: the same path as socket");
	refused("{" MIN_CONFIG ", \"upstream\": {\"cert\": \"c\", \"key\": \"k\"}}",
		"upstream.bundle: required");
	refused("{" MIN_CONFIG
		", \"upstream\": {\"cert\": \"c\", \"key\": \"k\", \"bundle\": \"b\", "
		"\"chain\": \"x\"}}",
		"upstream.chain: unknown key");
	refused("{" MIN_CONFIG ", \"federation\": {\"Partner\": \"p.pem\"}}",
		"federation.\"Partner\": ");
	refused("{" MIN_CONFIG ", \"federation\": {\"example.org\": \"p.pem\"}}",
		"federation.\"example.org\": the server's own trust domain");
	refused("{" MIN_CONFIG ", \"federation\": {\"partner.org\": 1}}",
		"federation.\"partner.org\": must be a non-empty string");
	refused("{" MIN_CONFIG ", \"attestation\": {\"size\": 1}}",
		"attestation.size: unknown key");
	refused("{" MIN_CONFIG ", \"attestation\": {\"workload_size_limit\": -1}}",
		"attestation.workload_size_limit: must be an integer from 0");
	refused("{" MIN_CONFIG ", \"log\": {\"level\": \"loud\"}}",
		"log.level: must be debug, info, warn or error (got \"loud\")");
	refused("{" MIN_CONFIG ", \"log\": {\"lvl\": \"info\"}}", "log.lvl: unknown key");
	refused("{" MIN_CONFIG ", \"limits\": {\"max_pending\": 0}}",
		"limits.max_pending: must be an integer from 1 to 100000");
	refused("{" MIN_CONFIG ", \"limits\": {\"idle_timeout_ms\": 10}}",
		"limits.idle_timeout_ms: must be an integer from 100");
	refused("{" MIN_CONFIG ", \"limits\": {\"max_conns\": 1}}",
		"limits.max_conns: unknown key");
	refused("{" MIN_CONFIG ", \"rotation\": {\"grace_ms\": 60001}}",
		"rotation.grace_ms: must be an");
	refused("{" MIN_CONFIG ", \"rotation\": {\"max_wait_ms\": 99}}",
		"rotation.max_wait_ms: must be");
	refused("{" MIN_CONFIG ", \"rotation\": {\"max_wait_ms\": \"5s\"}}",
		"rotation.max_wait_ms: must");
	refused("{" MIN_CONFIG ", \"rotation\": {\"wait\": 1}}", "rotation.wait: unknown key");
	refused("{" MIN_CONFIG ", \"rotation\": []}", "rotation: must be an object");
	refused("{" MIN_CONFIG ", \"entries\": \"again\"}", "duplicate object key");
}

static void test_file(void **state)
{
	struct ward_server_config *cfg;

	assert_int_equal(ward_server_config_load_file("/nonexistent/server.json", &cfg),
			 WARD_ERR_IO);
	assert_null(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_everything),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests_name("server_config", tests, NULL, NULL);
}
