/* ward doctor's checks against a fake /proc and given rulesets, and the
 * `ward status` summary of a /stats document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <wolfssl/options.h>

#include "agent/doctor.h"
#include "agent/status.h"

static char proc[64];
static struct ward_config cfg;

static void put(const char *rel, const char *text)
{
	char path[256], dir[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", proc, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + strlen(proc) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(proc, sizeof(proc), "/tmp/ward-test-proc-%d", (int)getpid());
	mkdir(proc, 0755);
	return ward_config_init_defaults(&cfg);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	ward_config_uninit(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", proc);
	return system(cmd);
}

static struct ward_doctor_env env(void)
{
	return (struct ward_doctor_env){
	    .proc = proc, .cfg = &cfg, .now = 1000, .fd_limit = 1u << 20};
}

static void test_somaxconn_and_ports(void **state)
{
	struct ward_doctor_env e = env();
	struct ward_check c;

	(void)state;
	put("sys/net/core/somaxconn", "128\n");
	ward_doctor_somaxconn(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_WARN);
	assert_string_equal(c.value, "128");
	put("sys/net/core/somaxconn", "4096\n");
	ward_doctor_somaxconn(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_OK);

	put("sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
	ward_doctor_port_range(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_OK);
	assert_string_equal(c.value, "32768 60999 (28232 ports)");
	put("sys/net/ipv4/ip_local_port_range", "50000 51000\n");
	ward_doctor_port_range(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_WARN);
	put("sys/net/ipv4/ip_local_port_range", "garbage\n");
	ward_doctor_port_range(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_SKIP);
}

static void test_congestion(void **state)
{
	struct ward_doctor_env e = env();
	struct ward_check c;

	(void)state;
	put("sys/net/ipv4/tcp_congestion_control", "cubic\n");
	put("sys/net/ipv4/tcp_available_congestion_control", "reno cubic\n");
	ward_doctor_congestion(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_WARN);
	free(cfg.tcp.congestion);
	cfg.tcp.congestion = strdup("bbr");
	ward_doctor_congestion(&e, &c); /* configured but not offered: ward cannot apply it */
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	put("sys/net/ipv4/tcp_available_congestion_control", "reno cubic bbr\n");
	ward_doctor_congestion(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_OK);
	free(cfg.tcp.congestion);
	cfg.tcp.congestion = strdup("");
}

static void test_socket_states(void **state)
{
	static const char tcp[] =
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
	    "   0: 0100007F:3A98 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0\n"
	    "   1: 0100007F:3A98 0100007F:C350 06 00000000:00000000 03:00000D6B 00000000 0\n"
	    "   2: 0100007F:3A98 0100007F:C351 08 00000000:00000000 00:00000000 00000000 0\n"
	    "   3: 0100007F:3A98 0100007F:C352 08 00000000:00000000 00:00000000 00000000 0\n";
	struct ward_doctor_env e = env();
	struct ward_check tw, cw;
	char path[256];

	(void)state;
	put("net/tcp", tcp);
	put("net/tcp6", "  sl  local_address\n   0: X:1 Y:2 06 0:0 0:0 0 0\n");
	ward_doctor_socket_states(&e, &tw, &cw);
	assert_string_equal(tw.value, "2");
	assert_string_equal(cw.value, "2");
	assert_int_equal(tw.status, WARD_CHECK_OK);
	snprintf(path, sizeof(path), "%s/net/tcp", proc);
	unlink(path);
	ward_doctor_socket_states(&e, &tw, &cw);
	assert_int_equal(tw.status, WARD_CHECK_SKIP);
}

static void test_fd_limit(void **state)
{
	struct ward_doctor_env e = env();
	struct ward_check c;

	(void)state;
	e.fd_limit = 1024;
	e.agent_error = "http://127.0.0.1:15020/stats: Connection refused";
	ward_doctor_fd_limit(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	assert_non_null(
	    strstr(c.value, "1024 for this shell, not the agent (http://127.0.0.1:15020"));
	e.fd_limit = 2 * cfg.limits.max_connections + 64;
	ward_doctor_fd_limit(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_OK);
	/* The agent's own limits, as its /stats gave them. */
	e.agent_pid = 4321;
	e.fd_limit = 64;
	e.fd_hard = 64;
	ward_doctor_fd_limit(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	assert_string_equal(c.value, "64 for the agent (pid 4321, hard limit 64; "
				     "limits.max_connections: 10000)");
	assert_string_equal(c.recommended, ">= 20064 (2 per connection + 64)");
}

static void test_capture(void **state)
{
	static const char good[] =
	    "-P PREROUTING ACCEPT\n-N WARD_INBOUND\n"
	    "-A PREROUTING -p tcp -j WARD_INBOUND\n-A OUTPUT -p tcp -j WARD_OUTPUT\n"
	    "-A WARD_INBOUND -p tcp -m tcp --dport 15020 -j RETURN\n"
	    "-A WARD_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n"
	    "-A WARD_INBOUND -p tcp -j WARD_IN_REDIRECT\n"
	    "-A WARD_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
	    "-A WARD_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
	    "-A WARD_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
	    /* the filter table, as `iptables -S` prints it */
	    "-P OUTPUT ACCEPT\n-N WARD_GUARD\n"
	    "-A OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j WARD_GUARD\n"
	    "-A WARD_GUARD -p tcp -m owner --uid-owner 1337 -m conntrack --ctstate DNAT -j REJECT "
	    "--reject-with tcp-reset\n"
	    "-A WARD_GUARD -m owner --uid-owner 1337 -j RETURN\n"
	    "-A WARD_GUARD -m conntrack --ctstate DNAT -j RETURN\n"
	    "-A WARD_GUARD -p tcp -j REJECT --reject-with tcp-reset\n";
	struct ward_doctor_env e = env();
	struct ward_check c;
	char *bad, *p;

	(void)state;
	e.iptables_text = good;
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_OK);
	/* the inbound port of the rules is not the config's */
	e.iptables_text = bad = strdup(good);
	memcpy(strstr(bad, "15006"), "15007", 5);
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	assert_non_null(strstr(c.value, "inbound REDIRECT"));
	free(bad);
	/* the nat rules without the fail-closed filter rule: a failure */
	e.iptables_text = bad = strdup(good);
	*strstr(bad, "-P OUTPUT ACCEPT") = '\0';
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	assert_non_null(strstr(c.value, "fail-closed jump OUTPUT -> WARD_GUARD"));
	free(bad);
	/* the guard chain without its REJECT refuses nothing */
	e.iptables_text = bad = strdup(good);
	p = strstr(bad, "-A WARD_GUARD -p tcp -j REJECT");
	memcpy(p + 3, "WARD_GUARX", 10);
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL); /* the self-loop REJECT is not the guard */
	assert_non_null(strstr(c.value, "uncaptured app connections refused"));
	free(bad);
	/* a port that is a prefix of the one in the rules is not a match */
	e.iptables_text = good;
	assert_int_equal(ward_addr_parse("0.0.0.0:1500", &cfg.inbound.listen), 0);
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	assert_int_equal(ward_addr_parse("0.0.0.0:15006", &cfg.inbound.listen), 0);
	e.iptables_text = "";
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_FAIL);
	assert_non_null(strstr(c.value, "PREROUTING"));
	e.iptables_text = NULL;
	e.iptables_error = "not permitted";
	ward_doctor_capture(&e, &c);
	assert_int_equal(c.status, WARD_CHECK_SKIP);
}

/* The key exchange check follows the linked wolfSSL: ward's own build offers
 * X25519MLKEM768 first, Debian's 5.5.4 cannot (a warning, not a failure). */
static void test_post_quantum(void **state)
{
	struct ward_doctor_env e = env();
	struct ward_check c;
	char *classic[] = {"x25519", "secp256r1"};

	(void)state;
	ward_doctor_post_quantum(&e, &c);
	assert_string_equal(c.name, "post_quantum");
#if defined(WOLFSSL_HAVE_MLKEM) && defined(WOLFSSL_PQC_HYBRIDS)
	assert_int_equal(c.status, WARD_CHECK_OK);
	assert_non_null(strstr(c.value, "offered: X25519MLKEM768, x25519, secp256r1"));
	cfg.tls.groups = classic;
	cfg.tls.n_groups = 2;
	ward_doctor_post_quantum(&e, &c);
	cfg.tls.groups = NULL;
	cfg.tls.n_groups = 0;
	assert_int_equal(c.status, WARD_CHECK_WARN);
	assert_string_equal(c.value, "not offered: tls.groups is x25519, secp256r1");
#else
	(void)classic;
	assert_int_equal(c.status, WARD_CHECK_WARN);
	assert_non_null(strstr(c.value, "has no ML-KEM; offering x25519, secp256r1"));
#endif
	assert_non_null(strstr(c.recommended, "X25519MLKEM768"));
}

static void test_run_and_json(void **state)
{
	struct ward_doctor_env e = env();
	struct ward_check checks[WARD_DOCTOR_CHECKS];
	json_t *j;
	int failed;

	(void)state;
	e.iptables_text = "";
	e.fd_limit = 10;
	failed = ward_doctor_run(&e, checks);
	assert_int_equal(failed, 2); /* capture rules and fd limit */
	for (int i = 0; i < WARD_DOCTOR_CHECKS; i++) {
		assert_non_null(checks[i].name);
		assert_non_null(checks[i].why);
	}
	j = ward_doctor_json(checks, WARD_DOCTOR_CHECKS);
	assert_int_equal(json_array_size(json_object_get(j, "checks")), WARD_DOCTOR_CHECKS);
	assert_int_equal(json_integer_value(json_object_get(j, "fail")), 2);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "checks"), 11), "status")),
			    "skip"); /* svid_expiry without --config */
	json_decref(j);
}

static void test_status_print(void **state)
{
	static const char doc[] =
	    "{\"outbound\":{\"active\":1,\"handshakes_ok\":3,\"handshakes_failed\":1,"
	    "\"authz_denied\":0,\"proxied\":3,\"failure_reasons\":{\"timeout\":1},"
	    "\"handshake_seconds\":{\"counts\":[0,0,0,0,0,0,0,0,0,3,0,0,0,0,0,0]},"
	    "\"tunnel\":{\"connections\":1,\"streams_active\":2,\"streams\":{\"opened\":9,"
	    "\"denied\":1,\"forbidden\":0,\"unavailable\":0,\"failed\":0}}},"
	    "\"inbound\":{\"active\":0,\"handshakes_ok\":0,\"handshakes_failed\":2,"
	    "\"failure_reasons\":{\"no_client_cert\":2},"
	    "\"handshake_seconds\":{\"counts\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}},"
	    "\"tunnel_pool\":{\"reused\":8,\"opened\":1,\"fallback\":0},"
	    "\"refused\":0,\"start_time\":900,\"svid_expiry\":4600,\"svid_rotations\":1,"
	    "\"ready\":true,\"spiffe_id\":\"spiffe://example.org/a\",\"workers\":2,"
	    "\"log_level\":\"info\",\"listeners\":{\"outbound\":\"0.0.0.0:15001\","
	    "\"inbound\":\"0.0.0.0:15006\",\"admin\":\"0.0.0.0:15020\",\"inbound_mode\":\"strict\","
	    "\"tunnel\":\"0.0.0.0:15008\",\"outbound_tunnel\":\"auto\"}"
	    "}";
	json_t *j = json_loads(doc, 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(j);
	assert_int_equal(ward_status_print(j, 1000, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "agent        ready, up 1m40s, 2 workers"));
	assert_non_null(strstr(text, "(in 1h00m), 1 rotations"));
	/* 3 of 4 succeeded, all in (50 ms, 100 ms]: ranks 1.5 and 2.97 of 3 */
	assert_non_null(strstr(text, "4 handshakes, 75.0% successful, p50 75.00 ms, p99 99.50 ms"));
	assert_non_null(strstr(text, "no_client_cert 2 (inbound), timeout 1 (outbound)"));
	assert_non_null(strstr(text, ", tunnel 0.0.0.0:15008 (outbound auto)"));
	assert_non_null(strstr(text, "tunnel: 1 connections, 2 streams active, 9 opened (refused: "
				     "1 denied, 0 forbidden, 0 unavailable, 0 failed)"));
	assert_non_null(strstr(text, "tunnel pool  8 reused (no handshake), 1 opened, 0 direct"));
	free(text);
	/* a document without what the summary needs is an error, not a crash */
	json_object_del(j, "inbound");
	f = open_memstream(&text, &len);
	assert_int_equal(ward_status_print(j, 1000, f), WARD_ERR_INVALID);
	fclose(f);
	free(text);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_somaxconn_and_ports),
	    cmocka_unit_test(test_congestion),
	    cmocka_unit_test(test_socket_states),
	    cmocka_unit_test(test_fd_limit),
	    cmocka_unit_test(test_capture),
	    cmocka_unit_test(test_post_quantum),
	    cmocka_unit_test(test_run_and_json),
	    cmocka_unit_test(test_status_print),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
