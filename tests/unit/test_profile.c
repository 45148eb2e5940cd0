/* TLS profiles: the two named profiles, explicit lists, every refusal, the
 * reverse names for logs, and that wolfSSL itself accepts what we resolve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "config/config.h"
#include "lib/tls_profile.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Lists point at the caller's arrays; detach() hands the config back clean. */
struct lists {
	const char **suites, **groups, **sigalgs;
	size_t n_suites, n_groups, n_sigalgs;
};

static void attach(struct ward_config *c, const char *profile, const struct lists *l)
{
	assert_int_equal(ward_config_init_defaults(c), 0);
	free(c->tls.profile);
	c->tls.profile = strdup(profile);
	assert_non_null(c->tls.profile);
	c->tls.cipher_suites = (char **)l->suites;
	c->tls.n_cipher_suites = l->n_suites;
	c->tls.groups = (char **)l->groups;
	c->tls.n_groups = l->n_groups;
	c->tls.signature_algorithms = (char **)l->sigalgs;
	c->tls.n_signature_algorithms = l->n_sigalgs;
}

static void detach(struct ward_config *c)
{
	c->tls.cipher_suites = c->tls.groups = c->tls.signature_algorithms = NULL;
	c->tls.n_cipher_suites = c->tls.n_groups = c->tls.n_signature_algorithms = 0;
	ward_config_uninit(c);
}

static void resolve(const char *profile, const struct lists *l, struct ward_tls_policy *out)
{
	struct ward_config c;
	int rc;

	attach(&c, profile, l);
	rc = ward_tls_policy_resolve(&c, out);
	detach(&c);
	if (rc != 0)
		fail_msg("%s: %s", profile, ward_err_msg());
}

static void refused(const char *profile, const struct lists *l, const char *why)
{
	struct ward_tls_policy pol;
	struct ward_config c;
	int rc;

	memset(&pol, 0x5a, sizeof(pol));
	attach(&c, profile, l);
	rc = ward_tls_policy_resolve(&c, &pol);
	detach(&c);
	assert_int_equal(rc, WARD_ERR_INVALID);
	assert_int_equal((unsigned char)pol.cipher_list[0], 0x5a); /* untouched */
	if (!strstr(ward_err_msg(), why))
		fail_msg("reason \"%s\" lacks \"%s\"", ward_err_msg(), why);
}

/* Whether the linked wolfSSL has the hybrid groups, read here from its
 * options.h independently of lib/tls_profile.c. */
#if defined(WOLFSSL_HAVE_MLKEM) && defined(WOLFSSL_PQC_HYBRIDS)
#define PQ true
#else
#define PQ false
#endif

/* What the agent's TLS glue will do with a policy (the contexts' lists and a
 * client session's key shares); fails if wolfSSL refuses. */
static void wolfssl_accepts(const struct ward_tls_policy *pol)
{
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;

	assert_int_equal(wolfSSL_Init(), WOLFSSL_SUCCESS);
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	assert_non_null(ctx);
	assert_int_equal(wolfSSL_CTX_set_cipher_list(ctx, pol->cipher_list), WOLFSSL_SUCCESS);
	assert_int_equal(wolfSSL_CTX_set_groups(ctx, (int *)pol->groups, pol->n_groups),
			 WOLFSSL_SUCCESS);
	assert_int_equal(wolfSSL_CTX_set1_sigalgs_list(ctx, pol->sigalgs), WOLFSSL_SUCCESS);
	ssl = wolfSSL_new(ctx);
	assert_non_null(ssl);
	for (int i = 0; i < pol->n_key_shares; i++)
		assert_int_equal(wolfSSL_UseKeyShare(ssl, (word16)pol->key_shares[i]),
				 WOLFSSL_SUCCESS);
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	wolfSSL_Cleanup();
}

static void groups_are(const struct ward_tls_policy *pol, int n, const int *want)
{
	assert_int_equal(pol->n_groups, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(pol->groups[i], want[i]);
}

static void shares_are(const struct ward_tls_policy *pol, int first, int second)
{
	assert_int_equal(pol->n_key_shares, second ? 2 : 1);
	assert_int_equal(pol->key_shares[0], first);
	if (second)
		assert_int_equal(pol->key_shares[1], second);
}

/* modern: X25519MLKEM768 first, then X25519 and P-256; a share for the
 * hybrid and one for X25519. Without ML-KEM the hybrid is left out. */
static void test_modern(void **state)
{
	static const int pq[] = {WARD_TLS_X25519MLKEM768, WOLFSSL_ECC_X25519,
				 WOLFSSL_ECC_SECP256R1};
	struct lists none = {0};
	struct ward_tls_policy pol;

	assert_int_equal(ward_tls_pq_supported(), PQ);
	resolve("modern", &none, &pol);
	assert_string_equal(pol.cipher_list, "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
					     "TLS13-CHACHA20-POLY1305-SHA256");
	if (PQ) {
		groups_are(&pol, 3, pq);
		shares_are(&pol, WARD_TLS_X25519MLKEM768, WOLFSSL_ECC_X25519);
		assert_int_equal(pol.n_pq_unavailable, 0);
	} else {
		groups_are(&pol, 2, pq + 1);
		shares_are(&pol, WOLFSSL_ECC_X25519, 0);
		assert_int_equal(pol.n_pq_unavailable, 1);
	}
	assert_string_equal(pol.sigalgs, "ECDSA+SHA256:ECDSA+SHA384:RSA-PSS+SHA256");
	wolfssl_accepts(&pol);
}

/* fips: SecP256r1MLKEM768 first, then P-256 and P-384. */
static void test_fips(void **state)
{
	static const int pq[] = {WARD_TLS_SECP256R1MLKEM768, WOLFSSL_ECC_SECP256R1,
				 WOLFSSL_ECC_SECP384R1};
	struct lists none = {0};
	struct ward_tls_policy pol;

	resolve("fips", &none, &pol);
	assert_string_equal(pol.cipher_list, "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384");
	if (PQ) {
		groups_are(&pol, 3, pq);
		shares_are(&pol, WARD_TLS_SECP256R1MLKEM768, WOLFSSL_ECC_SECP256R1);
	} else {
		groups_are(&pol, 2, pq + 1);
		shares_are(&pol, WOLFSSL_ECC_SECP256R1, 0);
		assert_int_equal(pol.n_pq_unavailable, 1);
	}
	assert_string_equal(pol.sigalgs, "ECDSA+SHA256:ECDSA+SHA384");
	wolfssl_accepts(&pol);
}

/* Explicit lists take IANA's names (any case) and get the same key-share
 * rule; a hybrid group on a build without ML-KEM is an error naming it. */
static void test_explicit_pq(void **state)
{
	const char *pq_late[] = {"P-384", "x25519mlkem768", "x25519"};
	const char *all_pq[] = {"SecP384r1MLKEM1024", "X25519MLKEM768"};
	const char *classic[] = {"x25519", "secp256r1"};
	const char *fips_hybrids[] = {"SecP384r1MLKEM1024", "SecP256r1MLKEM768", "P-256"};
	const char *fips_x25519[] = {"X25519MLKEM768"};
	const char *dup[] = {"X25519MLKEM768", "x25519MLKEM768"};
	struct lists l;
	struct ward_tls_policy pol;

	l = (struct lists){.groups = classic, .n_groups = N(classic)};
	resolve("modern", &l, &pol);
	shares_are(&pol, WOLFSSL_ECC_X25519, 0);
	assert_int_equal(pol.n_pq_unavailable, 0);
	l = (struct lists){.groups = fips_x25519, .n_groups = 1};
	refused("fips", &l,
		"tls.groups[0]: \"X25519MLKEM768\" is not allowed by tls.profile \"fips\"");
	l = (struct lists){.groups = pq_late, .n_groups = N(pq_late)};
	if (!PQ) {
		refused("modern", &l,
			"tls.groups[1]: \"x25519mlkem768\" is a post-quantum hybrid group and "
			"this build of ward has no ML-KEM");
		return;
	}
	resolve("modern", &l, &pol);
	shares_are(&pol, WOLFSSL_ECC_SECP384R1, WARD_TLS_X25519MLKEM768);
	wolfssl_accepts(&pol);
	l = (struct lists){.groups = all_pq, .n_groups = N(all_pq)};
	resolve("modern", &l, &pol);
	shares_are(&pol, WARD_TLS_SECP384R1MLKEM1024, 0); /* no classic group to share */
	wolfssl_accepts(&pol);
	l = (struct lists){.groups = fips_hybrids, .n_groups = N(fips_hybrids)};
	resolve("fips", &l, &pol);
	shares_are(&pol, WARD_TLS_SECP384R1MLKEM1024, WOLFSSL_ECC_SECP256R1);
	wolfssl_accepts(&pol);
	l = (struct lists){.groups = dup, .n_groups = 2};
	refused("modern", &l, "tls.groups[1]: \"x25519MLKEM768\" is listed twice");
}

static void test_explicit(void **state)
{
	const char *suites[] = {"TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"};
	const char *groups[] = {"P-384", "X25519", "secp256r1"};
	const char *sigalgs[] = {"rsa_pss_rsae_sha256", "rsa_pss_pss_sha256",
				 "ecdsa_secp384r1_sha384"};
	struct lists l = {suites, groups, sigalgs, N(suites), N(groups), N(sigalgs)};
	struct lists only_groups = {NULL, groups, NULL, 0, 1, 0};
	struct ward_tls_policy pol;

	resolve("modern", &l, &pol);
	assert_string_equal(pol.cipher_list,
			    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256");
	assert_int_equal(pol.n_groups, 3);
	assert_int_equal(pol.groups[0], WOLFSSL_ECC_SECP384R1);
	assert_int_equal(pol.groups[1], WOLFSSL_ECC_X25519);
	assert_int_equal(pol.groups[2], WOLFSSL_ECC_SECP256R1);
	/* rsae and pss share wolfSSL's RSA-PSS token. */
	assert_string_equal(pol.sigalgs, "RSA-PSS+SHA256:ECDSA+SHA384");
	wolfssl_accepts(&pol);

	/* Each list overrides on its own; the others stay the profile's. */
	resolve("fips", &only_groups, &pol);
	assert_string_equal(pol.cipher_list, "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384");
	assert_int_equal(pol.n_groups, 1);
	assert_int_equal(pol.groups[0], WOLFSSL_ECC_SECP384R1);
	assert_string_equal(pol.sigalgs, "ECDSA+SHA256:ECDSA+SHA384");
}

static void test_refused_names(void **state)
{
	const char *unknown[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_999_GCM"};
	const char *tls12[] = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
	const char *openssl[] = {"ECDHE-ECDSA-AES128-GCM-SHA256"};
	const char *ccm[] = {"TLS_AES_128_CCM_SHA256"};
	const char *dup_suite[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"};
	const char *chacha[] = {"TLS_CHACHA20_POLY1305_SHA256"};
	const char *bad_group[] = {"ffdhe2048"};
	const char *dup_group[] = {"P-256", "secp256r1"};
	const char *many_groups[] = {"x25519", "P-256",	 "P-384", "x25519", "P-256",
				     "P-384",  "x25519", "P-256", "P-384"};
	const char *pkcs1[] = {"ecdsa_secp256r1_sha256", "rsa_pkcs1_sha256"};
	const char *bad_sig[] = {"ecdsa_p256"};
	const char *rsa_fips[] = {"ed448"};
	struct lists l;

	l = (struct lists){.suites = unknown, .n_suites = 2};
	refused("modern", &l, "tls.cipher_suites[1]: unknown cipher suite \"TLS_AES_999_GCM\"");
	l = (struct lists){.suites = tls12, .n_suites = 1};
	refused("modern", &l,
		"tls.cipher_suites[0]: \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\" is a TLS 1.2 "
		"cipher suite; ward is TLS 1.3 only");
	l = (struct lists){.suites = openssl, .n_suites = 1};
	refused("modern", &l, "tls.cipher_suites[0]: unknown cipher suite");
	l = (struct lists){.suites = ccm, .n_suites = 1};
	refused("modern", &l, "tls.cipher_suites[0]: \"TLS_AES_128_CCM_SHA256\" is not supported");
	l = (struct lists){.suites = dup_suite, .n_suites = 2};
	refused("modern", &l, "tls.cipher_suites[1]: \"TLS_AES_128_GCM_SHA256\" is listed twice");
	l = (struct lists){.suites = chacha, .n_suites = 1};
	refused("fips", &l,
		"tls.cipher_suites[0]: \"TLS_CHACHA20_POLY1305_SHA256\" is not "
		"allowed by tls.profile \"fips\"");
	l = (struct lists){.groups = bad_group, .n_groups = 1};
	refused("modern", &l, "tls.groups[0]: unknown group \"ffdhe2048\"");
	l = (struct lists){.groups = dup_group, .n_groups = 2};
	refused("modern", &l, "tls.groups[1]: \"secp256r1\" is listed twice");
	l = (struct lists){.groups = many_groups, .n_groups = N(many_groups)};
	refused("modern", &l, "tls.groups[3]: \"x25519\" is listed twice");
	l = (struct lists){.sigalgs = pkcs1, .n_sigalgs = 2};
	refused("modern", &l,
		"tls.signature_algorithms[1]: \"rsa_pkcs1_sha256\" is a TLS 1.2 "
		"signature algorithm; ward is TLS 1.3 only");
	l = (struct lists){.sigalgs = bad_sig, .n_sigalgs = 1};
	refused("modern", &l, "tls.signature_algorithms[0]: unknown signature algorithm");
	l = (struct lists){.sigalgs = rsa_fips, .n_sigalgs = 1};
	refused("fips", &l, "tls.signature_algorithms[0]: \"ed448\"");
	l = (struct lists){0};
	refused("legacy", &l, "tls.profile: must be one of modern, fips (got \"legacy\")");
}

/* Ed25519 is accepted exactly when the linked wolfSSL has it (Debian's does,
 * the assembly build does not), and never by "fips". */
static void test_ed25519(void **state)
{
	const char *ed[] = {"ed25519"};
	struct lists l = {.sigalgs = ed, .n_sigalgs = 1};
#ifdef HAVE_ED25519
	struct ward_tls_policy pol;

	resolve("modern", &l, &pol);
	assert_string_equal(pol.sigalgs, "ED25519");
	wolfssl_accepts(&pol);
	refused("fips", &l, "tls.signature_algorithms[0]: \"ed25519\"");
#else
	refused("modern", &l, "\"ed25519\" is not supported by this wolfSSL build");
#endif
}

static void test_reverse_names(void **state)
{
	assert_string_equal(ward_tls_cipher_iana("TLS13-AES128-GCM-SHA256"),
			    "TLS_AES_128_GCM_SHA256");
	assert_string_equal(ward_tls_cipher_iana("TLS13-AES256-GCM-SHA384"),
			    "TLS_AES_256_GCM_SHA384");
	assert_string_equal(ward_tls_cipher_iana("TLS13-CHACHA20-POLY1305-SHA256"),
			    "TLS_CHACHA20_POLY1305_SHA256");
	assert_string_equal(ward_tls_cipher_iana("SOMETHING"), "SOMETHING");
	assert_string_equal(ward_tls_cipher_iana(NULL), "none");
	assert_string_equal(ward_tls_group_name(WOLFSSL_ECC_X25519), "x25519");
	assert_string_equal(ward_tls_group_name(WOLFSSL_ECC_SECP256R1), "secp256r1");
	assert_string_equal(ward_tls_group_name(WOLFSSL_ECC_SECP384R1), "secp384r1");
	assert_string_equal(ward_tls_group_name(WOLFSSL_FFDHE_2048), "ffdhe2048");
	assert_string_equal(ward_tls_group_name(12345), "unknown");
	assert_string_equal(ward_tls_group_iana("X25519"), "x25519");
	assert_string_equal(ward_tls_group_iana("SECP384R1"), "secp384r1");
	assert_string_equal(ward_tls_group_iana("FFDHE_3072"), "ffdhe3072");
	assert_string_equal(ward_tls_group_iana(NULL), "none");
	/* the hybrids as IANA spells them, on every build */
	assert_string_equal(ward_tls_group_name(0x11EC), "X25519MLKEM768");
	assert_string_equal(ward_tls_group_name(0x11EB), "SecP256r1MLKEM768");
	assert_string_equal(ward_tls_group_name(0x11ED), "SecP384r1MLKEM1024");
	assert_string_equal(ward_tls_group_iana("X25519MLKEM768"), "X25519MLKEM768");
	assert_string_equal(ward_tls_group_iana("secp256r1mlkem768"), "SecP256r1MLKEM768");
	assert_true(ward_tls_group_is_pq(WARD_TLS_X25519MLKEM768));
	assert_false(ward_tls_group_is_pq(WOLFSSL_ECC_X25519));
#if PQ
	assert_int_equal(WOLFSSL_X25519MLKEM768, 0x11EC);
	assert_int_equal(WOLFSSL_SECP256R1MLKEM768, 0x11EB);
	assert_int_equal(WOLFSSL_SECP384R1MLKEM1024, 0x11ED);
#endif
}

/* The IANA name for every suite wolfSSL can negotiate under our profiles
 * agrees with wolfSSL's own table. */
static void test_reverse_matches_wolfssl(void **state)
{
	static const struct {
		unsigned char b0, b1;
	} ids[] = {{0x13, 0x01}, {0x13, 0x02}, {0x13, 0x03}};
	size_t i;

	for (i = 0; i < N(ids); i++) {
		const char *wolf = wolfSSL_get_cipher_name_from_suite(ids[i].b0, ids[i].b1);
		const char *iana = wolfSSL_get_cipher_name_iana_from_suite(ids[i].b0, ids[i].b1);

		assert_non_null(wolf);
		assert_non_null(iana);
		assert_string_equal(ward_tls_cipher_iana(wolf), iana);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_modern),	  cmocka_unit_test(test_fips),
	    cmocka_unit_test(test_explicit),	  cmocka_unit_test(test_explicit_pq),
	    cmocka_unit_test(test_refused_names), cmocka_unit_test(test_ed25519),
	    cmocka_unit_test(test_reverse_names), cmocka_unit_test(test_reverse_matches_wolfssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
