/* `ward server`'s CA building blocks: the certificates it issues pass ward's
 * own X509-SVID checks, chain to their issuer under wolfSSL's verifier, and
 * do not verify against another CA; keys survive PKCS#8, PEM and files. Run
 * from the repo root (uses tests/unit/fixtures/ca.pem as an upstream CA). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "certs/ca.h"
#include "certs/key.h"
#include "certs/svid.h"

#define TD "example.org"
#define HOUR 3600

struct ca {
	struct ward_key *key;
	struct ward_der cert;
	struct ward_ca_signer signer;
};

static time_t now;

static void must(int rc)
{
	if (rc < 0)
		fail_msg("%s (%s)", ward_err_msg(), ward_err_name(rc));
}

static void ca_root(struct ca *ca)
{
	must(ward_key_new(&ca->key));
	must(ward_ca_sign_root(TD, ca->key, now - 10, now + 24 * HOUR, &ca->cert));
	ca->signer = (struct ward_ca_signer){ca->cert.data, ca->cert.len, ca->key};
}

static void ca_free(struct ca *ca)
{
	ward_key_free(ca->key);
	ward_der_free(&ca->cert);
}

static struct ward_spiffe_id id_of(const char *text)
{
	struct ward_spiffe_id id;

	must(ward_spiffe_id_parse(text, strlen(text), &id));
	return id;
}

/* wolfSSL's own path validation: anchors first, then each certificate in
 * order (an intermediate is loaded as a CA once it has verified). */
static int verify(const struct ward_der *anchors, size_t n_anchors, const struct ward_der *chain,
		  size_t n_chain)
{
	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	int rc = WOLFSSL_SUCCESS;

	assert_non_null(cm);
	for (size_t i = 0; i < n_anchors && rc == WOLFSSL_SUCCESS; i++)
		rc = wolfSSL_CertManagerLoadCABuffer(cm, anchors[i].data, (long)anchors[i].len,
						     WOLFSSL_FILETYPE_ASN1);
	assert_int_equal(rc, WOLFSSL_SUCCESS);
	for (size_t i = n_chain; i-- > 0 && rc == WOLFSSL_SUCCESS;) {
		rc = wolfSSL_CertManagerVerifyBuffer(cm, chain[i].data, (long)chain[i].len,
						     WOLFSSL_FILETYPE_ASN1);
		if (rc == WOLFSSL_SUCCESS && i > 0)
			rc = wolfSSL_CertManagerLoadCABuffer(cm, chain[i].data, (long)chain[i].len,
							     WOLFSSL_FILETYPE_ASN1);
	}
	wolfSSL_CertManagerFree(cm);
	return rc == WOLFSSL_SUCCESS ? 0 : -1;
}

static void test_root_is_a_signing_cert(void **state)
{
	struct ward_spiffe_id id;
	struct ward_svid_info info;
	struct ca ca;
	bool has_id;

	ca_root(&ca);
	must(ward_svid_signing_check(ca.cert.data, ca.cert.len, &id, &has_id));
	assert_true(has_id);
	assert_string_equal(id.text, "spiffe://" TD);
	must(ward_svid_info(ca.cert.data, ca.cert.len, &info));
	assert_true(info.is_ca);
	assert_int_equal(info.not_before, now - 10);
	assert_int_equal(info.not_after, now + 24 * HOUR);
	assert_int_equal(strlen(info.serial_hex), 32);
	/* Self-signed: it verifies against itself. */
	assert_int_equal(verify(&ca.cert, 1, &ca.cert, 1), 0);
	/* It cannot pass as a leaf. */
	assert_int_equal(ward_svid_leaf_check(ca.cert.data, ca.cert.len, &id), WARD_ERR_INVALID);
	ca_free(&ca);
}

static void test_svid_passes_leaf_rules_and_verifies(void **state)
{
	struct ward_spiffe_id id = id_of("spiffe://" TD "/ns/default/sa/web"), got;
	struct ward_svid_info info, info2;
	struct ward_key *key;
	struct ward_der leaf, leaf2, chain[2];
	struct ca ca;

	ca_root(&ca);
	must(ward_key_new(&key));
	must(ward_ca_sign_svid(&id, key, &ca.signer, now - 10, now + HOUR, &leaf));
	must(ward_svid_leaf_check(leaf.data, leaf.len, &got));
	assert_string_equal(got.text, id.text);
	chain[0] = leaf;
	chain[1] = ca.cert;
	must(ward_svid_chain_check(chain, 2, &got));
	assert_int_equal(verify(&ca.cert, 1, &leaf, 1), 0);
	assert_true(ward_key_matches_cert(key, leaf.data, leaf.len));
	assert_false(ward_key_matches_cert(ca.key, leaf.data, leaf.len));
	must(ward_svid_info(leaf.data, leaf.len, &info));
	assert_false(info.is_ca);
	assert_int_equal(info.not_after, now + HOUR);
	/* Serials are random: a second SVID for the same ID differs. */
	must(ward_ca_sign_svid(&id, key, &ca.signer, now - 10, now + HOUR, &leaf2));
	must(ward_svid_info(leaf2.data, leaf2.len, &info2));
	assert_string_not_equal(info.serial_hex, info2.serial_hex);
	ward_der_free(&leaf);
	ward_der_free(&leaf2);
	ward_key_free(key);
	ca_free(&ca);
}

static void test_wrong_parent_fails(void **state)
{
	struct ward_spiffe_id id = id_of("spiffe://" TD "/web");
	struct ward_der leaf;
	struct ca ca, other;

	ca_root(&ca);
	ca_root(&other);
	must(ward_ca_sign_svid(&id, ca.key, &ca.signer, now - 10, now + HOUR, &leaf));
	assert_int_equal(verify(&ca.cert, 1, &leaf, 1), 0);
	assert_int_equal(verify(&other.cert, 1, &leaf, 1), -1);
	/* The other CA's key with this CA's certificate: the name links but the
	 * signature does not verify. */
	ward_der_free(&leaf);
	other.signer.cert = ca.cert.data;
	other.signer.cert_len = ca.cert.len;
	must(ward_ca_sign_svid(&id, ca.key, &other.signer, now - 10, now + HOUR, &leaf));
	assert_int_equal(verify(&ca.cert, 1, &leaf, 1), -1);
	ward_der_free(&leaf);
	ca_free(&ca);
	ca_free(&other);
}

static void read_fixture(const char *path, struct ward_pem_certs *certs)
{
	if (ward_pem_certs_load_file(path, certs) < 0)
		fail_msg("%s: %s", path, ward_err_msg());
}

/* The upstream-CA mode: an intermediate under a CA that openssl made (its
 * own subject name), then SVIDs under the intermediate. */
static void test_intermediate_under_upstream(void **state)
{
	struct ward_spiffe_id id = id_of("spiffe://" TD "/db"), got;
	struct ward_pem_certs up;
	struct ward_key *up_key, *mid_key, *leaf_key;
	struct ward_der mid, leaf, chain[3];
	struct ward_ca_signer up_signer, mid_signer;
	bool has_id;

	read_fixture("tests/unit/fixtures/ca.pem", &up);
	must(ward_key_load_file("tests/unit/fixtures/ca.key", &up_key));
	assert_true(ward_key_matches_cert(up_key, up.certs[0].data, up.certs[0].len));
	up_signer = (struct ward_ca_signer){up.certs[0].data, up.certs[0].len, up_key};
	must(ward_key_new(&mid_key));
	must(ward_ca_sign_intermediate(TD, mid_key, &up_signer, now - 10, now + 2 * HOUR, &mid));
	must(ward_svid_signing_check(mid.data, mid.len, &got, &has_id));
	assert_string_equal(got.text, "spiffe://" TD);
	mid_signer = (struct ward_ca_signer){mid.data, mid.len, mid_key};
	must(ward_key_new(&leaf_key));
	must(ward_ca_sign_svid(&id, leaf_key, &mid_signer, now - 10, now + HOUR, &leaf));
	chain[0] = leaf;
	chain[1] = mid;
	must(ward_svid_chain_check(chain, 2, &got));
	assert_int_equal(verify(up.certs, 1, chain, 2), 0);
	/* Without the intermediate the leaf does not reach the upstream root. */
	assert_int_equal(verify(up.certs, 1, &leaf, 1), -1);
	chain[2] = up.certs[0];
	must(ward_svid_chain_check(chain, 3, &got));
	ward_der_free(&leaf);
	ward_der_free(&mid);
	ward_key_free(leaf_key);
	ward_key_free(mid_key);
	ward_key_free(up_key);
	ward_pem_certs_free(&up);
}

static void test_leaf_cannot_issue(void **state)
{
	struct ward_spiffe_id id = id_of("spiffe://" TD "/web");
	struct ward_der leaf, grandchild;
	struct ward_ca_signer leaf_signer;
	struct ca ca;

	ca_root(&ca);
	must(ward_ca_sign_svid(&id, ca.key, &ca.signer, now - 10, now + HOUR, &leaf));
	leaf_signer = (struct ward_ca_signer){leaf.data, leaf.len, ca.key};
	assert_int_equal(
	    ward_ca_sign_svid(&id, ca.key, &leaf_signer, now - 10, now + HOUR, &grandchild),
	    WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "not a CA certificate"));
	assert_null(grandchild.data);
	ward_der_free(&leaf);
	ca_free(&ca);
}

static void test_bad_requests(void **state)
{
	struct ward_spiffe_id root_id = id_of("spiffe://" TD);
	struct ward_der out;
	struct ca ca;

	ca_root(&ca);
	assert_int_equal(ward_ca_sign_svid(&root_id, ca.key, &ca.signer, now, now + HOUR, &out),
			 WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "has no path"));
	assert_int_equal(ward_ca_sign_root(TD, ca.key, now, now, &out), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "not_before must be before not_after"));
	assert_int_equal(ward_ca_sign_root("Example.org", ca.key, now, now + HOUR, &out),
			 WARD_ERR_INVALID);
	assert_null(out.data);
	ca_free(&ca);
}

/* RFC 5280 §4.1.2.5: dates from 2050 on are GeneralizedTime. */
static void test_dates_past_2049(void **state)
{
	struct ward_svid_info info;
	struct ca ca;
	time_t y2051 = 2556143999; /* 2050-12-31T23:59:59Z */

	must(ward_key_new(&ca.key));
	must(ward_ca_sign_root(TD, ca.key, now, y2051, &ca.cert));
	must(ward_svid_info(ca.cert.data, ca.cert.len, &info));
	assert_int_equal(info.not_after, y2051);
	assert_int_equal(info.not_before, now);
	ca_free(&ca);
}

static void test_key_roundtrips(void **state)
{
	char path[] = "/tmp/ward-test-key-XXXXXX";
	struct ward_key *key, *back;
	struct ward_pem_key pem_key;
	struct ward_der der, cert;
	struct stat st;
	char *pem;
	size_t len;
	int fd;

	must(ward_key_new(&key));
	must(ward_ca_sign_root(TD, key, now, now + HOUR, &cert));
	must(ward_key_to_pkcs8(key, &der));
	must(ward_key_from_der("pkcs8", der.data, der.len, &back));
	assert_true(ward_key_matches_cert(back, cert.data, cert.len));
	ward_key_free(back);
	must(ward_key_to_pem(key, &pem, &len));
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	must(ward_pem_key_load("pem", pem, len, &pem_key));
	assert_int_equal(pem_key.format, WARD_PEM_KEY_PKCS8);
	assert_memory_equal(pem_key.der, der.data, der.len);
	ward_pem_key_free(&pem_key);
	ward_key_pem_free(pem, len);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	chmod(path, 0644);
	must(ward_key_write_file(key, path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	must(ward_key_load_file(path, &back));
	assert_true(ward_key_matches_cert(back, cert.data, cert.len));
	ward_key_free(back);
	unlink(path);

	/* SEC 1 ("EC PRIVATE KEY") files load too. */
	must(ward_key_load_file("tests/unit/fixtures/leaf-ec.key", &back));
	assert_false(ward_key_matches_cert(back, cert.data, cert.len));
	ward_key_free(back);
	ward_der_free_secret(&der);
	ward_der_free(&cert);
	ward_key_free(key);
}

static void test_bad_keys(void **state)
{
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	uint8_t der[512];
	word32 len = sizeof(der);
	struct ward_key *key = NULL;
	ecc_key p384;
	WC_RNG rng;
	int n;

	assert_int_equal(ward_key_from_der("junk", junk, sizeof(junk), &key), WARD_ERR_INVALID);
	assert_null(key);
	assert_non_null(strstr(ward_err_msg(), "junk: not an EC private key"));
	assert_int_equal(ward_key_from_der("empty", junk, 0, &key), WARD_ERR_INVALID);
	/* Only P-256. */
	assert_int_equal(wc_InitRng(&rng), 0);
	assert_int_equal(wc_ecc_init(&p384), 0);
	assert_int_equal(wc_ecc_make_key_ex(&rng, 48, &p384, ECC_SECP384R1), 0);
	n = wc_EccKeyToPKCS8(&p384, der, &len);
	assert_true(n > 0);
	assert_int_equal(ward_key_from_der("p384", der, (size_t)n, &key), WARD_ERR_UNSUPPORTED);
	assert_non_null(strstr(ward_err_msg(), "not on curve P-256"));
	wc_ecc_free(&p384);
	wc_FreeRng(&rng);
	assert_int_equal(ward_key_load_file("/nonexistent/key.pem", &key), WARD_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_is_a_signing_cert),
	    cmocka_unit_test(test_svid_passes_leaf_rules_and_verifies),
	    cmocka_unit_test(test_wrong_parent_fails),
	    cmocka_unit_test(test_intermediate_under_upstream),
	    cmocka_unit_test(test_leaf_cannot_issue),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_dates_past_2049),
	    cmocka_unit_test(test_key_roundtrips),
	    cmocka_unit_test(test_bad_keys),
	};

	now = time(NULL);
	wolfSSL_Init();
	int rc = cmocka_run_group_tests_name("ca", tests, NULL, NULL);
	wolfSSL_Cleanup();
	return rc;
}
