/* Metrics: histogram bucketing and the quantile estimate, per-worker sums,
 * the Prometheus exposition text, and the admin's JSON views. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/admin.h"
#include "agent/metrics.h"

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void test_bucketing(void **state)
{
	static struct ward_hist h;
	struct ward_hist_snap s = {0};

	(void)state;
	ward_hist_observe(&h, 50000);	   /* 50 µs: first bucket */
	ward_hist_observe(&h, 100000);	   /* exactly 100 µs: le is inclusive */
	ward_hist_observe(&h, 100001);	   /* just past: second bucket */
	ward_hist_observe(&h, 3000000);	   /* 3 ms: le 0.005 */
	ward_hist_observe(&h, 5000000000); /* 5 s: last finite bucket */
	ward_hist_observe(&h, 9000000000); /* 9 s: +Inf */
	ward_hist_snap_add(&s, &h);
	assert_int_equal(s.count, 6);
	assert_int_equal(s.buckets[0], 2);
	assert_int_equal(s.buckets[1], 1);
	assert_int_equal(s.buckets[5], 1);
	assert_int_equal(s.buckets[WARD_HIST_BOUNDS - 1], 1);
	assert_int_equal(s.buckets[WARD_HIST_BOUNDS], 1);
	assert_true(fabs(s.sum - 14.003250001) < 1e-9);
}

static void test_quantile(void **state)
{
	struct ward_hist_snap s = {0};

	(void)state;
	assert_true(isnan(ward_hist_quantile(&s, 0.5)));
	/* 100 observations: 50 in (0.5 ms, 1 ms], 50 in (1 ms, 2.5 ms] */
	s.buckets[3] = 50;
	s.buckets[4] = 50;
	s.count = 100;
	/* rank 50 is the top of bucket 3 */
	assert_true(fabs(ward_hist_quantile(&s, 0.5) - 0.001) < 1e-12);
	/* rank 99: 49/50 of the way through (1 ms, 2.5 ms] */
	assert_true(fabs(ward_hist_quantile(&s, 0.99) - (0.001 + 0.0015 * 49.0 / 50.0)) < 1e-12);
	/* rank 25: half way through (0.5 ms, 1 ms] */
	assert_true(fabs(ward_hist_quantile(&s, 0.25) - 0.00075) < 1e-12);
	/* everything past 5 s: the highest finite bound, as Prometheus answers */
	memset(&s, 0, sizeof(s));
	s.buckets[WARD_HIST_BOUNDS] = 3;
	s.count = 3;
	assert_true(ward_hist_quantile(&s, 0.5) == 5.0);
}

static void test_sum_workers(void **state)
{
	static struct ward_metrics_worker w1, w2;
	struct ward_metrics_worker *ws[] = {&w1, &w2};
	struct ward_metrics_snap s;

	(void)state;
	ward_metric_add(&w1.handshakes[1][0], 3);
	ward_metric_add(&w2.handshakes[1][0], 4);
	ward_metric_add(&w2.handshake_errors[0][ward_metrics_reason("unknown_ca")], 2);
	ward_metric_add(&w1.handshake_errors[0][ward_metrics_reason("made_up")], 1);
	ward_metric_add(&w1.opened[0], 5);
	ward_metric_add(&w1.closed[0], 2);
	ward_metric_add(&w2.opened[0], 1);
	ward_metrics_negotiated(&w1, 1, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "x25519");
	ward_metrics_negotiated(&w2, 1, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "x25519");
	ward_metrics_negotiated(&w2, 1, "TLSv1.2", "SOMETHING", "ffdhe2048");
	ward_metrics_negotiated(&w1, 0, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "X25519MLKEM768");
	ward_metrics_negotiated(&w2, 0, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "x25519mlkem768");
	ward_metrics_sum(ws, 2, &s);
	assert_int_equal(s.handshakes[1][0], 7);
	assert_int_equal(s.handshake_errors[0][WARD_REASON_UNKNOWN_CA], 2);
	assert_int_equal(s.handshake_errors[0][WARD_REASON_OTHER], 1);
	assert_int_equal(s.active[0], 4);
	assert_int_equal(s.negotiated[1][0][0][0], 2);
	assert_int_equal(s.negotiated[1][1][3][WARD_TLS_GROUPS - 1], 1); /* other x3 */
	/* the hybrid group has its own label, spelt as IANA spells it */
	assert_int_equal(s.negotiated[0][0][0][4], 1);
	assert_int_equal(s.negotiated[0][0][0][WARD_TLS_GROUPS - 1], 1);
}

static void test_exposition(void **state)
{
	struct ward_metrics_snap s = {0};
	char *text;
	size_t len;

	(void)state;
	s.handshakes[0][0] = 7;
	s.handshake_errors[1][WARD_REASON_NO_CLIENT_CERT] = 2;
	s.handshake_seconds[1].buckets[0] = 1;
	s.handshake_seconds[1].buckets[3] = 2;
	s.handshake_seconds[1].buckets[WARD_HIST_BOUNDS] = 1;
	s.handshake_seconds[1].count = 4;
	s.handshake_seconds[1].sum = 7.5;
	s.negotiated[0][0][2][0] = 9;
	s.negotiated[1][0][0][4] = 5;
	s.proxied[1][WARD_MODE_PLAINTEXT] = 3;
	s.svid_expiry = 1800000000;
	s.workload_api_connected = true;
	ward_metrics_workload_api_error("unavailable");
	ward_metrics_workload_api_error("no such code");
	assert_int_equal(ward_metrics_render(&s, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_true(has_line(text, "# TYPE ward_tls_handshakes_total counter"));
	assert_true(has_line(
	    text, "ward_tls_handshakes_total{direction=\"outbound\",result=\"success\"} 7"));
	assert_true(has_line(
	    text, "ward_tls_handshakes_total{direction=\"inbound\",result=\"failure\"} 0"));
	assert_true(has_line(
	    text,
	    "ward_tls_handshake_errors_total{direction=\"inbound\",reason=\"no_client_cert\"} 2"));
	/* cumulative buckets; +Inf equals _count */
	assert_true(has_line(text, "# TYPE ward_tls_handshake_duration_seconds histogram"));
	assert_true(has_line(
	    text,
	    "ward_tls_handshake_duration_seconds_bucket{direction=\"inbound\",le=\"0.0001\"} 1"));
	assert_true(has_line(
	    text,
	    "ward_tls_handshake_duration_seconds_bucket{direction=\"inbound\",le=\"0.0005\"} 1"));
	assert_true(has_line(
	    text,
	    "ward_tls_handshake_duration_seconds_bucket{direction=\"inbound\",le=\"0.001\"} 3"));
	assert_true(has_line(
	    text, "ward_tls_handshake_duration_seconds_bucket{direction=\"inbound\",le=\"5\"} 3"));
	assert_true(has_line(
	    text,
	    "ward_tls_handshake_duration_seconds_bucket{direction=\"inbound\",le=\"+Inf\"} 4"));
	assert_true(
	    has_line(text, "ward_tls_handshake_duration_seconds_sum{direction=\"inbound\"} 7.5"));
	assert_true(
	    has_line(text, "ward_tls_handshake_duration_seconds_count{direction=\"inbound\"} 4"));
	assert_true(has_line(text,
			     "ward_tls_negotiated_total{direction=\"outbound\",version=\"TLSv1.3\","
			     "cipher=\"TLS_CHACHA20_POLY1305_SHA256\",group=\"x25519\"} 9"));
	assert_true(has_line(text,
			     "ward_tls_negotiated_total{direction=\"inbound\",version=\"TLSv1.3\","
			     "cipher=\"TLS_AES_128_GCM_SHA256\",group=\"X25519MLKEM768\"} 5"));
	assert_true(has_line(
	    text, "ward_connections_total{direction=\"inbound\",mode=\"permissive-plaintext\"} 3"));
	assert_true(has_line(text, "ward_svid_expiry_timestamp_seconds 1800000000"));
	assert_true(has_line(text, "ward_workload_api_connected 1"));
	assert_true(has_line(text, "# TYPE ward_tcp_rtt_seconds histogram"));
	/* zero-valued negotiated series are left out: no unbounded growth */
	assert_null(strstr(text, "cipher=\"other\""));
	free(text);

	/* the process-wide error counters, by bounded code */
	ward_metrics_sum(NULL, 0, &s);
	assert_int_equal(ward_metrics_render(&s, &text, &len), 0);
	assert_true(has_line(text, "ward_workload_api_errors_total{code=\"unavailable\"} 1"));
	assert_true(has_line(text, "ward_workload_api_errors_total{code=\"unknown\"} 1"));
	assert_null(strstr(text, "no such code"));
	free(text);
}

static void test_json_views(void **state)
{
	struct ward_metrics_snap s = {0};
	struct ward_tls_cert_summary leaf = {.subject = "/O=x",
					     .issuer = "/CN=ca",
					     .serial = "01",
					     .not_before = 1000,
					     .not_after = 5000};
	struct ward_tls_cert_summary ca = {.subject = "/CN=ca",
					   .issuer = "/CN=ca",
					   .serial = "02",
					   .not_before = 10,
					   .not_after = 90000};
	struct ward_tls_ctx ctx = {.spiffe_id = "spiffe://example.org/a",
				   .trust_domain = "example.org",
				   .serial = "01",
				   .not_before = 1000,
				   .not_after = 5000,
				   .generation = 3,
				   .chain_info = &leaf,
				   .n_chain_info = 1,
				   .bundle_info = &ca,
				   .n_bundle_info = 1};
	json_t *j;

	(void)state;
	s.handshakes[0][0] = 5;
	s.handshakes[0][1] = 2;
	s.handshake_errors[0][WARD_REASON_EXPIRED] = 2;
	s.handshake_seconds[0].buckets[2] = 5;
	s.handshake_seconds[0].count = 5;
	j = ward_metrics_json(&s);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "outbound"), "handshakes_ok")),
	    5);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(j, "outbound"), "failure_reasons"), "expired")),
	    2);
	assert_int_equal(
	    json_array_size(json_object_get(
		json_object_get(json_object_get(j, "outbound"), "handshake_seconds"), "counts")),
	    WARD_HIST_BOUNDS + 1);
	json_decref(j);

	j = ward_admin_certs_json(&ctx, 4000);
	assert_string_equal(json_string_value(json_object_get(j, "spiffe_id")), ctx.spiffe_id);
	assert_int_equal(json_integer_value(json_object_get(j, "expires_in_s")), 1000);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "chain"), 0), "issuer")),
			    "/CN=ca");
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_array_get(
		    json_object_get(json_array_get(json_object_get(j, "bundles"), 0), "cas"), 0),
		"not_after")),
	    90000);
	json_decref(j);
	j = ward_admin_certs_json(NULL, 0);
	assert_true(json_is_null(json_object_get(j, "spiffe_id")));
	json_decref(j);

	assert_null(ward_admin_not_ready(&ctx, true, false));
	assert_string_equal(ward_admin_not_ready(NULL, true, false), "no SVID loaded yet");
	assert_string_equal(ward_admin_not_ready(&ctx, false, false), "listeners not up yet");
	assert_string_equal(ward_admin_not_ready(&ctx, true, true), "draining");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucketing),	cmocka_unit_test(test_quantile),
	    cmocka_unit_test(test_sum_workers), cmocka_unit_test(test_exposition),
	    cmocka_unit_test(test_json_views),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
