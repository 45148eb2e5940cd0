/* PEM to DER on wolfSSL's decoder; see pem.h for what is accepted and why. */
#include "certs/pem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "lib/file.h"

#define BEGIN "-----BEGIN "
#define DASHES "-----"
#define CERT_LABEL "CERTIFICATE"

static void free_secret(char *buf, size_t len)
{
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
}

/* Finds the next PEM block in [p, end): *label and *label_len name it, and the
 * block (BEGIN line through END line) is [*begin, returned end). NULL at the
 * end of input; *begin is set and the return is NULL for a block with no END. */
static const char *next_block(const char *p, const char *end, const char **begin,
			      const char **label, size_t *label_len)
{
	const char *b = memmem(p, (size_t)(end - p), BEGIN, strlen(BEGIN)), *dashes, *stop;
	char footer[80];
	int n;

	*begin = NULL;
	if (!b)
		return NULL;
	*begin = b;
	*label = b + strlen(BEGIN);
	dashes = memmem(*label, (size_t)(end - *label), DASHES, strlen(DASHES));
	if (!dashes || dashes - *label > 40)
		return NULL;
	*label_len = (size_t)(dashes - *label);
	n = snprintf(footer, sizeof(footer), "-----END %.*s-----", (int)*label_len, *label);
	stop = memmem(dashes, (size_t)(end - dashes), footer, (size_t)n);
	return stop ? stop + n : NULL;
}

static bool label_is(const char *label, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(label, want, len);
}

static int add_cert(const char *name, const char *blk, size_t len, struct ward_pem_certs *out)
{
	struct ward_der *certs = realloc(out->certs, (out->count + 1) * sizeof(*certs));
	uint8_t *der;
	int n;

	if (!certs)
		return ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", name);
	out->certs = certs;
	der = malloc(len);
	if (!der)
		return ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", name);
	/* The DER is shorter than its base64 text, so len bytes suffice. */
	n = wc_CertPemToDer((const unsigned char *)blk, (int)len, der, (int)len, CERT_TYPE);
	if (n <= 0) {
		free(der);
		return ward_err_set(WARD_ERR_INVALID,
				    "%s: CERTIFICATE block %zu does not decode (wolfSSL error %d)",
				    name, out->count + 1, n);
	}
	certs[out->count].data = der;
	certs[out->count].len = (size_t)n;
	out->count++;
	return 0;
}

int ward_pem_certs_load(const char *name, const char *pem, size_t len, struct ward_pem_certs *out)
{
	const char *p = pem, *end = pem + len, *begin, *label, *stop;
	size_t label_len;
	int rc;

	out->certs = NULL;
	out->count = 0;
	ENSURE(len <= WARD_PEM_CERTS_MAX_BYTES, WARD_ERR_RANGE, "%s: larger than %d bytes", name,
	       WARD_PEM_CERTS_MAX_BYTES);
	while ((stop = next_block(p, end, &begin, &label, &label_len))) {
		if (label_is(label, label_len, CERT_LABEL)) {
			rc = add_cert(name, begin, (size_t)(stop - begin), out);
			if (rc < 0)
				goto fail;
		}
		p = stop;
	}
	if (begin) {
		rc = ward_err_set(WARD_ERR_INVALID,
				  "%s: a PEM block is not terminated by its END line", name);
		goto fail;
	}
	ENSURE(out->count > 0, WARD_ERR_INVALID, "%s: no CERTIFICATE block", name);
	return 0;
fail:
	ward_pem_certs_free(out);
	return rc;
}

int ward_pem_certs_load_file(const char *path, struct ward_pem_certs *out)
{
	char *buf;
	size_t len = 0;
	int rc = ward_file_read(path, WARD_PEM_CERTS_MAX_BYTES, &buf, &len, NULL);

	out->certs = NULL;
	out->count = 0;
	if (rc == 0)
		rc = ward_pem_certs_load(path, buf, len, out);
	free(buf);
	return rc;
}

void ward_pem_certs_free(struct ward_pem_certs *certs)
{
	for (size_t i = 0; i < certs->count; i++)
		free(certs->certs[i].data);
	free(certs->certs);
	certs->certs = NULL;
	certs->count = 0;
}

/* The key format named by a PEM label, or -1 for a label that is not a key. */
static int key_format(const char *label, size_t len)
{
	if (label_is(label, len, "PRIVATE KEY"))
		return WARD_PEM_KEY_PKCS8;
	if (label_is(label, len, "EC PRIVATE KEY"))
		return WARD_PEM_KEY_EC;
	if (label_is(label, len, "RSA PRIVATE KEY"))
		return WARD_PEM_KEY_RSA;
	return -1;
}

static int decode_key(const char *name, const char *blk, size_t len, struct ward_pem_key *out)
{
	int n;

	/* RFC 1421 headers mark a traditional key encrypted with a passphrase. */
	ENSURE(!memmem(blk, len, "ENCRYPTED", strlen("ENCRYPTED")), WARD_ERR_UNSUPPORTED,
	       "%s: encrypted private keys are not supported", name);
	out->der = malloc(len);
	ENSURE(out->der, WARD_ERR_NOMEM, "%s: out of memory", name);
	n = wc_KeyPemToDer((const unsigned char *)blk, (int)len, out->der, (int)len, NULL);
	if (n <= 0) {
		free_secret((char *)out->der, len);
		out->der = NULL;
		return ward_err_set(WARD_ERR_INVALID,
				    "%s: private key does not decode (wolfSSL error %d)", name, n);
	}
	out->len = (size_t)n;
	return 0;
}

int ward_pem_key_load(const char *name, const char *pem, size_t len, struct ward_pem_key *out)
{
	const char *p = pem, *end = pem + len, *begin, *label, *stop;
	size_t label_len;
	int format;

	memset(out, 0, sizeof(*out));
	ENSURE(len <= WARD_PEM_KEY_MAX_BYTES, WARD_ERR_RANGE, "%s: larger than %d bytes", name,
	       WARD_PEM_KEY_MAX_BYTES);
	/* Other blocks before the key (openssl ecparam writes "EC PARAMETERS"
	 * first) are skipped. */
	while ((stop = next_block(p, end, &begin, &label, &label_len))) {
		ENSURE(!label_is(label, label_len, "ENCRYPTED PRIVATE KEY"), WARD_ERR_UNSUPPORTED,
		       "%s: encrypted private keys are not supported", name);
		format = key_format(label, label_len);
		if (format >= 0) {
			out->format = (enum ward_pem_key_format)format;
			return decode_key(name, begin, (size_t)(stop - begin), out);
		}
		p = stop;
	}
	return ward_err_set(WARD_ERR_INVALID, "%s: not a PEM private key", name);
}

int ward_pem_key_load_file(const char *path, struct ward_pem_key *out)
{
	char *buf;
	size_t len = 0;
	mode_t mode = 0;
	int rc = ward_file_read(path, WARD_PEM_KEY_MAX_BYTES, &buf, &len, &mode);

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = ward_pem_key_load(path, buf, len, out);
	free_secret(buf, len);
	if (rc == 0)
		out->mode_too_open = (mode & 077) != 0;
	return rc;
}

void ward_pem_key_free(struct ward_pem_key *key)
{
	free_secret((char *)key->der, key->len);
	key->der = NULL;
	key->len = 0;
}

int ward_pem_encode(enum ward_pem_label label, const uint8_t *der, size_t len, char **pem,
		    size_t *pem_len)
{
	int type = label == WARD_PEM_PRIVATE_KEY ? PKCS8_PRIVATEKEY_TYPE : CERT_TYPE;
	/* base64 grows by 4/3, plus a newline every 64 characters and the
	 * BEGIN/END lines. */
	size_t cap = len * 2 + 128;
	char *out;
	int n;

	*pem = NULL;
	*pem_len = 0;
	ENSURE(der && len > 0 && len <= WARD_PEM_CERTS_MAX_BYTES / 2, WARD_ERR_RANGE,
	       "PEM encoding: %zu bytes of DER", len);
	out = malloc(cap + 1);
	ENSURE(out, WARD_ERR_NOMEM, "PEM encoding: out of memory");
	n = wc_DerToPem(der, (word32)len, (byte *)out, (word32)cap, type);
	if (n <= 0) {
		free_secret(out, cap + 1);
		return ward_err_set(WARD_ERR_TLS, "PEM encoding failed (wolfSSL error %d)", n);
	}
	out[n] = '\0';
	*pem = out;
	*pem_len = (size_t)n;
	return 0;
}
