/* The inbound side's way to the app (agent/app.h), without sockets: the dial
 * plan and its per-worker memory of loopback-only apps, when a failed connect
 * leads to the other address and when it does not, and the PROXY v2 header
 * built for a caller (mTLS, resumed, plaintext). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "agent/app.h"
#include "lib/addr.h"

static struct sockaddr_storage addr(const char *text)
{
	struct ward_addr a;

	assert_int_equal(ward_addr_parse(text, &a), 0);
	return a.ss;
}

static const char *target(const struct ward_app_dial *d)
{
	static char buf[64];
	struct sockaddr_storage to;

	ward_app_dial_target(d, &to);
	return ward_addr_format((const struct sockaddr *)&to, buf, sizeof(buf));
}

static struct ward_config *config(void)
{
	static struct ward_config cfg;
	static uint16_t ports[] = {5432};

	assert_int_equal(ward_config_init_defaults(&cfg), 0);
	cfg.inbound.proxy_protocol_ports = ports;
	cfg.inbound.n_proxy_protocol_ports = 1;
	return &cfg;
}

static void release(struct ward_config *cfg)
{
	cfg->inbound.proxy_protocol_ports = NULL;
	cfg->inbound.n_proxy_protocol_ports = 0;
	ward_config_uninit(cfg);
}

/* Pod IP first; refused there, loopback; learned, loopback first for 30 s
 * on that port and family only; refused on the remembered loopback, the pod
 * IP again and the port forgotten. */
static void test_pod_ip_then_loopback(void **state)
{
	struct ward_config *cfg = config();
	struct ward_app_memory m = {0};
	struct sockaddr_storage dst = addr("10.1.0.2:8080"), dst6 = addr("[fd00::2]:8080");
	struct ward_app_dial d;

	(void)state;
	ward_app_dial_init(&d, cfg, &m, &dst, 1000);
	assert_string_equal(target(&d), "10.1.0.2:8080");
	assert_false(d.proxy_header);
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), 0);
	assert_string_equal(target(&d), "127.0.0.1:8080");
	ward_app_dial_connected(&d, &m, 1000);

	ward_app_dial_init(&d, cfg, &m, &dst, 1000 + WARD_APP_LOOPBACK_MEMORY_MS - 1);
	assert_string_equal(target(&d), "127.0.0.1:8080");
	assert_false(d.switched);
	ward_app_dial_connected(&d, &m, 2000); /* not refreshed: learned at 1000 */
	ward_app_dial_init(&d, cfg, &m, &dst, 1000 + WARD_APP_LOOPBACK_MEMORY_MS);
	assert_string_equal(target(&d), "10.1.0.2:8080");

	ward_app_dial_init(&d, cfg, &m, &dst6, 1500);
	assert_string_equal(target(&d), "[fd00::2]:8080"); /* another family */

	ward_app_dial_init(&d, cfg, &m, &dst, 1500);
	assert_string_equal(target(&d), "127.0.0.1:8080");
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), 0);
	assert_string_equal(target(&d), "10.1.0.2:8080");
	ward_app_dial_connected(&d, &m, 1600);
	ward_app_dial_init(&d, cfg, &m, &dst, 1700);
	assert_string_equal(target(&d), "10.1.0.2:8080"); /* forgotten */

	ward_app_dial_init(&d, cfg, &m, &dst6, 1700);
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), 0);
	assert_string_equal(target(&d), "[::1]:8080");
	release(cfg);
}

/* Only a refusal leads elsewhere, once; a transparent dial never goes to
 * loopback. Each reason says what happened. */
static void test_when_not_to_retry(void **state)
{
	struct ward_config *cfg = config();
	struct ward_app_memory m = {0};
	struct sockaddr_storage dst = addr("10.1.0.2:5432");
	struct ward_app_dial d;

	(void)state;
	ward_app_dial_init(&d, cfg, &m, &dst, 0);
	assert_true(d.proxy_header);
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ETIMEDOUT), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "10.1.0.2:5432: ETIMEDOUT"));
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), 0);
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "on the pod IP and on loopback, port 5432"));

	cfg->inbound.preserve_source = true;
	ward_app_dial_init(&d, cfg, &m, &dst, 0);
	assert_true(d.transparent);
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "must listen on the pod IP"));
	assert_string_equal(target(&d), "10.1.0.2:5432");
	release(cfg);
}

/* What a strict reader finds in the header of an mTLS caller: the caller's
 * and the dialled address, SSL flags (certificate on this connection unless
 * resumed), and the SPIFFE ID in TLV 0xD0; a plaintext caller gets addresses
 * only. */
static void test_proxy_header(void **state)
{
	static const char id[] = "spiffe://example.org/ns/default/sa/a";
	struct ward_app_caller c = {.src = addr("10.1.0.1:40000"),
				    .dst = addr("10.1.0.2:5432"),
				    .peer_id = id,
				    .tls_version = "TLSv1.3",
				    .tls_cipher = "TLS_AES_256_GCM_SHA384"};
	uint8_t *h;
	size_t len, at;

	(void)state;
	for (int resumed = 0; resumed < 2; resumed++) {
		c.resumed = resumed;
		assert_int_equal(ward_app_proxy_header(&c, &h, &len), 0);
		assert_int_equal(h[13], 0x11); /* TCP over IPv4 */
		assert_int_equal(len, 16u + ((size_t)h[14] << 8 | h[15]));
		assert_memory_equal(h + 16, "\x0a\x01\x00\x01\x0a\x01\x00\x02\x9c\x40\x15\x38", 12);
		at = 28;
		assert_int_equal(h[at], 0x20);
		assert_int_equal(h[at + 3], resumed ? 0x05 : 0x07);
		at += 3 + ((size_t)h[at + 1] << 8 | h[at + 2]);
		assert_int_equal(h[at], WARD_APP_TLV_SPIFFE_ID);
		assert_int_equal((size_t)h[at + 1] << 8 | h[at + 2], strlen(id));
		assert_memory_equal(h + at + 3, id, strlen(id));
		assert_int_equal(at + 3 + strlen(id), len);
		free(h);
	}
	c = (struct ward_app_caller){.src = addr("[fd00::1]:1"), .dst = addr("[fd00::2]:2")};
	assert_int_equal(ward_app_proxy_header(&c, &h, &len), 0);
	assert_int_equal(len, 16 + 36);
	assert_int_equal(h[13], 0x21);
	free(h);
	c.dst = addr("10.1.0.2:2"); /* families differ: no header rather than a bad one */
	assert_int_equal(ward_app_proxy_header(&c, &h, &len), WARD_ERR_INVALID);
}

static void test_describe(void **state)
{
	struct ward_config *cfg = config();
	struct ward_app_memory m = {0};
	struct sockaddr_storage dst = addr("10.1.0.2:5432");
	struct ward_app_dial d;
	json_t *o;
	char *text;

	(void)state;
	ward_app_dial_init(&d, cfg, &m, &dst, 0);
	assert_int_equal(ward_app_dial_failed(&d, &m, UV_ECONNREFUSED), 0);
	o = ward_app_describe(&d, -1);
	text = json_dumps(o, JSON_COMPACT);
	assert_string_equal(text,
			    "{\"addr\":\"127.0.0.1:5432\",\"via\":\"loopback\",\"retried\":true,"
			    "\"source\":null,\"preserve_source\":false,\"proxy_header\":true}");
	free(text);
	json_decref(o);
	release(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_ip_then_loopback),
	    cmocka_unit_test(test_when_not_to_retry),
	    cmocka_unit_test(test_proxy_header),
	    cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
