/* ECDSA P-256 private keys on wolfCrypt, for `ward server`: its CA keys and
 * the key of every SVID it issues. P-256 because it is what SPIRE issues by
 * default and what every TLS 1.3 peer supports (RFC 8446 §9.1).
 *
 * A key lives in an opaque struct ward_key and leaves it only as PKCS#8
 * (RFC 5958) DER or PEM, in buffers the caller zeroes (ward_der_free_secret).
 * Key files are written 0600, atomically (a temporary file in the same
 * directory, fsync, rename), so a crash never leaves half a key on disk. */
#ifndef WARD_CERTS_KEY_H
#define WARD_CERTS_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "certs/pem.h"

struct ward_key;

/* A fresh P-256 key from wolfCrypt's DRBG. */
int ward_key_new(struct ward_key **out) WARD_MUST_CHECK;
/* Zeroes and frees; NULL is fine. */
void ward_key_free(struct ward_key *key);

/* A P-256 private key from PKCS#8 or SEC 1 (RFC 5915) DER; name is used in
 * reasons. Keys on other curves or of other types are refused. */
int ward_key_from_der(const char *name, const uint8_t *der, size_t len,
		      struct ward_key **out) WARD_MUST_CHECK;
/* The same from a PEM file (certs/pem.h reads it). */
int ward_key_load_file(const char *path, struct ward_key **out) WARD_MUST_CHECK;

/* PKCS#8 DER of the private key (with its public key), as the Workload API's
 * x509_svid_key field carries it. Free with ward_der_free_secret(). */
int ward_key_to_pkcs8(const struct ward_key *key, struct ward_der *out) WARD_MUST_CHECK;
/* "-----BEGIN PRIVATE KEY-----" PEM text, NUL-terminated; free with
 * ward_key_pem_free(). */
int ward_key_to_pem(const struct ward_key *key, char **pem, size_t *len) WARD_MUST_CHECK;
void ward_key_pem_free(char *pem, size_t len);
/* Writes the PEM to path with mode 0600, atomically. */
int ward_key_write_file(const struct ward_key *key, const char *path) WARD_MUST_CHECK;

/* True if the certificate der[0..len) carries this key's public key: a key
 * file and a certificate file reloaded from disk belong together. */
bool ward_key_matches_cert(const struct ward_key *key, const uint8_t *der, size_t len);

void ward_der_free_secret(struct ward_der *der);

/* For certs/ca.c, which signs with the key: the wolfCrypt ecc_key. */
void *ward_key_ecc(const struct ward_key *key);

#endif
