/* X509-SVID rules and PEM loading on the fixtures of tests/unit/fixtures
 * (regenerate with tests/unit/fixtures/make.sh). Run from the repo root. */
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
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "certs/pem.h"
#include "certs/svid.h"

#define FIX "tests/unit/fixtures/"

static struct ward_spiffe_id id;

static struct ward_pem_certs load(const char *name)
{
	struct ward_pem_certs c;
	char path[256];

	snprintf(path, sizeof(path), FIX "%s", name);
	if (ward_pem_certs_load_file(path, &c) != 0)
		fail_msg("%s: %s", path, ward_err_msg());
	return c;
}

static int leaf(const char *name)
{
	struct ward_pem_certs c = load(name);
	int rc;

	ward_err_clear();
	rc = ward_svid_leaf_check(c.certs[0].data, c.certs[0].len, &id);
	ward_pem_certs_free(&c);
	return rc;
}

static void leaf_refused(const char *name, const char *why)
{
	assert_int_equal(leaf(name), WARD_ERR_INVALID);
	assert_int_equal(id.len, 0);
	if (!strstr(ward_err_msg(), why))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", name, ward_err_msg(), why);
}

static void test_leaf_good(void **state)
{
	static const char *good[] = {"good.pem", "no-eku.pem", "no-bc.pem", "expired.pem"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (leaf(good[i]) != 0)
			fail_msg("%s: %s", good[i], ward_err_msg());
		assert_string_equal(id.text, "spiffe://example.org/ns/default/sa/web");
	}
	/* DNS SANs beside the one URI SAN are allowed (X509-SVID §2). */
	assert_int_equal(leaf("with-dns.pem"), 0);
	assert_string_equal(id.text, "spiffe://example.org/web");
}

static void test_leaf_san(void **state)
{
	leaf_refused("two-uris.pem", "has 2 URI SANs");
	leaf_refused("no-san.pem", "has no URI SAN");
	leaf_refused("dns-only.pem", "has no URI SAN");
	leaf_refused("https-uri.pem", "scheme is not");
	leaf_refused("bad-id.pem", "trust domain has an uppercase letter");
	leaf_refused("root-id.pem", "has no path");
	assert_string_equal(ward_err_msg(),
			    "leaf SVID: SPIFFE ID \"spiffe://example.org\" has no path, "
			    "a leaf's must (X509-SVID §3.1)");
}

static void test_leaf_ca(void **state)
{
	leaf_refused("ca.pem", "cA must be false");
	leaf_refused("leaf-ca.pem", "cA must be false");
	leaf_refused("intermediate.pem", "cA must be false");
}

static void test_leaf_key_usage(void **state)
{
	leaf_refused("ku-missing.pem", "key usage extension is missing (X509-SVID §4.3)");
	leaf_refused("ku-noncritical.pem", "key usage extension must be critical");
	leaf_refused("ku-no-digsig.pem", "must have digitalSignature");
	leaf_refused("ku-certsign.pem", "must not have keyCertSign");
	leaf_refused("ku-crlsign.pem", "must not have cRLSign");
	leaf_refused("eku-server.pem", "both serverAuth and clientAuth (X509-SVID §4.4)");
}

static int signing(const char *name, bool *has_id)
{
	struct ward_pem_certs c = load(name);
	int rc;

	ward_err_clear();
	rc = ward_svid_signing_check(c.certs[0].data, c.certs[0].len, &id, has_id);
	ward_pem_certs_free(&c);
	return rc;
}

static void test_signing(void **state)
{
	bool has_id;

	assert_int_equal(signing("ca.pem", &has_id), 0);
	assert_true(has_id);
	assert_string_equal(id.text, "spiffe://example.org");
	assert_int_equal(signing("intermediate.pem", &has_id), 0);

	assert_int_equal(signing("good.pem", &has_id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "cA must be true"));
	assert_int_equal(signing("no-bc.pem", &has_id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "cA must be true"));
	assert_int_equal(signing("ca-not-ca.pem", &has_id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "cA must be true"));
	assert_int_equal(signing("ca-no-certsign.pem", &has_id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "must have keyCertSign"));
	assert_int_equal(signing("ca-with-path.pem", &has_id), WARD_ERR_INVALID);
	assert_false(has_id);
	assert_non_null(strstr(ward_err_msg(), "must not have a path (X509-SVID §3.2)"));
}

static void test_chain(void **state)
{
	struct ward_pem_certs c = load("good-chain.pem");
	struct ward_der swapped[2];

	assert_int_equal(c.count, 2);
	assert_int_equal(ward_svid_chain_check(c.certs, c.count, &id), 0);
	assert_string_equal(id.text, "spiffe://example.org/ns/default/sa/web");
	swapped[0] = c.certs[1];
	swapped[1] = c.certs[0];
	assert_int_equal(ward_svid_chain_check(swapped, 2, &id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "certificate 1: leaf SVID: "));
	swapped[0] = c.certs[0];
	assert_int_equal(ward_svid_chain_check(swapped, 2, &id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "certificate 2: signing certificate: "));
	assert_int_equal(id.len, 0);
	assert_int_equal(ward_svid_chain_check(c.certs, 0, &id), WARD_ERR_INVALID);
	ward_pem_certs_free(&c);
}

static void test_garbage_der(void **state)
{
	static const uint8_t junk[] = {0x30, 0x82, 0x01, 0x00, 0x02, 0x01};
	struct ward_pem_certs c = load("good.pem");
	struct ward_svid_info info;
	bool has_id;

	assert_int_equal(ward_svid_leaf_check(junk, sizeof(junk), &id), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "does not parse"));
	assert_int_equal(ward_svid_leaf_check(junk, 0, &id), WARD_ERR_INVALID);
	assert_int_equal(ward_svid_signing_check(junk, sizeof(junk), &id, &has_id),
			 WARD_ERR_INVALID);
	assert_int_equal(ward_svid_info(junk, sizeof(junk), &info), WARD_ERR_INVALID);
	/* Every truncation of a good certificate is refused, never read past. */
	for (size_t n = 1; n < c.certs[0].len; n++) {
		uint8_t *cut = malloc(n);

		memcpy(cut, c.certs[0].data, n);
		assert_int_equal(ward_svid_leaf_check(cut, n, &id), WARD_ERR_INVALID);
		free(cut);
	}
	ward_pem_certs_free(&c);
}

/* Dates as openssl prints them: expired.pem is 2000-01-01..2001-01-01 UTC. */
static void test_info(void **state)
{
	struct ward_pem_certs c = load("expired.pem");
	struct ward_svid_info info;

	assert_int_equal(ward_svid_info(c.certs[0].data, c.certs[0].len, &info), 0);
	assert_int_equal(info.not_before, 946684800);
	assert_int_equal(info.not_after, 978307200);
	assert_string_equal(info.serial_hex, "1000");
	assert_false(info.is_ca);
	ward_pem_certs_free(&c);

	c = load("good.pem");
	assert_int_equal(ward_svid_info(c.certs[0].data, c.certs[0].len, &info), 0);
	/* 100 years: notAfter is a GeneralizedTime past 2050. */
	assert_true(info.not_after - info.not_before > (time_t)99 * 365 * 86400);
	assert_true(info.not_before < time(NULL));
	assert_true(strlen(info.serial_hex) >= 2 && strlen(info.serial_hex) % 2 == 0);
	ward_pem_certs_free(&c);

	c = load("ca.pem");
	assert_int_equal(ward_svid_info(c.certs[0].data, c.certs[0].len, &info), 0);
	assert_true(info.is_ca);
	ward_pem_certs_free(&c);
}

static void test_pem_certs(void **state)
{
	static const char bad[] = "junk before\n"
				  "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
	struct ward_pem_certs c = load("good-chain.pem");
	char *text;

	assert_int_equal(c.count, 2);
	ward_pem_certs_free(&c);
	ward_pem_certs_free(&c); /* idempotent */

	assert_int_equal(ward_pem_certs_load_file(FIX "leaf.key", &c), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), FIX "leaf.key: no CERTIFICATE block");
	assert_int_equal(ward_pem_certs_load_file(FIX "missing.pem", &c), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "missing.pem: No such file"));
	assert_int_equal(ward_pem_certs_load("svid.pem", "", 0, &c), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "svid.pem: no CERTIFICATE block");
	assert_int_equal(ward_pem_certs_load("svid.pem", bad, sizeof(bad) - 1, &c),
			 WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "svid.pem: CERTIFICATE block 1 does not decode"));
	assert_null(c.certs);

	/* An unterminated block, and a block cut mid-way. */
	text = strdup("-----BEGIN CERTIFICATE-----\nMIIB\n");
	assert_int_equal(ward_pem_certs_load("svid.pem", text, strlen(text), &c), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "not terminated"));
	free(text);
}

/* The DER is what wolfSSL's key decoder takes, in both PEM forms. */
static void key_decodes(const struct ward_pem_key *k)
{
	ecc_key key;
	word32 idx = 0;

	assert_int_equal(wc_ecc_init(&key), 0);
	assert_int_equal(wc_EccPrivateKeyDecode(k->der, &idx, &key, (word32)k->len), 0);
	wc_ecc_free(&key);
}

static void test_pem_key(void **state)
{
	struct ward_pem_key k;
	static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
				  "-----END ENCRYPTED PRIVATE KEY-----\n";

	assert_int_equal(ward_pem_key_load_file(FIX "leaf.key", &k), 0);
	assert_int_equal(k.format, WARD_PEM_KEY_PKCS8);
	assert_true(k.len > 32 && k.der[0] == 0x30);
	key_decodes(&k);
	ward_pem_key_free(&k);
	ward_pem_key_free(&k); /* idempotent */
	assert_null(k.der);

	assert_int_equal(ward_pem_key_load_file(FIX "leaf-ec.key", &k), 0);
	assert_int_equal(k.format, WARD_PEM_KEY_EC);
	key_decodes(&k);
	ward_pem_key_free(&k);

	assert_int_equal(ward_pem_key_load_file(FIX "good.pem", &k), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), FIX "good.pem: not a PEM private key");
	assert_int_equal(ward_pem_key_load("key.pem", "hello", 5, &k), WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(), "key.pem: not a PEM private key");
	assert_int_equal(ward_pem_key_load("key.pem", enc, sizeof(enc) - 1, &k),
			 WARD_ERR_UNSUPPORTED);
	assert_non_null(strstr(ward_err_msg(), "encrypted"));
	assert_null(k.der);
}

/* A key file open to group/others loads, flagged for a warning (pem.h). */
static void test_pem_key_mode(void **state)
{
	char path[] = "/tmp/ward-test-key-XXXXXX";
	struct ward_pem_key k;
	FILE *f;
	int fd = mkstemp(path);
	char text[1024];
	size_t n;

	assert_true(fd >= 0);
	f = fopen(FIX "leaf.key", "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);

	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ward_pem_key_load_file(path, &k), 0);
	assert_false(k.mode_too_open);
	ward_pem_key_free(&k);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ward_pem_key_load_file(path, &k), 0);
	assert_true(k.mode_too_open);
	ward_pem_key_free(&k);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_leaf_good),	 cmocka_unit_test(test_leaf_san),
	    cmocka_unit_test(test_leaf_ca),	 cmocka_unit_test(test_leaf_key_usage),
	    cmocka_unit_test(test_signing),	 cmocka_unit_test(test_chain),
	    cmocka_unit_test(test_garbage_der),	 cmocka_unit_test(test_info),
	    cmocka_unit_test(test_pem_certs),	 cmocka_unit_test(test_pem_key),
	    cmocka_unit_test(test_pem_key_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
