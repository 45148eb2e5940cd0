/* Configuration: defaults, the shipped example files, one negative case per
 * error class (each asserting the reason names the key), and the address /
 * CIDR helpers the data path uses. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#define WL "\"identity\":{\"workload_api\":\"unix:///run/spire/agent.sock\"}"
#define BASE "{\"trust_domain\":\"example.org\"," WL

static struct ward_config *sentinel = (struct ward_config *)&sentinel;

static struct ward_config *load_ok(const char *json)
{
	struct ward_config *cfg = NULL;
	int rc = ward_config_load_string(json, "/etc/ward", &cfg);

	if (rc != 0)
		fail_msg("%s: rc %d: %s", json, rc, ward_err_msg());
	assert_non_null(cfg);
	return cfg;
}

/* json must be refused with a reason containing why, leaving *out alone. */
static void refused(const char *json, const char *why)
{
	struct ward_config *cfg = sentinel;
	int rc;

	ward_err_clear();
	rc = ward_config_load_string(json, "/etc/ward", &cfg);
	if (rc != WARD_ERR_INVALID)
		fail_msg("%s: rc %d, wanted invalid", json, rc);
	assert_ptr_equal(cfg, sentinel);
	if (!strstr(ward_err_msg(), why))
		fail_msg("%s:\n  reason \"%s\"\n  lacks \"%s\"", json, ward_err_msg(), why);
}

static void test_defaults(void **state)
{
	struct ward_config c;
	char buf[64];

	assert_int_equal(ward_config_init_defaults(&c), 0);
	assert_null(c.trust_domain);
	assert_int_equal(c.proxy.uid, 1337);
	assert_int_equal(c.proxy.gid, 1337);
	assert_int_equal(c.proxy.workers, 0);
	assert_string_equal(
	    ward_addr_format((struct sockaddr *)&c.outbound.listen.ss, buf, sizeof(buf)),
	    "0.0.0.0:15001");
	assert_string_equal(
	    ward_addr_format((struct sockaddr *)&c.inbound.listen.ss, buf, sizeof(buf)),
	    "0.0.0.0:15006");
	assert_string_equal(
	    ward_addr_format((struct sockaddr *)&c.admin.listen.ss, buf, sizeof(buf)),
	    "0.0.0.0:15020");
	assert_int_equal(c.outbound.n_mesh_cidrs, 5);
	assert_int_equal(c.outbound.n_passthrough_ports, 0);
	assert_int_equal(c.inbound.mode, WARD_INBOUND_STRICT);
	assert_int_equal(c.inbound.n_proxy_protocol_ports, 0);
	assert_false(c.inbound.preserve_source);
	assert_string_equal(c.tls.profile, "modern");
	assert_int_equal(c.tls.n_cipher_suites + c.tls.n_groups + c.tls.n_signature_algorithms, 0);
	assert_int_equal(c.tls.handshake_timeout_ms, 5000);
	assert_true(c.tcp.nodelay);
	assert_int_equal(c.tcp.keepalive_idle_s, 60);
	assert_int_equal(c.tcp.keepalive_interval_s, 10);
	assert_int_equal(c.tcp.keepalive_count, 3);
	assert_string_equal(c.tcp.congestion, "");
	assert_false(c.tcp.fastopen);
	assert_int_equal(c.limits.max_connections, 10000);
	assert_int_equal(c.limits.max_handshakes, 4096);
	assert_int_equal(c.limits.max_handshakes_per_source, 256);
	assert_int_equal(c.admin.header_timeout_ms, 1000);
	assert_int_equal(c.admin.max_clients, 64);
	assert_int_equal(c.admin.max_clients_per_address, 16);
	assert_int_equal(c.admin.loopback_clients, 8);
	assert_int_equal(c.limits.buffer_bytes, 65536);
	assert_int_equal(c.limits.connect_timeout_ms, 5000);
	assert_int_equal(c.limits.idle_timeout_s, 3600);
	assert_int_equal(c.limits.drain_timeout_s, 30);
	assert_int_equal(c.outbound.tunnel, WARD_TUNNEL_AUTO);
	assert_int_equal(c.outbound.n_tunnel_exclude_ports, 0);
	assert_true(c.inbound.tunnel);
	assert_string_equal(
	    ward_addr_format((struct sockaddr *)&c.inbound.tunnel_listen.ss, buf, sizeof(buf)),
	    "0.0.0.0:15008");
	assert_true(c.inbound.include_ports.all);
	assert_int_equal(c.inbound.exclude_ports.n, 0);
	assert_int_equal(c.tunnel.max_streams_per_connection, 100);
	assert_int_equal(c.tunnel.stream_window_bytes, 262144);
	assert_int_equal(c.tunnel.idle_timeout_s, 300);
	assert_int_equal(c.tunnel.max_connection_age_s, 3600);
	assert_int_equal(c.tunnel.connect_timeout_ms, 1000);
	assert_int_equal(c.tunnel.fallback_s, 60);
	assert_string_equal(c.log.level, "info");
	ward_config_uninit(&c);
	ward_config_uninit(&c); /* idempotent */
}

/* What load adds on top of init_defaults: derived defaults. */
static void test_minimal_derived(void **state)
{
	struct ward_config *c =
	    load_ok("{\"trust_domain\":\"example.org\",\"proxy\":{\"uid\":999}," WL "}");

	assert_string_equal(c->trust_domain, "example.org");
	assert_string_equal(c->identity.workload_api, "unix:///run/spire/agent.sock");
	assert_null(c->identity.cert_file);
	assert_int_equal(c->proxy.gid, 999);
	assert_int_equal(c->outbound.n_allowed_server_ids, 1);
	assert_string_equal(c->outbound.allowed_server_ids[0], "spiffe://example.org/**");
	assert_int_equal(c->inbound.n_allowed_client_ids, 1);
	assert_int_equal(c->inbound.allowed_client_ids[0].port, 0);
	assert_int_equal(c->inbound.allowed_client_ids[0].n_ids, 1);
	assert_string_equal(c->inbound.allowed_client_ids[0].ids[0], "spiffe://example.org/**");
	ward_config_free(c);
	ward_config_free(NULL);
}

static void test_example_files(void **state)
{
	static const char *files[] = {"config/example.json", "config/minimal.json",
				      "config/permissive.json"};
	struct ward_config *c;
	size_t i;

	unsetenv("SPIFFE_ENDPOINT_SOCKET");
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		c = NULL;
		if (ward_config_load_file(files[i], &c) != 0)
			fail_msg("%s: %s", files[i], ward_err_msg());
		ward_config_free(c);
	}
}

static void test_example_full(void **state)
{
	struct ward_config *c = NULL, d;

	assert_int_equal(ward_config_load_file("config/example.json", &c), 0);
	assert_int_equal(ward_config_init_defaults(&d), 0);
	/* example.json spells out every default. */
	assert_int_equal(c->proxy.uid, d.proxy.uid);
	assert_int_equal(c->proxy.gid, d.proxy.gid);
	assert_memory_equal(&c->outbound.listen, &d.outbound.listen, sizeof(d.outbound.listen));
	assert_memory_equal(&c->inbound.listen, &d.inbound.listen, sizeof(d.inbound.listen));
	assert_memory_equal(&c->admin.listen, &d.admin.listen, sizeof(d.admin.listen));
	assert_int_equal(c->outbound.n_mesh_cidrs, d.outbound.n_mesh_cidrs);
	assert_memory_equal(c->outbound.mesh_cidrs, d.outbound.mesh_cidrs,
			    d.outbound.n_mesh_cidrs * sizeof(*d.outbound.mesh_cidrs));
	assert_int_equal(c->inbound.n_proxy_protocol_ports, d.inbound.n_proxy_protocol_ports);
	assert_int_equal(c->inbound.preserve_source, d.inbound.preserve_source);
	assert_int_equal(c->tcp.nodelay, d.tcp.nodelay);
	assert_int_equal(c->tcp.keepalive_idle_s, d.tcp.keepalive_idle_s);
	assert_int_equal(c->tcp.keepalive_interval_s, d.tcp.keepalive_interval_s);
	assert_int_equal(c->tcp.keepalive_count, d.tcp.keepalive_count);
	assert_string_equal(c->tcp.congestion, d.tcp.congestion);
	assert_int_equal(c->tcp.fastopen, d.tcp.fastopen);
	assert_memory_equal(&c->limits, &d.limits, sizeof(d.limits));
	assert_int_equal(c->tls.handshake_timeout_ms, d.tls.handshake_timeout_ms);
	assert_string_equal(c->tls.profile, d.tls.profile);
	assert_string_equal(c->log.level, d.log.level);
	assert_string_equal(c->outbound.allowed_server_ids[0], "spiffe://example.org/**");
	assert_int_equal(c->outbound.tunnel, d.outbound.tunnel);
	assert_int_equal(c->inbound.tunnel, d.inbound.tunnel);
	assert_memory_equal(&c->inbound.tunnel_listen, &d.inbound.tunnel_listen,
			    sizeof(d.inbound.tunnel_listen));
	assert_memory_equal(&c->inbound.include_ports, &d.inbound.include_ports,
			    sizeof(d.inbound.include_ports));
	assert_memory_equal(&c->inbound.exclude_ports, &d.inbound.exclude_ports,
			    sizeof(d.inbound.exclude_ports));
	assert_memory_equal(&c->tunnel, &d.tunnel, sizeof(d.tunnel));
	ward_config_uninit(&d);
	ward_config_free(c);
}

static void test_permissive_file(void **state)
{
	struct ward_config *c = NULL;
	char cwd[4096], want[4200];

	assert_int_equal(ward_config_load_file("config/permissive.json", &c), 0);
	assert_int_equal(c->inbound.mode, WARD_INBOUND_PERMISSIVE);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/config/certs/svid.pem", cwd);
	assert_string_equal(c->identity.cert_file, want);
	assert_null(c->identity.workload_api);
	assert_true(ward_config_is_passthrough_port(c, 5432));
	assert_false(ward_config_is_passthrough_port(c, 80));
	assert_int_equal(c->inbound.n_allowed_client_ids, 2);
	assert_int_equal(c->inbound.allowed_client_ids[0].port, 8080);
	assert_int_equal(c->inbound.allowed_client_ids[0].n_ids, 2);
	assert_string_equal(c->log.level, "debug");
	ward_config_free(c);
}

static void test_app_keys(void **state)
{
	struct ward_config *c = load_ok("{\"trust_domain\":\"td\",\"identity\":{\"workload_api\":"
					"\"unix:///s\"},\"inbound\":{\"proxy_protocol_ports\":"
					"[5432,8080],\"preserve_source\":true}}");

	assert_true(ward_config_is_proxy_protocol_port(c, 5432));
	assert_true(ward_config_is_proxy_protocol_port(c, 8080));
	assert_false(ward_config_is_proxy_protocol_port(c, 80));
	assert_false(ward_config_is_passthrough_port(c, 5432));
	assert_true(c->inbound.preserve_source);
	ward_config_free(c);
}

static void test_identity_paths(void **state)
{
	struct ward_config *c =
	    load_ok("{\"trust_domain\":\"td\",\"identity\":{\"files\":{\"cert\":\"a/c.pem\","
		    "\"key\":\"/abs/k.pem\",\"bundle\":\"b.pem\"}}}");

	assert_string_equal(c->identity.cert_file, "/etc/ward/a/c.pem");
	assert_string_equal(c->identity.key_file, "/abs/k.pem");
	assert_string_equal(c->identity.bundle_file, "/etc/ward/b.pem");
	ward_config_free(c);
}

static void test_identity_env(void **state)
{
	struct ward_config *c;

	setenv("SPIFFE_ENDPOINT_SOCKET", "unix:///tmp/agent.sock", 1);
	c = load_ok("{\"trust_domain\":\"td\"}");
	assert_string_equal(c->identity.workload_api, "unix:///tmp/agent.sock");
	ward_config_free(c);
	/* The file wins over the environment. */
	c = load_ok(BASE "}");
	assert_string_equal(c->identity.workload_api, "unix:///run/spire/agent.sock");
	ward_config_free(c);
	setenv("SPIFFE_ENDPOINT_SOCKET", "tcp://127.0.0.1:8081", 1);
	refused("{\"trust_domain\":\"td\"}", "SPIFFE_ENDPOINT_SOCKET: \"tcp://127.0.0.1:8081\"");
	unsetenv("SPIFFE_ENDPOINT_SOCKET");
	refused(
	    "{\"trust_domain\":\"td\"}",
	    "identity: set identity.files or identity.workload_api (or SPIFFE_ENDPOINT_SOCKET)");
	refused("{\"trust_domain\":\"td\",\"identity\":{}}", "identity: set identity.files");
}

/* One case per error class; the reason must name the key path. */
static void test_refused(void **state)
{
	static const struct {
		const char *json, *why;
	} cases[] = {
	    /* syntax, shape, unknown keys, duplicates */
	    {"{\"trust_domain\": }", "config: line 1 column"},
	    {"[]", "config: must be an object (got an array)"},
	    {"{\"trust_domain\":\"a\",\"trust_domain\":\"b\"}", "duplicate"},
	    {BASE ",\"foo\":1}", "foo: unknown key"},
	    {BASE ",\"tcp\":{\"keeplive\":{}}}", "tcp.keeplive: unknown key"},
	    {BASE ",\"tcp\":{\"keepalive\":{\"idle\":5}}}", "tcp.keepalive.idle: unknown key"},
	    {"{\"trust_domain\":\"td\",\"identity\":{\"files\":{\"crt\":\"x\"}}}",
	     "identity.files.crt: unknown key"},
	    {BASE ",\"tcp\":[]}", "tcp: must be an object (got an array)"},
	    /* the tunnel */
	    {BASE ",\"outbound\":{\"tunnel\":\"sometimes\"}}",
	     "outbound.tunnel: must be one of auto, always, never"},
	    {BASE ",\"outbound\":{\"tunnel_exclude_ports\":[0]}}",
	     "outbound.tunnel_exclude_ports[0]: must be an integer between 1 and 65535"},
	    {BASE ",\"inbound\":{\"tunnel\":\"yes\"}}", "inbound.tunnel: must be true or false"},
	    {BASE ",\"inbound\":{\"tunnel_listen\":\"0.0.0.0:15006\"}}",
	     "inbound.tunnel_listen: port 15006 is also another listener's"},
	    {BASE ",\"inbound\":{\"exclude_ports\":\"*\"}}", "inbound.exclude_ports: "},
	    {BASE ",\"inbound\":{\"include_ports\":\"80,x\"}}", "inbound.include_ports: "},
	    {BASE ",\"inbound\":{\"include_ports\":[80]}}",
	     "inbound.include_ports: must be a string"},
	    {BASE ",\"tunnel\":{\"max_streams_per_connection\":0}}",
	     "tunnel.max_streams_per_connection: must be an integer between 1 and 1000"},
	    {BASE ",\"tunnel\":{\"max_connection_age_s\":1}}",
	     "tunnel.max_connection_age_s: must be an integer between 10 and 604800"},
	    {BASE ",\"tunnel\":{\"streams\":1}}", "tunnel.streams: unknown key"},
	    {BASE ",\"tunnel\":{\"stream_window_bytes\":1024}}",
	     "tunnel.stream_window_bytes: must be an integer between 65535 and 16777216"},
	    {BASE ",\"tunnel\":{\"connect_timeout_ms\":50}}",
	     "tunnel.connect_timeout_ms: must be an integer between 100 and 300000"},
	    /* trust domain */
	    {"{" WL "}", "trust_domain: required"},
	    {"{\"trust_domain\":\"Example.org\"," WL "}",
	     "trust_domain: trust domain \"Example.org\": trust domain has an uppercase letter"},
	    {"{\"trust_domain\":\"spiffe://example.org\"," WL "}",
	     "trust_domain: \"spiffe://example.org\" is a SPIFFE ID"},
	    {"{\"trust_domain\":\"\"," WL "}",
	     "trust_domain: trust domain \"\": trust domain is empty"},
	    {"{\"trust_domain\":7," WL "}", "trust_domain: must be a string (got 7)"},
	    /* identity */
	    {"{\"trust_domain\":\"td\",\"identity\":{\"workload_api\":\"unix:///a\","
	     "\"files\":{\"cert\":\"c\",\"key\":\"k\",\"bundle\":\"b\"}}}",
	     "identity: set either workload_api or files, not both"},
	    {"{\"trust_domain\":\"td\",\"identity\":{\"files\":{\"cert\":\"c\",\"bundle\":\"b\"}}}",
	     "identity.files.key: required"},
	    {"{\"trust_domain\":\"td\",\"identity\":{\"files\":{\"cert\":\"\",\"key\":\"k\","
	     "\"bundle\":\"b\"}}}",
	     "identity.files.cert: must not be empty"},
	    {"{\"trust_domain\":\"td\",\"identity\":{\"workload_api\":\"unix://rel/a.sock\"}}",
	     "identity.workload_api: \"unix://rel/a.sock\" must be unix:///absolute/path"},
	    {"{\"trust_domain\":\"td\",\"identity\":{\"workload_api\":\"/run/a.sock\"}}",
	     "identity.workload_api: \"/run/a.sock\""},
	    /* integers, booleans, words */
	    {BASE ",\"limits\":{\"buffer_bytes\":\"abc\"}}",
	     "limits.buffer_bytes: must be an integer between 4096 and 16777216 (got \"abc\")"},
	    {BASE ",\"limits\":{\"buffer_bytes\":100}}", "limits.buffer_bytes: must be an integer"},
	    {BASE ",\"limits\":{\"connect_timeout_ms\":5000.5}}",
	     "limits.connect_timeout_ms: must be an integer between 100 and 300000 (got 5000.5)"},
	    {BASE ",\"limits\":{\"max_connections\":0}}", "limits.max_connections: must be"},
	    {BASE ",\"limits\":{\"max_handshakes\":0}}", "limits.max_handshakes: must be"},
	    {BASE ",\"limits\":{\"max_handshakes_per_source\":100001}}",
	     "limits.max_handshakes_per_source: must be an integer between 1 and 100000"},
	    {BASE ",\"admin\":{\"header_timeout_ms\":50}}", "admin.header_timeout_ms: must be"},
	    {BASE ",\"admin\":{\"max_clients\":4,\"loopback_clients\":4}}",
	     "admin.loopback_clients: must be less than admin.max_clients (4)"},
	    {BASE ",\"limits\":{\"drain_timeout_s\":-1}}", "limits.drain_timeout_s: must be"},
	    {BASE ",\"proxy\":{\"uid\":-1}}", "proxy.uid: must be an integer between 0"},
	    {BASE ",\"proxy\":{\"gid\":4294967295}}", "proxy.gid: must be an integer"},
	    {BASE ",\"proxy\":{\"workers\":1000}}", "proxy.workers: must be an integer"},
	    {BASE ",\"tls\":{\"handshake_timeout_ms\":0}}", "tls.handshake_timeout_ms: must be"},
	    {BASE ",\"tcp\":{\"keepalive\":{\"count\":128}}}", "tcp.keepalive.count: must be"},
	    {BASE ",\"tcp\":{\"keepalive\":{\"idle_s\":0}}}", "tcp.keepalive.idle_s: must be"},
	    {BASE ",\"tcp\":{\"nodelay\":1}}", "tcp.nodelay: must be true or false (got 1)"},
	    {BASE ",\"tcp\":{\"fastopen\":\"yes\"}}", "tcp.fastopen: must be true or false"},
	    {BASE ",\"tcp\":{\"congestion\":\"BBR\"}}", "tcp.congestion: \"BBR\" is not a"},
	    {BASE ",\"tcp\":{\"congestion\":\"a_very_long_name_x\"}}", "tcp.congestion:"},
	    {BASE ",\"inbound\":{\"mode\":\"lenient\"}}",
	     "inbound.mode: must be one of strict, permissive (got \"lenient\")"},
	    {BASE ",\"tls\":{\"profile\":\"legacy\"}}",
	     "tls.profile: must be one of modern, fips (got \"legacy\")"},
	    {BASE ",\"log\":{\"level\":\"trace\"}}",
	     "log.level: must be one of debug, info, warn, error (got \"trace\")"},
	    {BASE ",\"log\":{\"level\":null}}", "log.level: must be one of"},
	    /* addresses */
	    {BASE ",\"admin\":{\"listen\":\"localhost:15020\"}}",
	     "admin.listen: \"localhost:15020\" is not an address"},
	    {BASE ",\"admin\":{\"listen\":\"0.0.0.0:0\"}}", "admin.listen: port must be between"},
	    {BASE ",\"admin\":{\"listen\":\"0.0.0.0:65536\"}}", "admin.listen: \"0.0.0.0:65536\""},
	    {BASE ",\"inbound\":{\"listen\":\"::1:80\"}}", "inbound.listen: \"::1:80\""},
	    {BASE ",\"outbound\":{\"listen\":15001}}", "outbound.listen: must be a string"},
	    {BASE ",\"inbound\":{\"listen\":\"[::]:15001\"}}",
	     "inbound.listen: port 15001 is also outbound.listen's"},
	    {BASE ",\"admin\":{\"listen\":\"127.0.0.1:15006\"}}", "admin.listen: port 15006"},
	    /* lists */
	    {BASE ",\"outbound\":{\"mesh_cidrs\":[\"10.0.0.0/8\",\"::/0\",\"10.0.0.0/33\"]}}",
	     "outbound.mesh_cidrs[2]: \"10.0.0.0/33\" is not a CIDR"},
	    {BASE ",\"outbound\":{\"mesh_cidrs\":[\"10.0.0.1/8\"]}}",
	     "outbound.mesh_cidrs[0]: \"10.0.0.1/8\" has host bits set"},
	    {BASE ",\"outbound\":{\"mesh_cidrs\":[\"10.0.0.0\"]}}",
	     "outbound.mesh_cidrs[0]: \"10.0.0.0\" is not a CIDR"},
	    {BASE ",\"outbound\":{\"mesh_cidrs\":\"10.0.0.0/8\"}}",
	     "outbound.mesh_cidrs: must be an array of CIDRs"},
	    {BASE ",\"outbound\":{\"mesh_cidrs\":[8]}}",
	     "outbound.mesh_cidrs[0]: must be a string (got 8)"},
	    {BASE ",\"outbound\":{\"passthrough_ports\":[22,0]}}",
	     "outbound.passthrough_ports[1]: must be an integer between 1 and 65535 (got 0)"},
	    {BASE ",\"outbound\":{\"passthrough_ports\":[\"80\"]}}",
	     "outbound.passthrough_ports[0]: must be an integer"},
	    {BASE ",\"inbound\":{\"proxy_protocol_ports\":[5432,65536]}}",
	     "inbound.proxy_protocol_ports[1]: must be an integer between 1 and 65535 (got 65536)"},
	    {BASE ",\"inbound\":{\"proxy_protocol_ports\":\"5432\"}}",
	     "inbound.proxy_protocol_ports: must be an array of ports"},
	    {BASE ",\"inbound\":{\"preserve_source\":\"yes\"}}",
	     "inbound.preserve_source: must be true or false"},
	    {BASE ",\"outbound\":{\"allowed_server_ids\":[\"spiffe://td/a\",\"td/b\"]}}",
	     "outbound.allowed_server_ids[1]: id pattern \"td/b\": scheme is not \"spiffe://\""},
	    {BASE ",\"outbound\":{\"allowed_server_ids\":[\"spiffe://\"]}}",
	     "outbound.allowed_server_ids[0]:"},
	    {BASE ",\"inbound\":{\"allowed_client_ids\":{\"http\":[\"spiffe://td/a\"]}}}",
	     "inbound.allowed_client_ids.\"http\": key must be a port number or \"*\""},
	    {BASE ",\"inbound\":{\"allowed_client_ids\":{\"0\":[]}}}",
	     "inbound.allowed_client_ids.\"0\": key must be a port number"},
	    {BASE ",\"inbound\":{\"allowed_client_ids\":{\"65536\":[]}}}",
	     "inbound.allowed_client_ids.\"65536\": key must be a port number"},
	    {BASE ",\"inbound\":{\"allowed_client_ids\":{\"80\":[\"spiffe://td/a\"],"
		  "\"8080\":[\"web\"]}}}",
	     "inbound.allowed_client_ids.\"8080\"[0]: id pattern \"web\": scheme is not "
	     "\"spiffe://\""},
	    {BASE ",\"inbound\":{\"allowed_client_ids\":{\"80\":\"spiffe://td/a\"}}}",
	     "inbound.allowed_client_ids.\"80\": must be an array of strings"},
	    {BASE ",\"inbound\":{\"allowed_client_ids\":[]}}",
	     "inbound.allowed_client_ids: must be an object"},
	    /* TLS names are checked at load */
	    {BASE ",\"tls\":{\"cipher_suites\":[\"TLS_AES_128_GCM_SHA256\",\"AES128\"]}}",
	     "tls.cipher_suites[1]: unknown cipher suite \"AES128\""},
	    {BASE ",\"tls\":{\"cipher_suites\":[\"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\"]}}",
	     "tls.cipher_suites[0]: \"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\" is a TLS 1.2 "
	     "cipher suite; ward is TLS 1.3 only"},
	    {BASE ",\"tls\":{\"groups\":[\"x9\"]}}", "tls.groups[0]: unknown group \"x9\""},
	    {BASE ",\"tls\":{\"signature_algorithms\":[\"rsa_pkcs1_sha256\"]}}",
	     "tls.signature_algorithms[0]: \"rsa_pkcs1_sha256\" is a TLS 1.2"},
	    {BASE ",\"tls\":{\"profile\":\"fips\",\"groups\":[\"x25519\"]}}",
	     "tls.groups[0]: \"x25519\" is not allowed by tls.profile \"fips\""},
	};
	size_t i;

	unsetenv("SPIFFE_ENDPOINT_SOCKET");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i].json, cases[i].why);
}

static void test_too_many(void **state)
{
	char *json = malloc(8192);
	size_t n, i;

	assert_non_null(json);
	n = (size_t)snprintf(json, 8192, BASE ",\"outbound\":{\"passthrough_ports\":[");
	for (i = 0; i <= WARD_CONFIG_MAX_LIST; i++)
		n += (size_t)snprintf(json + n, 8192 - n, "%s%zu", i ? "," : "", i + 1);
	snprintf(json + n, 8192 - n, "]}}");
	refused(json, "outbound.passthrough_ports: more than 256 entries");
	free(json);
}

static void write_all(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_load_file_errors(void **state)
{
	char path[] = "/tmp/ward-test-config-XXXXXX";
	struct ward_config *c = sentinel;
	int fd;

	assert_int_equal(ward_config_load_file("/nonexistent/ward.json", &c), WARD_ERR_IO);
	assert_ptr_equal(c, sentinel);
	assert_non_null(strstr(ward_err_msg(), "/nonexistent/ward.json"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	write_all(fd, "{\n  \"trust_domain\": \"td\",\n  oops\n}\n");
	close(fd);
	assert_int_equal(ward_config_load_file(path, &c), WARD_ERR_INVALID);
	assert_ptr_equal(c, sentinel);
	assert_non_null(strstr(ward_err_msg(), path));
	if (!strstr(ward_err_msg(), "line 3 column"))
		fail_msg("reason \"%s\" lacks the line", ward_err_msg());

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	write_all(fd, "{\"trust_domain\":\"td\",\"tcp\":{\"x\":1}}");
	close(fd);
	assert_int_equal(ward_config_load_file(path, &c), WARD_ERR_INVALID);
	if (!strstr(ward_err_msg(), ": tcp.x: unknown key"))
		fail_msg("reason \"%s\"", ward_err_msg());
	unlink(path);
}

/* ---- addresses and CIDRs ------------------------------------------------- */

static void test_addr_round_trip(void **state)
{
	static const char *ok[] = {"1.2.3.4:80",
				   "0.0.0.0:15001",
				   "[::1]:80",
				   "[::]:15006",
				   "[fe80::1]:1",
				   "[::ffff:10.1.2.3]:443",
				   "255.255.255.255:65535",
				   "10.0.0.1:0"};
	static const char *bad[] = {
	    "1.2.3.4",	    "1.2.3.4:",	   ":80",	  "::1:80",	    "[::1]80",
	    "[::1]:",	    "1.2.3.4:+80", "1.2.3.4:80x", "1.2.3.4:65536",  "[1.2.3.4]:80",
	    "localhost:80", "1.2.3:80",	   "[::1%lo]:80", "1.2.3.4:000080", ""};
	struct ward_addr a;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (ward_addr_parse(ok[i], &a) != 0)
			fail_msg("%s: %s", ok[i], ward_err_msg());
		assert_string_equal(ward_addr_format((struct sockaddr *)&a.ss, buf, sizeof(buf)),
				    ok[i]);
	}
	assert_int_equal(ward_addr_parse("[::1]:8080", &a), 0);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_int_equal(ward_addr_port(&a), 8080);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0xaa, sizeof(a));
		if (ward_addr_parse(bad[i], &a) != WARD_ERR_INVALID)
			fail_msg("%s: accepted", bad[i]);
		assert_non_null(strstr(ward_err_msg(), "is not an address"));
	}
	/* A short buffer truncates, never overflows. */
	assert_int_equal(ward_addr_parse("[::ffff:10.1.2.3]:443", &a), 0);
	assert_string_equal(ward_addr_format((struct sockaddr *)&a.ss, buf, 6), "[::ff");
}

static struct sockaddr_storage sa(const char *text)
{
	struct ward_addr a;

	if (ward_addr_parse(text, &a) != 0)
		fail_msg("%s: %s", text, ward_err_msg());
	return a.ss;
}

static void test_cidr_contains(void **state)
{
	static const struct {
		const char *cidr, *addr;
		bool in;
	} cases[] = {
	    {"10.0.0.0/8", "10.1.2.3:1", true},
	    {"10.0.0.0/8", "11.0.0.0:1", false},
	    {"10.0.0.0/8", "[::ffff:10.9.9.9]:1", true},
	    {"10.0.0.0/8", "[::ffff:11.9.9.9]:1", false},
	    {"10.0.0.0/8", "[::a00:1]:1", false}, /* v4-compatible, not mapped */
	    {"0.0.0.0/0", "1.2.3.4:1", true},
	    {"0.0.0.0/0", "[::ffff:1.2.3.4]:1", true},
	    {"0.0.0.0/0", "[::1]:1", false},
	    {"192.168.1.128/25", "192.168.1.128:1", true},
	    {"192.168.1.128/25", "192.168.1.127:1", false},
	    {"192.168.1.128/25", "192.168.1.255:1", true},
	    {"10.1.2.3/32", "10.1.2.3:1", true},
	    {"10.1.2.3/32", "10.1.2.4:1", false},
	    {"::/0", "[::1]:1", true},
	    {"::/0", "1.2.3.4:1", false},
	    {"fd00::/8", "[fd12:3456::1]:1", true},
	    {"fd00::/8", "[fe80::1]:1", false},
	    {"2001:db8::/33", "[2001:db8:7fff::1]:1", true},
	    {"2001:db8::/33", "[2001:db8:8000::1]:1", false},
	    {"::ffff:0.0.0.0/96", "[::ffff:1.2.3.4]:1", true},
	    {"::1/128", "[::1]:1", true},
	    {"::1/128", "[::2]:1", false},
	};
	struct sockaddr_storage ss;
	struct ward_cidr c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ward_cidr_parse(cases[i].cidr, &c) != 0)
			fail_msg("%s: %s", cases[i].cidr, ward_err_msg());
		ss = sa(cases[i].addr);
		if (ward_cidr_contains(&c, (struct sockaddr *)&ss) != cases[i].in)
			fail_msg("%s in %s: wanted %d", cases[i].addr, cases[i].cidr, cases[i].in);
	}
}

static void test_cidr_parse(void **state)
{
	static const char *bad[] = {"10.0.0.0/33", "::/129",	    "10.0.0.0/",   "/8",
				    "10.0.0.0",	   "10.0.0.0/-1",   "10.0.0.0/8/", "10.0.0/8",
				    "x/8",	   "10.0.0.0/0008", "10.0.0.0/ 8"};
	struct ward_cidr c;
	size_t i;

	assert_int_equal(ward_cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix_len, 8);
	assert_int_equal(ward_cidr_parse("fd00::/8", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.addr[0], 0xfd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ward_cidr_parse(bad[i], &c) != WARD_ERR_INVALID)
			fail_msg("%s: accepted", bad[i]);
		assert_non_null(strstr(ward_err_msg(), "is not a CIDR"));
	}
	assert_int_equal(ward_cidr_parse("fd00::1/8", &c), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "host bits"));
}

static void test_in_mesh(void **state)
{
	struct ward_config *c = load_ok(BASE ",\"outbound\":{\"mesh_cidrs\":[\"10.0.0.0/8\","
					     "\"fd00::/8\"],\"passthrough_ports\":[22]}}");
	struct sockaddr_storage ss;

	ss = sa("10.3.2.1:80");
	assert_true(ward_config_in_mesh(c, (struct sockaddr *)&ss));
	ss = sa("[::ffff:10.3.2.1]:80");
	assert_true(ward_config_in_mesh(c, (struct sockaddr *)&ss));
	ss = sa("[fd00::5]:80");
	assert_true(ward_config_in_mesh(c, (struct sockaddr *)&ss));
	ss = sa("8.8.8.8:53");
	assert_false(ward_config_in_mesh(c, (struct sockaddr *)&ss));
	ss = sa("[2001:db8::1]:80");
	assert_false(ward_config_in_mesh(c, (struct sockaddr *)&ss));
	assert_true(ward_config_is_passthrough_port(c, 22));
	assert_false(ward_config_is_passthrough_port(c, 23));
	ward_config_free(c);
}

/* Which local ports a tunnel stream may ask for: those capture redirects. */
static void test_inbound_captured(void **state)
{
	struct ward_config *c = load_ok(BASE ",\"inbound\":{\"exclude_ports\":\"22,2379\"},"
					     "\"outbound\":{\"tunnel_exclude_ports\":[5432]}}");

	(void)state;
	assert_true(ward_config_inbound_captured(c, 8080));
	assert_false(ward_config_inbound_captured(c, 22));
	assert_false(ward_config_inbound_captured(c, 2379));
	for (uint16_t own = 15000; own <= 15030; own++) /* ward's own ports never */
		if (own == 15001 || own == 15006 || own == 15008 || own == 15020)
			assert_false(ward_config_inbound_captured(c, own));
	assert_true(ward_config_tunnel_excluded(c, 5432));
	assert_false(ward_config_tunnel_excluded(c, 8080));
	ward_config_free(c);
	c = load_ok(BASE ",\"inbound\":{\"include_ports\":\"8080,9090\"}}");
	assert_true(ward_config_inbound_captured(c, 9090));
	assert_false(ward_config_inbound_captured(c, 8081));
	ward_config_free(c);
	c = load_ok(BASE ",\"inbound\":{\"include_ports\":\"\"}}");
	assert_false(ward_config_inbound_captured(c, 8080));
	ward_config_free(c);
}

/* Without outbound.mesh_cidrs: the private ranges pod networks use are
 * meshed, public destinations pass through. */
static void test_default_mesh_scope(void **state)
{
	static const char *const meshed[] = {"10.244.1.7:80",	"100.64.0.1:80",
					     "172.31.255.1:80", "192.168.3.4:5432",
					     "[fd12::1]:80",	"[::ffff:10.1.1.1]:80"};
	static const char *const outside[] = {"8.8.8.8:53",	  "172.32.0.1:443",
					      "100.128.0.1:80",	  "203.0.113.9:5432",
					      "[2001:db8::1]:80", "[fc00::1]:80"};
	struct ward_config *c = load_ok(BASE "}");
	struct sockaddr_storage ss;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(meshed) / sizeof(meshed[0]); i++) {
		ss = sa(meshed[i]);
		if (!ward_config_in_mesh(c, (struct sockaddr *)&ss))
			fail_msg("%s: not in the default mesh scope", meshed[i]);
	}
	for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		ss = sa(outside[i]);
		if (ward_config_in_mesh(c, (struct sockaddr *)&ss))
			fail_msg("%s: in the default mesh scope", outside[i]);
	}
	ward_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	     cmocka_unit_test(test_minimal_derived),
	    cmocka_unit_test(test_example_files),    cmocka_unit_test(test_example_full),
	    cmocka_unit_test(test_permissive_file),  cmocka_unit_test(test_identity_paths),
	    cmocka_unit_test(test_identity_env),     cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_too_many),	     cmocka_unit_test(test_load_file_errors),
	    cmocka_unit_test(test_addr_round_trip),  cmocka_unit_test(test_cidr_contains),
	    cmocka_unit_test(test_cidr_parse),	     cmocka_unit_test(test_in_mesh),
	    cmocka_unit_test(test_app_keys),	     cmocka_unit_test(test_default_mesh_scope),
	    cmocka_unit_test(test_inbound_captured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
