/* A Workload API SVID (concatenated DER chain, PKCS#8 key, concatenated DER
 * bundle) becomes a TLS context only when it is a usable identity of our
 * trust domain; every way a server can get it wrong is refused with a reason
 * that names the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/wlidentity.h"
#include "certs/pem.h"

#define FIX "tests/unit/fixtures/"
#define ID_WEB "spiffe://example.org/ns/default/sa/web"

static const struct ward_tls_policy modern = {
    .cipher_list = "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256",
    .groups = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1},
    .n_groups = 2,
    .sigalgs = "ECDSA+SHA256:ECDSA+SHA384",
};

/* The DER a Workload API server would send, built from PEM fixtures. */
struct wire {
	uint8_t *chain, *bundle;
	size_t chain_len, bundle_len;
	struct ward_pem_key key;
	struct ward_wl_svid svid;
};

static uint8_t *concat(const char *file, size_t *len)
{
	struct ward_pem_certs certs = {0};
	uint8_t *out;

	assert_int_equal(ward_pem_certs_load_file(file, &certs), 0);
	*len = 0;
	for (size_t i = 0; i < certs.count; i++)
		*len += certs.certs[i].len;
	out = malloc(*len);
	assert_non_null(out);
	*len = 0;
	for (size_t i = 0; i < certs.count; i++) {
		memcpy(out + *len, certs.certs[i].data, certs.certs[i].len);
		*len += certs.certs[i].len;
	}
	ward_pem_certs_free(&certs);
	return out;
}

static void wire_load(struct wire *w, const char *cert, const char *id)
{
	memset(w, 0, sizeof(*w));
	w->chain = concat(cert, &w->chain_len);
	w->bundle = concat(FIX "ca.pem", &w->bundle_len);
	assert_int_equal(ward_pem_key_load_file(FIX "leaf.key", &w->key), 0);
	w->svid = (struct ward_wl_svid){
	    .spiffe_id = {(const uint8_t *)id, strlen(id)},
	    .x509_svid = {w->chain, w->chain_len},
	    .x509_svid_key = {w->key.der, w->key.len},
	    .bundle = {w->bundle, w->bundle_len},
	};
}

static void wire_free(struct wire *w)
{
	free(w->chain);
	free(w->bundle);
	ward_pem_key_free(&w->key);
}

static struct ward_config cfg = {.trust_domain = "example.org"};

static int build(struct wire *w, struct ward_tls_ctx **ctx)
{
	*ctx = NULL;
	return ward_wlidentity_build(&w->svid, NULL, 0, &cfg, &modern, ctx);
}

static void good_svid_builds(void **state)
{
	struct ward_tls_ctx *ctx;
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good.pem", ID_WEB);
	assert_int_equal(build(&w, &ctx), 0);
	assert_string_equal(ctx->spiffe_id, ID_WEB);
	ward_tls_ctx_put(ctx);
	wire_free(&w);
}

static void chain_with_intermediate_builds(void **state)
{
	struct ward_tls_ctx *ctx;
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good-chain.pem", ID_WEB);
	assert_int_equal(build(&w, &ctx), 0);
	ward_tls_ctx_put(ctx);
	wire_free(&w);
}

static void expect_refused(struct wire *w, const char *reason_part)
{
	struct ward_tls_ctx *ctx;

	assert_true(build(w, &ctx) < 0);
	assert_null(ctx);
	if (!strstr(ward_err_msg(), reason_part))
		fail_msg("reason \"%s\" lacks \"%s\"", ward_err_msg(), reason_part);
}

static void spiffe_id_field_must_match_cert(void **state)
{
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good.pem", "spiffe://example.org/ns/default/sa/db");
	expect_refused(&w, "does not match the certificate's");
	wire_free(&w);
}

static void empty_fields_refused(void **state)
{
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good.pem", ID_WEB);
	w.svid.bundle.len = 0;
	expect_refused(&w, "bundle is empty");
	w.svid.bundle.len = w.bundle_len;
	w.svid.x509_svid_key.len = 0;
	expect_refused(&w, "x509_svid_key is empty");
	w.svid.x509_svid_key.len = w.key.len;
	w.svid.x509_svid.len = 0;
	expect_refused(&w, "x509_svid is empty");
	wire_free(&w);
}

static void truncated_der_refused(void **state)
{
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good.pem", ID_WEB);
	w.svid.x509_svid.len -= 10;
	expect_refused(&w, "x509_svid");
	wire_free(&w);
}

static void expired_svid_refused(void **state)
{
	struct wire w;

	(void)state;
	wire_load(&w, FIX "expired.pem", ID_WEB);
	expect_refused(&w, "valid now");
	wire_free(&w);
}

static void other_trust_domain_refused(void **state)
{
	struct wire w;

	(void)state;
	cfg.trust_domain = "other.org";
	wire_load(&w, FIX "good.pem", ID_WEB);
	expect_refused(&w, "not in trust domain other.org");
	cfg.trust_domain = "example.org";
	wire_free(&w);
}

static void key_not_matching_refused(void **state)
{
	struct ward_pem_key ca_key = {0};
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good.pem", ID_WEB);
	assert_int_equal(ward_pem_key_load_file(FIX "ca.key", &ca_key), 0);
	w.svid.x509_svid_key = (struct ward_wl_bytes){ca_key.der, ca_key.len};
	expect_refused(&w, "match the certificate"); /* wolfSSL's check or the self-check */
	ward_pem_key_free(&ca_key);
	wire_free(&w);
}

/* federated_bundles keyed as SPIRE keys them become per-domain anchors. */
static void federated_bundles_loaded(void **state)
{
	static const char key[] = "spiffe://other.org";
	struct ward_wl_bundle fed;
	struct ward_tls_ctx *ctx;
	size_t other_len;
	uint8_t *other = concat(FIX "other-ca.pem", &other_len);
	struct wire w;

	(void)state;
	wire_load(&w, FIX "good.pem", ID_WEB);
	fed = (struct ward_wl_bundle){{(const uint8_t *)key, strlen(key)}, {other, other_len}};
	if (!ward_fed_supported()) {
		assert_int_equal(ward_wlidentity_build(&w.svid, &fed, 1, &cfg, &modern, &ctx),
				 WARD_ERR_UNSUPPORTED);
	} else {
		assert_int_equal(ward_wlidentity_build(&w.svid, &fed, 1, &cfg, &modern, &ctx), 0);
		assert_true(ward_fed_knows(ctx->fed, "other.org", 9));
		ward_tls_ctx_put(ctx);
		fed.bundle.len -= 1;
		assert_true(ward_wlidentity_build(&w.svid, &fed, 1, &cfg, &modern, &ctx) < 0);
		assert_non_null(strstr(ward_err_msg(), "other.org"));
	}
	free(other);
	wire_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_svid_builds),
	    cmocka_unit_test(chain_with_intermediate_builds),
	    cmocka_unit_test(spiffe_id_field_must_match_cert),
	    cmocka_unit_test(empty_fields_refused),
	    cmocka_unit_test(truncated_der_refused),
	    cmocka_unit_test(expired_svid_refused),
	    cmocka_unit_test(other_trust_domain_refused),
	    cmocka_unit_test(key_not_matching_refused),
	    cmocka_unit_test(federated_bundles_loaded),
	};
	int rc;

	if (ward_tls_global_init() < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ward_tls_global_cleanup();
	return rc;
}
