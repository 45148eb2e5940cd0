/* ECDSA P-256 keys on wolfCrypt; see key.h. */
#include "certs/key.h"

#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include "lib/file.h"

#define P256_BYTES 32
#define SPKI_MAX 128 /* SubjectPublicKeyInfo of a P-256 key is 91 bytes */

struct ward_key {
	ecc_key ecc;
};

static int alloc_key(struct ward_key **out)
{
	struct ward_key *k = calloc(1, sizeof(*k));

	ENSURE(k, WARD_ERR_NOMEM, "key: out of memory");
	if (wc_ecc_init(&k->ecc) != 0) {
		free(k);
		return ward_err_set(WARD_ERR_TLS, "key: wolfCrypt cannot initialise an EC key");
	}
	*out = k;
	return 0;
}

void ward_key_free(struct ward_key *key)
{
	if (!key)
		return;
	wc_ecc_free(&key->ecc);
	explicit_bzero(key, sizeof(*key));
	free(key);
}

int ward_key_new(struct ward_key **out)
{
	struct ward_key *k;
	WC_RNG rng;
	int rc;

	*out = NULL;
	GUARD(alloc_key(&k));
	if (wc_InitRng(&rng) != 0) {
		ward_key_free(k);
		return ward_err_set(WARD_ERR_TLS, "key: wolfCrypt's random generator failed");
	}
	rc = wc_ecc_make_key_ex(&rng, P256_BYTES, &k->ecc, ECC_SECP256R1);
	wc_FreeRng(&rng);
	if (rc != 0) {
		ward_key_free(k);
		return ward_err_set(WARD_ERR_TLS,
				    "key: P-256 key generation failed (wolfSSL error %d)", rc);
	}
	*out = k;
	return 0;
}

int ward_key_from_der(const char *name, const uint8_t *der, size_t len, struct ward_key **out)
{
	struct ward_key *k;
	word32 idx = 0;
	int rc;

	*out = NULL;
	ENSURE(der && len > 0 && len <= WARD_PEM_KEY_MAX_BYTES, WARD_ERR_INVALID,
	       "%s: not a private key (length %zu)", name, len);
	GUARD(alloc_key(&k));
	/* Takes SEC 1 and skips a PKCS#8 wrapper when there is one. */
	rc = wc_EccPrivateKeyDecode(der, &idx, &k->ecc, (word32)len);
	if (rc != 0) {
		ward_key_free(k);
		return ward_err_set(WARD_ERR_INVALID,
				    "%s: not an EC private key (wolfSSL error %d)", name, rc);
	}
	if (k->ecc.dp == NULL || k->ecc.dp->id != ECC_SECP256R1) {
		ward_key_free(k);
		return ward_err_set(WARD_ERR_UNSUPPORTED, "%s: EC key is not on curve P-256", name);
	}
	/* A key file without its public half gets it computed, so that
	 * certificates can be made and matched from it. */
	if (k->ecc.type == ECC_PRIVATEKEY_ONLY && wc_ecc_make_pub(&k->ecc, NULL) != 0) {
		ward_key_free(k);
		return ward_err_set(WARD_ERR_INVALID, "%s: cannot derive the public key", name);
	}
	*out = k;
	return 0;
}

int ward_key_load_file(const char *path, struct ward_key **out)
{
	struct ward_pem_key pem;
	int rc;

	*out = NULL;
	GUARD(ward_pem_key_load_file(path, &pem));
	rc = ward_key_from_der(path, pem.der, pem.len, out);
	ward_pem_key_free(&pem);
	return rc;
}

int ward_key_to_pkcs8(const struct ward_key *key, struct ward_der *out)
{
	word32 len = 0;
	int rc;

	out->data = NULL;
	out->len = 0;
	/* Sized exactly, so that ward_der_free_secret() zeroes all of it. */
	ENSURE(wc_EccKeyToPKCS8((ecc_key *)&key->ecc, NULL, &len) == LENGTH_ONLY_E && len > 0,
	       WARD_ERR_TLS, "key: PKCS#8 encoding failed");
	out->data = malloc(len);
	ENSURE(out->data, WARD_ERR_NOMEM, "key: out of memory");
	out->len = len;
	rc = wc_EccKeyToPKCS8((ecc_key *)&key->ecc, out->data, &len);
	if (rc <= 0) {
		ward_der_free_secret(out);
		return ward_err_set(WARD_ERR_TLS, "key: PKCS#8 encoding failed (wolfSSL error %d)",
				    rc);
	}
	out->len = (size_t)rc;
	return 0;
}

int ward_key_to_pem(const struct ward_key *key, char **pem, size_t *len)
{
	struct ward_der der;
	int rc;

	*pem = NULL;
	GUARD(ward_key_to_pkcs8(key, &der));
	rc = ward_pem_encode(WARD_PEM_PRIVATE_KEY, der.data, der.len, pem, len);
	ward_der_free_secret(&der);
	return rc;
}

void ward_key_pem_free(char *pem, size_t len)
{
	if (pem)
		explicit_bzero(pem, len);
	free(pem);
}

int ward_key_write_file(const struct ward_key *key, const char *path)
{
	char *pem;
	size_t len;
	int rc;

	GUARD(ward_key_to_pem(key, &pem, &len));
	rc = ward_file_write_atomic(path, pem, len, 0600);
	ward_key_pem_free(pem, len);
	return rc;
}

bool ward_key_matches_cert(const struct ward_key *key, const uint8_t *der, size_t len)
{
	uint8_t spki[SPKI_MAX];
	DecodedCert dc;
	bool same;
	int n;

	n = wc_EccPublicKeyToDer((ecc_key *)&key->ecc, spki, sizeof(spki), 1);
	if (n <= 0 || !der || len == 0)
		return false;
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	/* wolfSSL keeps the certificate's whole SubjectPublicKeyInfo. */
	same = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0 && dc.publicKey &&
	       dc.pubKeySize == (word32)n && !memcmp(dc.publicKey, spki, (size_t)n);
	wc_FreeDecodedCert(&dc);
	return same;
}

void ward_der_free_secret(struct ward_der *der)
{
	if (der->data)
		explicit_bzero(der->data, der->len);
	free(der->data);
	der->data = NULL;
	der->len = 0;
}

void *ward_key_ecc(const struct ward_key *key)
{
	return (void *)&key->ecc;
}
