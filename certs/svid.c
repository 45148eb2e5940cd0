/* X509-SVID rules on wolfSSL's certificate parser; the rules and what is
 * deliberately left to the TLS layer are listed in svid.h. */
#include "certs/svid.h"

#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#define CERT_MAX_BYTES (64 * 1024)
#define LEAF "leaf SVID"
#define SIGNING "signing certificate"

/* Parses der without verifying its signature or dates (NO_VERIFY): those
 * belong to path validation (X509-SVID §5.1). wolfSSL still refuses malformed
 * DER and unknown critical extensions (RFC 5280 §4.2). On success the caller
 * owns *dc and frees it with wc_FreeDecodedCert().
 *
 * wolfSSL 5.9 also refuses keyCertSign without cA (RFC 5280 §4.2.1.9) with
 * KEYUSAGE_E, once every field is decoded. Such a certificate breaks an
 * X509-SVID rule as well (a leaf must not have keyCertSign, a signing
 * certificate must have cA), so it is handed back with *ku_conflict set:
 * the rules then name what is wrong, the same on every wolfSSL version, and
 * the caller refuses it even if they did not. */
static int parse(DecodedCert *dc, const uint8_t *der, size_t len, const char *what,
		 bool *ku_conflict)
{
	int rc;

	*ku_conflict = false;
	ENSURE(der && len > 0, WARD_ERR_INVALID, "%s: empty certificate", what);
	ENSURE(len <= CERT_MAX_BYTES, WARD_ERR_RANGE, "%s: certificate larger than %d bytes", what,
	       CERT_MAX_BYTES);
	wc_InitDecodedCert(dc, der, (word32)len, NULL);
	rc = wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL);
	if (rc == KEYUSAGE_E && !dc->isCA && dc->extKeyUsageSet &&
	    (dc->extKeyUsage & KEYUSE_KEY_CERT_SIGN)) {
		*ku_conflict = true;
		return 0;
	}
	if (rc != 0) {
		wc_FreeDecodedCert(dc);
		return ward_err_set(WARD_ERR_INVALID,
				    "%s: certificate does not parse (wolfSSL error %d)", what, rc);
	}
	return 0;
}

/* X509-SVID §2: an SVID has exactly one URI SAN, which is its SPIFFE ID; more
 * than one MUST be rejected (§5.2). Other SAN types are ignored. */
static int uri_san(const DecodedCert *dc, const char *what, struct ward_spiffe_id *id, bool *found)
{
	const DNS_entry *e, *uri = NULL;
	size_t n = 0;
	int rc;

	*found = false;
	for (e = dc->altNames; e; e = e->next) {
		if (e->type == ASN_URI_TYPE) {
			uri = e;
			n++;
		}
	}
	ENSURE(n <= 1, WARD_ERR_INVALID, "%s: has %zu URI SANs, must have one (X509-SVID §2)", what,
	       n);
	if (!uri)
		return 0;
	ENSURE(uri->len >= 0, WARD_ERR_INVALID, "%s: malformed URI SAN", what);
	rc = ward_spiffe_id_parse(uri->name, (size_t)uri->len, id);
	if (rc < 0)
		return ward_err_prefix(rc, "%s: URI SAN is not a SPIFFE ID (X509-SVID §2)", what);
	*found = true;
	return 0;
}

/* X509-SVID §4.3: every SVID has a critical key usage extension. */
static int key_usage_present(const DecodedCert *dc, const char *what)
{
	ENSURE(dc->extKeyUsageSet, WARD_ERR_INVALID,
	       "%s: key usage extension is missing (X509-SVID §4.3)", what);
	ENSURE(dc->extKeyUsageCrit, WARD_ERR_INVALID,
	       "%s: key usage extension must be critical (X509-SVID §4.3)", what);
	return 0;
}

static int leaf_rules(const DecodedCert *dc, struct ward_spiffe_id *id)
{
	const word16 ku = dc->extKeyUsage;
	const byte both = EXTKEYUSE_SERVER_AUTH | EXTKEYUSE_CLIENT_AUTH;
	bool found;

	/* §4.1, §5.2; first, as a CA certificate offered as a leaf is the
	 * likeliest mistake. An absent extension means cA=false (RFC 5280
	 * §4.2.1.9). */
	ENSURE(!dc->isCA, WARD_ERR_INVALID,
	       LEAF ": basic constraints cA must be false (X509-SVID §4.1)");
	GUARD(uri_san(dc, LEAF, id, &found));
	ENSURE(found, WARD_ERR_INVALID, LEAF ": has no URI SAN, must have one (X509-SVID §2)");
	/* §3.1, §5.2: only the trust domain's own authority may carry the
	 * root ID, so a leaf presenting it is refused. */
	ENSURE(ward_spiffe_id_path(id)[0] != '\0', WARD_ERR_INVALID,
	       LEAF ": SPIFFE ID \"%s\" has no path, a leaf's must (X509-SVID §3.1)", id->text);
	GUARD(key_usage_present(dc, LEAF));
	ENSURE(ku & KEYUSE_DIGITAL_SIG, WARD_ERR_INVALID,
	       LEAF ": key usage must have digitalSignature (X509-SVID §4.3)");
	ENSURE(!(ku & KEYUSE_KEY_CERT_SIGN), WARD_ERR_INVALID,
	       LEAF ": key usage must not have keyCertSign (X509-SVID §4.3)");
	ENSURE(!(ku & KEYUSE_CRL_SIGN), WARD_ERR_INVALID,
	       LEAF ": key usage must not have cRLSign (X509-SVID §4.3)");
	/* §4.4: optional, but when present both TLS purposes, since every
	 * mesh workload is both a client and a server. */
	ENSURE(!dc->extExtKeyUsageSet || (dc->extExtKeyUsage & both) == both, WARD_ERR_INVALID,
	       LEAF
	       ": extended key usage must have both serverAuth and clientAuth (X509-SVID §4.4)");
	return 0;
}

static void clear_id(struct ward_spiffe_id *id)
{
	id->text[0] = '\0';
	id->len = id->td_len = 0;
}

/* The backstop for a certificate wolfSSL refused that the rules let pass. */
static int ku_conflict_rule(bool conflict, const char *what)
{
	ENSURE(!conflict, WARD_ERR_INVALID,
	       "%s: key usage has keyCertSign but basic constraints cA is false (RFC 5280 "
	       "§4.2.1.9)",
	       what);
	return 0;
}

int ward_svid_leaf_check(const uint8_t *der, size_t len, struct ward_spiffe_id *id)
{
	DecodedCert dc;
	bool conflict;
	int rc;

	clear_id(id);
	GUARD(parse(&dc, der, len, LEAF, &conflict));
	rc = leaf_rules(&dc, id);
	if (rc == 0)
		rc = ku_conflict_rule(conflict, LEAF);
	wc_FreeDecodedCert(&dc);
	if (rc < 0)
		clear_id(id);
	return rc;
}

static int signing_rules(const DecodedCert *dc, struct ward_spiffe_id *id, bool *has_id)
{
	/* §3.2, §4.1: a signing certificate is a CA certificate. */
	ENSURE(dc->extBasicConstSet && dc->isCA, WARD_ERR_INVALID,
	       SIGNING ": basic constraints cA must be true (X509-SVID §4.1)");
	GUARD(key_usage_present(dc, SIGNING));
	ENSURE(dc->extKeyUsage & KEYUSE_KEY_CERT_SIGN, WARD_ERR_INVALID,
	       SIGNING ": key usage must have keyCertSign (X509-SVID §4.3)");
	GUARD(uri_san(dc, SIGNING, id, has_id));
	/* §3.2: a signing certificate's SPIFFE ID MUST NOT have a path. */
	ENSURE(!*has_id || ward_spiffe_id_path(id)[0] == '\0', WARD_ERR_INVALID,
	       SIGNING ": SPIFFE ID \"%s\" must not have a path (X509-SVID §3.2)", id->text);
	return 0;
}

int ward_svid_signing_check(const uint8_t *der, size_t len, struct ward_spiffe_id *id, bool *has_id)
{
	DecodedCert dc;
	bool conflict;
	int rc;

	clear_id(id);
	*has_id = false;
	GUARD(parse(&dc, der, len, SIGNING, &conflict));
	rc = signing_rules(&dc, id, has_id);
	if (rc == 0)
		rc = ku_conflict_rule(conflict, SIGNING);
	wc_FreeDecodedCert(&dc);
	if (rc < 0) {
		clear_id(id);
		*has_id = false;
	}
	return rc;
}

int ward_svid_chain_check(const struct ward_der *certs, size_t count, struct ward_spiffe_id *id)
{
	struct ward_spiffe_id ca_id;
	bool has_id;

	clear_id(id);
	ENSURE(count > 0, WARD_ERR_INVALID, "SVID chain is empty");
	if (ward_svid_leaf_check(certs[0].data, certs[0].len, id) < 0)
		return ward_err_prefix(WARD_ERR_INVALID, "certificate 1");
	for (size_t i = 1; i < count; i++) {
		if (ward_svid_signing_check(certs[i].data, certs[i].len, &ca_id, &has_id) < 0) {
			clear_id(id);
			return ward_err_prefix(WARD_ERR_INVALID, "certificate %zu", i + 1);
		}
	}
	return 0;
}

/* A certificate date (the raw UTCTime / GeneralizedTime TLV) as time_t. */
static int cert_time(const byte *raw, int raw_len, time_t *out)
{
	const byte *date;
	byte format;
	int len;
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	ENSURE(raw && wc_GetDateInfo(raw, raw_len, &date, &format, &len) == 0 &&
		   wc_GetDateAsCalendarTime(date, len, format, &tm) == 0,
	       WARD_ERR_INVALID, "certificate date does not parse");
	*out = timegm(&tm);
	return 0;
}

static int info_of(const DecodedCert *dc, struct ward_svid_info *info)
{
	GUARD(cert_time(dc->beforeDate, dc->beforeDateLen, &info->not_before));
	GUARD(cert_time(dc->afterDate, dc->afterDateLen, &info->not_after));
	ENSURE(dc->serialSz >= 0 && dc->serialSz <= WARD_SVID_SERIAL_MAX, WARD_ERR_INVALID,
	       "certificate serial is longer than %d bytes", WARD_SVID_SERIAL_MAX);
	for (int i = 0; i < dc->serialSz; i++)
		snprintf(info->serial_hex + 2 * i, 3, "%02x", dc->serial[i]);
	info->is_ca = dc->isCA;
	snprintf(info->subject, sizeof(info->subject), "%s", dc->subject);
	snprintf(info->issuer, sizeof(info->issuer), "%s", dc->issuer);
	return 0;
}

int ward_svid_info(const uint8_t *der, size_t len, struct ward_svid_info *info)
{
	DecodedCert dc;
	bool conflict; /* facts, not a validation: reported all the same */
	int rc;

	memset(info, 0, sizeof(*info));
	GUARD(parse(&dc, der, len, "certificate", &conflict));
	rc = info_of(&dc, info);
	wc_FreeDecodedCert(&dc);
	return rc;
}
