/* PEM files to DER, on wolfSSL's decoder (RFC 7468 textual encodings).
 *
 * Certificates: a file or buffer of one or more "CERTIFICATE" blocks (an SVID
 * chain, leaf first, or a trust bundle) becomes a list of DER blobs in file
 * order. Blocks of other types in the same file are skipped, as other PEM
 * tools do; text around the blocks is ignored. Only the PEM layer is decoded
 * here: the DER is parsed and judged by certs/svid.h.
 *
 * Private keys: one "PRIVATE KEY" (PKCS#8, RFC 5958), "EC PRIVATE KEY"
 * (SEC 1, RFC 5915) or "RSA PRIVATE KEY" (PKCS#1) block becomes DER that
 * wolfSSL_CTX_use_PrivateKey_buffer(..., WOLFSSL_FILETYPE_ASN1) accepts.
 * Encrypted keys are refused: the agent has no passphrase to give.
 * Every buffer that held key material (the file text and the DER) is zeroed
 * before it is freed.
 *
 * Key file permissions: a key file readable or writable by group or others is
 * loaded, and reported in ward_pem_key.mode_too_open for the caller to log a
 * warning. It is not refused because Kubernetes Secret volumes (where
 * cert-manager and spiffe-helper users keep SVIDs) default to mode 0644, and
 * the sidecar is usually the only process of its uid in its pod.
 *
 * Reasons name the file ("svid.pem: no CERTIFICATE block"); for buffers the
 * caller passes the name to use. */
#ifndef WARD_CERTS_PEM_H
#define WARD_CERTS_PEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define WARD_PEM_CERTS_MAX_BYTES (1024 * 1024) /* a bundle of a few hundred certs */
#define WARD_PEM_KEY_MAX_BYTES (64 * 1024)

struct ward_der {
	uint8_t *data; /* owned (malloc) */
	size_t len;
};

struct ward_pem_certs {
	struct ward_der *certs; /* owned array of count blobs, in file order */
	size_t count;		/* >= 1 after a successful load */
};

enum ward_pem_key_format {
	WARD_PEM_KEY_PKCS8, /* "PRIVATE KEY" */
	WARD_PEM_KEY_EC,    /* "EC PRIVATE KEY" */
	WARD_PEM_KEY_RSA,   /* "RSA PRIVATE KEY" */
};

struct ward_pem_key {
	uint8_t *der; /* owned; zeroed by ward_pem_key_free() */
	size_t len;
	enum ward_pem_key_format format; /* the PEM label it came from */
	bool mode_too_open;		 /* file mode has group/other bits (see above) */
};

/* Reads every CERTIFICATE block of the file at path into *out (which the call
 * initialises). WARD_ERR_IO if the file cannot be read, WARD_ERR_RANGE if it
 * is larger than WARD_PEM_CERTS_MAX_BYTES, WARD_ERR_INVALID if it holds no
 * CERTIFICATE block or a block does not decode. */
int ward_pem_certs_load_file(const char *path, struct ward_pem_certs *out) WARD_MUST_CHECK;

/* The same for pem[0..len), not necessarily NUL-terminated; name is used in
 * reasons only. */
int ward_pem_certs_load(const char *name, const char *pem, size_t len,
			struct ward_pem_certs *out) WARD_MUST_CHECK;

/* Frees every blob and resets *certs to empty; safe to call twice. */
void ward_pem_certs_free(struct ward_pem_certs *certs);

/* Reads the first private key block of the file at path into *out (which the
 * call initialises), and sets out->mode_too_open from the file's mode. Errors
 * as for certificates, with WARD_ERR_UNSUPPORTED for an encrypted key. */
int ward_pem_key_load_file(const char *path, struct ward_pem_key *out) WARD_MUST_CHECK;

/* The same for pem[0..len); mode_too_open is false. */
int ward_pem_key_load(const char *name, const char *pem, size_t len,
		      struct ward_pem_key *out) WARD_MUST_CHECK;

/* Zeroes and frees the key and resets *key to empty; safe to call twice. */
void ward_pem_key_free(struct ward_pem_key *key);

/* DER to PEM, for the certificates and keys `ward server` writes. */
enum ward_pem_label {
	WARD_PEM_CERTIFICATE, /* "CERTIFICATE" */
	WARD_PEM_PRIVATE_KEY, /* "PRIVATE KEY": der is PKCS#8 */
};

/* Encodes der[0..len) as one PEM block into a malloc'd, NUL-terminated *pem
 * of *pem_len characters. For a key, a failed encoding leaves no copy behind
 * (the caller zeroes *pem after use). */
int ward_pem_encode(enum ward_pem_label label, const uint8_t *der, size_t len, char **pem,
		    size_t *pem_len) WARD_MUST_CHECK;

#endif
