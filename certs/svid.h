/* X509-SVID rules (spiffe/spiffe standards/X509-SVID.md) checked on DER
 * certificates with wolfSSL's parser.
 *
 * These checks are the SPIFFE-specific part of validation (X509-SVID §5.2)
 * and nothing else. They do NOT verify signatures, build or verify the path
 * to a bundle (§5.1), or judge validity dates: the TLS layer does those with
 * wolfSSL's certificate manager, against the bundle of the peer's trust
 * domain and the current time. An expired but otherwise well-formed SVID
 * passes here; ward_svid_info() exposes its not-after for callers that care.
 *
 * Leaf SVID rules (ward_svid_leaf_check):
 *   - exactly one URI SAN, and it is a valid SPIFFE ID          (§2, §5.2)
 *     (other SAN types, such as DNS names, are allowed)          (§2)
 *   - the SPIFFE ID has a non-root path                          (§3.1, §5.2)
 *   - basicConstraints cA is false                               (§4.1, §5.2)
 *     (an absent extension counts: cA defaults to false, RFC 5280 §4.2.1.9)
 *   - keyUsage present and critical                              (§4.3)
 *   - keyUsage has digitalSignature, and neither keyCertSign nor
 *     cRLSign                                                    (§4.3, §5.2)
 *   - extendedKeyUsage, if present, has both serverAuth and
 *     clientAuth (not relaxed: a mesh SVID is used both ways)    (§4.4)
 *
 * Signing certificate rules (ward_svid_signing_check), for the CA
 * certificates of a chain or bundle:
 *   - basicConstraints present with cA true                     (§3.2, §4.1)
 *   - keyUsage present, critical, with keyCertSign              (§3.2, §4.3)
 *   - at most one URI SAN; if present it is a valid SPIFFE ID with no
 *     path (a signing certificate SHOULD be an SVID, but upstream CAs
 *     often are not, so none is allowed)                        (§3.2)
 *
 * Not checked: that a certificate with an empty Subject marks its SAN
 * extension critical (§3.1, RFC 5280 §4.1.2.6); URI name constraints (§4.2).
 *
 * Reasons name the rule: `leaf SVID: key usage must not have keyCertSign
 * (X509-SVID §4.3)`. */
#ifndef WARD_CERTS_SVID_H
#define WARD_CERTS_SVID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>

#include "lib/err.h"
#include "certs/pem.h"
#include "spiffe/id.h"

#define WARD_SVID_SERIAL_MAX 32 /* bytes; RFC 5280 §4.1.2.2 allows 20 */
/* A subject or issuer as wolfSSL's parser prints it, with its NUL: the size
 * of its own buffers, which differs between builds (330 on Debian's 5.5.4,
 * 360 on 5.9 with multi-attribute RDNs), so no name is ever cut short. */
#define WARD_SVID_NAME_MAX WC_ASN_NAME_MAX

/* Facts about one certificate for the admin /certs endpoint and expiry
 * metrics; not a validation. */
struct ward_svid_info {
	time_t not_before;
	time_t not_after;
	char serial_hex[2 * WARD_SVID_SERIAL_MAX + 1]; /* lowercase, no separators */
	bool is_ca;				       /* basicConstraints cA */
	char subject[WARD_SVID_NAME_MAX];	       /* "/C=../CN=..", as wolfSSL prints */
	char issuer[WARD_SVID_NAME_MAX];
};

/* Checks der[0..len) against the leaf rules above and stores its SPIFFE ID in
 * *id. WARD_ERR_INVALID with a reason if the certificate does not parse or
 * breaks a rule; *id is then empty (len 0). */
int ward_svid_leaf_check(const uint8_t *der, size_t len, struct ward_spiffe_id *id) WARD_MUST_CHECK;

/* Checks der[0..len) against the signing certificate rules above. If it
 * carries a SPIFFE ID, stores it in *id and sets *has_id; otherwise *id is
 * empty and *has_id false. */
int ward_svid_signing_check(const uint8_t *der, size_t len, struct ward_spiffe_id *id,
			    bool *has_id) WARD_MUST_CHECK;

/* Checks a chain as presented in TLS or read from an SVID file: certs[0]
 * is the leaf, the rest are signing certificates. Only the per-certificate
 * rules: the issuer links and signatures are the TLS layer's (§5.1). The
 * reason names the certificate's position ("certificate 2: ..."). */
int ward_svid_chain_check(const struct ward_der *certs, size_t count,
			  struct ward_spiffe_id *id) WARD_MUST_CHECK;

/* Validity dates, serial and cA of der[0..len). WARD_ERR_INVALID if it does
 * not parse. */
int ward_svid_info(const uint8_t *der, size_t len, struct ward_svid_info *info) WARD_MUST_CHECK;

#endif
