/* The SPIFFE Workload API's X.509 messages (workload.proto from
 * github.com/spiffe/go-spiffe, proto/spiffe/workload/workload.proto), decoded
 * from and encoded to protobuf with spiffe/proto.h:
 *
 *   message X509SVIDRequest {}
 *   message X509SVIDResponse {
 *     repeated X509SVID svids = 1;
 *     repeated bytes crl = 2;
 *     map<string, bytes> federated_bundles = 3;  // entry: key = 1, value = 2
 *   }
 *   message X509SVID {
 *     string spiffe_id = 1;
 *     bytes x509_svid = 2;      // ASN.1 DER certificates, leaf first, concatenated
 *     bytes x509_svid_key = 3;  // PKCS#8 DER private key
 *     bytes bundle = 4;         // ASN.1 DER CA certificates, concatenated
 *     string hint = 5;
 *   }
 *   message X509BundlesRequest {}
 *   message X509BundlesResponse {
 *     repeated bytes crl = 1;
 *     map<string, bytes> bundles = 2;
 *   }
 *
 * Decoding borrows: every ward_wl_bytes points into the caller's message
 * buffer, which must outlive the decoded struct. Unknown fields are skipped
 * (the standard evolves by adding fields); a known field with the wrong wire
 * type, or any length past the end of its buffer, is an error naming the
 * field. Map keys are trust domain names as SPIRE sends them
 * ("spiffe://example.org"; the bare "example.org" is accepted too). */
#ifndef WARD_SPIFFE_WORKLOAD_MSG_H
#define WARD_SPIFFE_WORKLOAD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

/* SPIRE issues a workload one SVID per matching registration entry; the
 * first is the default, which is what ward uses. More than this many are
 * counted and not kept. */
#define WARD_WL_MAX_SVIDS 8
#define WARD_WL_MAX_BUNDLES 64

struct ward_wl_bytes {
	const uint8_t *data; /* borrowed */
	size_t len;
};

struct ward_wl_svid {
	struct ward_wl_bytes spiffe_id;
	struct ward_wl_bytes x509_svid;
	struct ward_wl_bytes x509_svid_key;
	struct ward_wl_bytes bundle;
	struct ward_wl_bytes hint;
};

struct ward_wl_bundle {
	struct ward_wl_bytes trust_domain; /* the map key as sent */
	struct ward_wl_bytes bundle;	   /* concatenated DER */
};

struct ward_wl_x509_svid_response {
	struct ward_wl_svid svids[WARD_WL_MAX_SVIDS];
	size_t n_svids;	      /* kept, <= WARD_WL_MAX_SVIDS */
	size_t n_svids_total; /* as sent */
	struct ward_wl_bundle federated[WARD_WL_MAX_BUNDLES];
	size_t n_federated;
	size_t n_crl;
};

struct ward_wl_x509_bundles_response {
	struct ward_wl_bundle bundles[WARD_WL_MAX_BUNDLES];
	size_t n_bundles;
	size_t n_crl;
};

int ward_wl_x509_svid_response_decode(const uint8_t *msg, size_t len,
				      struct ward_wl_x509_svid_response *out) WARD_MUST_CHECK;
int ward_wl_x509_bundles_response_decode(const uint8_t *msg, size_t len,
					 struct ward_wl_x509_bundles_response *out) WARD_MUST_CHECK;

/* Encoders append the protobuf bytes to out (for `ward server` and tests). */
int ward_wl_x509_svid_response_encode(const struct ward_wl_x509_svid_response *in,
				      struct ward_buf *out) WARD_MUST_CHECK;
int ward_wl_x509_bundles_response_encode(const struct ward_wl_x509_bundles_response *in,
					 struct ward_buf *out) WARD_MUST_CHECK;

/* Splits concatenated DER certificates (x509_svid, bundle) into their
 * elements by their outer SEQUENCE headers: each element borrows from der.
 * WARD_ERR_INVALID for a header that is not a definite-length SEQUENCE or
 * runs past the end; WARD_ERR_RANGE for more than max elements. */
int ward_wl_der_split(const uint8_t *der, size_t len, struct ward_wl_bytes *out, size_t max,
		      size_t *n) WARD_MUST_CHECK;

#endif
