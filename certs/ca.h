/* Certificate issuing for `ward server`, on wolfCrypt's certificate
 * generator. Three kinds, shaped as SPIRE shapes them so that SPIRE's and
 * go-spiffe's peers accept them, and as certs/svid.h checks them:
 *
 *   root CA        self-signed; subject C=US, O=SPIFFE, serialNumber=<serial>;
 *                  basicConstraints cA=true; keyUsage (critical)
 *                  keyCertSign, cRLSign, digitalSignature; URI SAN
 *                  spiffe://<trust domain> (X509-SVID §3.2); SKI
 *   intermediate   the same, signed by a parent CA (an upstream CA); AKI
 *   leaf SVID      subject C=US, O=SPIRE; basicConstraints cA=false; keyUsage
 *                  (critical) digitalSignature, keyEncipherment, keyAgreement;
 *                  extKeyUsage serverAuth, clientAuth; exactly one URI SAN,
 *                  the SPIFFE ID (X509-SVID §2, §4); SKI, AKI
 *
 * Every certificate gets a random 128-bit positive serial (RFC 5280 §4.1.2.2)
 * and is signed ECDSA with SHA-256 (the issuer's key is P-256, certs/key.h).
 * Validity is exactly [not_before, not_after]; the caller chooses both (it
 * backdates for clock skew and caps a child at its issuer's expiry).
 *
 * Not SPIRE's: wolfSSL's encoder writes basicConstraints non-critical, and
 * leaves out the leaf's x500UniqueIdentifier. */
#ifndef WARD_CERTS_CA_H
#define WARD_CERTS_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "certs/key.h"
#include "certs/pem.h"
#include "spiffe/id.h"

/* The CA that signs: its certificate (DER) and private key. */
struct ward_ca_signer {
	const uint8_t *cert;
	size_t cert_len;
	const struct ward_key *key;
};

/* A self-signed root CA for trust domain td (a bare name, validated). */
int ward_ca_sign_root(const char *td, const struct ward_key *key, time_t not_before,
		      time_t not_after, struct ward_der *out) WARD_MUST_CHECK;

/* An intermediate CA for td carrying key's public key, signed by parent. */
int ward_ca_sign_intermediate(const char *td, const struct ward_key *key,
			      const struct ward_ca_signer *parent, time_t not_before,
			      time_t not_after, struct ward_der *out) WARD_MUST_CHECK;

/* A leaf X509-SVID for id (which must have a path) carrying key's public
 * key, signed by issuer. */
int ward_ca_sign_svid(const struct ward_spiffe_id *id, const struct ward_key *key,
		      const struct ward_ca_signer *issuer, time_t not_before, time_t not_after,
		      struct ward_der *out) WARD_MUST_CHECK;

void ward_der_free(struct ward_der *der);

#endif
