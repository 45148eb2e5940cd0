/* Certificate issuing on wolfCrypt's generator; the profiles are in ca.h. */
#include "certs/ca.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#define CERT_MAX_BYTES 8192 /* a P-256 certificate with a 2048-byte SPIFFE ID */
#define SERIAL_BYTES 16
#define SKEW_NOTE "not_before must be before not_after"

/* What differs between the three kinds of certificate. */
struct spec {
	const char *uri; /* the URI SAN */
	bool is_ca;
	const struct ward_key *key;	     /* the subject's (public) key */
	const struct ward_ca_signer *issuer; /* NULL: self-signed with key */
	time_t not_before, not_after;
};

void ward_der_free(struct ward_der *der)
{
	free(der->data);
	der->data = NULL;
	der->len = 0;
}

/* RFC 5280 §4.1.2.2: a positive integer of at most 20 octets; 128 random
 * bits make serials unique without keeping a counter. wolfSSL encodes the
 * bytes as given, so the top bit is cleared (positive) and the first byte
 * made non-zero (no shorter encoding). */
static int set_serial(Cert *cert, WC_RNG *rng)
{
	ENSURE(wc_RNG_GenerateBlock(rng, cert->serial, SERIAL_BYTES) == 0, WARD_ERR_TLS,
	       "certificate: random serial failed");
	cert->serial[0] = (byte)((cert->serial[0] & 0x7f) | 0x01);
	cert->serialSz = SERIAL_BYTES;
	return 0;
}

/* RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both
 * in UTC with seconds and a Z. wolfSSL copies the encoded Time as given. */
static int encode_time(time_t t, byte *out, int *out_len)
{
	struct tm tm;
	char text[20];
	bool utc;
	size_t n;

	ENSURE(gmtime_r(&t, &tm) && tm.tm_year >= 0 && tm.tm_year < 8100, WARD_ERR_RANGE,
	       "certificate: time %lld out of range", (long long)t);
	n = strftime(text, sizeof(text), "%Y%m%d%H%M%SZ", &tm);
	ENSURE(n == 15, WARD_ERR_RANGE, "certificate: time %lld out of range", (long long)t);
	utc = tm.tm_year < 150; /* UTCTime drops the century: YYMMDDHHMMSSZ */
	out[0] = utc ? ASN_UTC_TIME : ASN_GENERALIZED_TIME;
	out[1] = (byte)(utc ? 13 : 15);
	memcpy(out + 2, text + (utc ? 2 : 0), out[1]);
	*out_len = out[1] + 2;
	return 0;
}

static int set_validity(Cert *cert, time_t not_before, time_t not_after)
{
	ENSURE(not_before < not_after, WARD_ERR_INVALID, "certificate: " SKEW_NOTE);
	GUARD(encode_time(not_before, cert->beforeDate, &cert->beforeDateSz));
	return encode_time(not_after, cert->afterDate, &cert->afterDateSz);
}

static int der_length(size_t len, byte *out)
{
	if (len < 0x80) {
		out[0] = (byte)len;
		return 1;
	}
	if (len <= 0xff) {
		out[0] = 0x81;
		out[1] = (byte)len;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (byte)(len >> 8);
	out[2] = (byte)len;
	return 3;
}

/* wolfSSL takes the subjectAltName value as DER; the only name ward writes is
 * one URI (RFC 5280 §4.2.1.6):
 *   GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
 *   GeneralName  ::= ... uniformResourceIdentifier [6] IMPLICIT IA5String */
static int set_uri_san(Cert *cert, const char *uri)
{
	size_t len = strlen(uri);
	byte name_len[3], seq_len[3];
	int nl, sl, o = 0;

	ENSURE(len > 0 && len <= WARD_SPIFFE_ID_MAX, WARD_ERR_RANGE,
	       "certificate: URI SAN of %zu bytes", len);
	nl = der_length(len, name_len);
	sl = der_length(1 + (size_t)nl + len, seq_len);
	ENSURE(1 + sl + 1 + nl + len <= sizeof(cert->altNames), WARD_ERR_RANGE,
	       "certificate: URI SAN too long");
	cert->altNames[o++] = ASN_SEQUENCE | ASN_CONSTRUCTED;
	memcpy(cert->altNames + o, seq_len, (size_t)sl);
	o += sl;
	cert->altNames[o++] = ASN_CONTEXT_SPECIFIC | ASN_URI_TYPE;
	memcpy(cert->altNames + o, name_len, (size_t)nl);
	o += nl;
	memcpy(cert->altNames + o, uri, len);
	cert->altNamesSz = o + (int)len;
	return 0;
}

/* SPIRE's subjects: its CA's default ca_subject, and "O=SPIRE, C=US" for
 * SVIDs. The CA's serialNumber attribute keeps the subjects of successive
 * CAs distinct for path builders that look issuers up by name. */
static void set_subject(Cert *cert, bool is_ca)
{
	snprintf(cert->subject.country, CTC_NAME_SIZE, "US");
	snprintf(cert->subject.org, CTC_NAME_SIZE, "%s", is_ca ? "SPIFFE" : "SPIRE");
	if (!is_ca)
		return;
	for (int i = 0; i < cert->serialSz; i++)
		snprintf(cert->subject.serialDev + 2 * i, 3, "%02x", cert->serial[i]);
}

static int set_extensions(Cert *cert, const struct spec *s)
{
	ecc_key *subject = ward_key_ecc(s->key);
	int rc;

	if (s->is_ca) {
		cert->isCA = 1;
		rc = wc_SetKeyUsage(cert, "keyCertSign,cRLSign,digitalSignature");
	} else {
		cert->basicConstSet = 1; /* written as cA=false */
		rc = wc_SetKeyUsage(cert, "digitalSignature,keyEncipherment,keyAgreement");
		if (rc == 0)
			rc = wc_SetExtKeyUsage(cert, "serverAuth,clientAuth");
	}
	if (rc == 0)
		rc = wc_SetSubjectKeyIdFromPublicKey_ex(cert, ECC_TYPE, subject);
	ENSURE(rc == 0, WARD_ERR_TLS, "certificate: extensions refused (wolfSSL error %d)", rc);
	return set_uri_san(cert, s->uri);
}

/* The parent must be a CA; its subject, taken raw, becomes the issuer name,
 * so that the link holds whatever attributes an upstream CA's name has. */
static int set_issuer(Cert *cert, const struct ward_ca_signer *issuer)
{
	int rc;

	ENSURE(issuer->cert && issuer->cert_len > 0 && issuer->cert_len <= CERT_MAX_BYTES * 8,
	       WARD_ERR_INVALID, "issuer: no certificate");
	rc = wc_SetIssuerRaw(cert, issuer->cert, (int)issuer->cert_len);
	if (rc == 0)
		rc = wc_SetAuthKeyIdFromCert(cert, issuer->cert, (int)issuer->cert_len);
	ENSURE(rc == 0, WARD_ERR_INVALID, "issuer: certificate refused (wolfSSL error %d)", rc);
	ENSURE(cert->issRaw[0] != 0, WARD_ERR_UNSUPPORTED,
	       "issuer: subject name too long for wolfSSL's certificate generator");
	cert->selfSigned = 0;
	return 0;
}

/* The issuer named in child must be the parent's subject. wolfSSL copies the
 * raw issuer as a C string, so a name with a zero byte in it would be cut;
 * this catches that and anything else that breaks the link. */
static int check_link(const struct ward_der *child, const struct ward_ca_signer *parent)
{
	DecodedCert c, p;
	bool linked;

	wc_InitDecodedCert(&c, child->data, (word32)child->len, NULL);
	wc_InitDecodedCert(&p, parent->cert, (word32)parent->cert_len, NULL);
	linked = wc_ParseCert(&c, CERT_TYPE, NO_VERIFY, NULL) == 0 &&
		 wc_ParseCert(&p, CERT_TYPE, NO_VERIFY, NULL) == 0 && p.isCA &&
		 !memcmp(c.issuerHash, p.subjectHash, sizeof(c.issuerHash));
	wc_FreeDecodedCert(&c);
	wc_FreeDecodedCert(&p);
	ENSURE(linked, WARD_ERR_INVALID,
	       "issuer: not a CA certificate, or its name cannot be written as issuer");
	return 0;
}

static int build(Cert *cert, const struct spec *s, WC_RNG *rng)
{
	wc_InitCert(cert);
	cert->sigType = CTC_SHA256wECDSA;
	GUARD(set_serial(cert, rng));
	GUARD(set_validity(cert, s->not_before, s->not_after));
	set_subject(cert, s->is_ca);
	GUARD(set_extensions(cert, s));
	if (s->issuer)
		GUARD(set_issuer(cert, s->issuer));
	return 0;
}

static int sign(Cert *cert, const struct spec *s, WC_RNG *rng, struct ward_der *out)
{
	const struct ward_key *signer = s->issuer ? s->issuer->key : s->key;
	int rc;

	out->data = malloc(CERT_MAX_BYTES);
	ENSURE(out->data, WARD_ERR_NOMEM, "certificate: out of memory");
	rc = wc_MakeCert_ex(cert, out->data, CERT_MAX_BYTES, ECC_TYPE, ward_key_ecc(s->key), rng);
	if (rc > 0)
		rc = wc_SignCert_ex(cert->bodySz, cert->sigType, out->data, CERT_MAX_BYTES,
				    ECC_TYPE, ward_key_ecc(signer), rng);
	if (rc <= 0) {
		ward_der_free(out);
		return ward_err_set(WARD_ERR_TLS, "certificate: signing failed (wolfSSL error %d)",
				    rc);
	}
	out->len = (size_t)rc;
	return 0;
}

static int issue(const struct spec *s, struct ward_der *out)
{
	Cert *cert = malloc(sizeof(*cert)); /* 16 KB of SAN space: not the stack */
	WC_RNG rng;
	int rc;

	out->data = NULL;
	out->len = 0;
	ENSURE(cert, WARD_ERR_NOMEM, "certificate: out of memory");
	if (wc_InitRng(&rng) != 0) {
		free(cert);
		return ward_err_set(WARD_ERR_TLS, "certificate: random generator failed");
	}
	rc = build(cert, s, &rng);
	if (rc == 0)
		rc = sign(cert, s, &rng, out);
	if (rc == 0 && s->issuer && (rc = check_link(out, s->issuer)) < 0)
		ward_der_free(out);
	wc_FreeRng(&rng);
	free(cert);
	return rc;
}

/* A CA certificate of trust domain td: self-signed when parent is NULL. */
static int sign_ca(const char *td, const struct ward_key *key, const struct ward_ca_signer *parent,
		   time_t not_before, time_t not_after, struct ward_der *out)
{
	char uri[WARD_SPIFFE_SCHEME_LEN + WARD_SPIFFE_TD_MAX + 1];
	struct spec s = {uri, true, key, parent, not_before, not_after};

	out->data = NULL;
	out->len = 0;
	GUARD(ward_spiffe_trust_domain_validate(td, strlen(td)));
	snprintf(uri, sizeof(uri), WARD_SPIFFE_SCHEME "%s", td);
	return issue(&s, out);
}

int ward_ca_sign_root(const char *td, const struct ward_key *key, time_t not_before,
		      time_t not_after, struct ward_der *out)
{
	return sign_ca(td, key, NULL, not_before, not_after, out);
}

int ward_ca_sign_intermediate(const char *td, const struct ward_key *key,
			      const struct ward_ca_signer *parent, time_t not_before,
			      time_t not_after, struct ward_der *out)
{
	return sign_ca(td, key, parent, not_before, not_after, out);
}

int ward_ca_sign_svid(const struct ward_spiffe_id *id, const struct ward_key *key,
		      const struct ward_ca_signer *issuer, time_t not_before, time_t not_after,
		      struct ward_der *out)
{
	struct spec s = {id->text, false, key, issuer, not_before, not_after};

	out->data = NULL;
	out->len = 0;
	/* X509-SVID §3.1: only the trust domain's authorities carry the root ID. */
	ENSURE(id->len > 0 && ward_spiffe_id_path(id)[0] == '/', WARD_ERR_INVALID,
	       "SVID: SPIFFE ID \"%s\" has no path", id->text);
	return issue(&s, out);
}
