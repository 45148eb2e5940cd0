/* Federated trust domains: the bundles of other trust domains whose peers
 * we may talk to, and the rule that makes that safe. With several trust
 * domains' CAs loaded as anchors, wolfSSL would accept a chain from ANY of
 * them for ANY SPIFFE ID; the X509-SVID standard (section 5.2) requires a
 * peer's chain to verify against the bundle of the peer's own trust domain.
 * So when federated bundles are present, a verify callback re-verifies each
 * peer chain against only the anchors of the trust domain its leaf names,
 * and fails the handshake otherwise.
 *
 * That callback needs wolfSSL to call it on success too
 * (WOLFSSL_ALWAYS_VERIFY_CB, set by ward's wolfSSL build). Where the linked
 * wolfSSL lacks it (Debian's), federated bundles are refused: ward never
 * trusts a foreign CA it cannot keep in its lane. */
#ifndef WARD_FEDERATION_H
#define WARD_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "lib/err.h"

struct ward_tls_der;

/* One trust domain and its CA certificates (DER), borrowed by the caller. */
struct ward_fed_bundle {
	const char *trust_domain; /* bare name, "example.org" */
	const struct ward_tls_der *certs;
	size_t n_certs;
};

/* Owned copies of every trust domain's anchors, ours included. */
struct ward_fed {
	struct ward_fed_domain {
		char *trust_domain;
		uint8_t **der;
		size_t *der_len;
		size_t n;
	} * domains;
	size_t n_domains; /* [0] is our own */
};

/* Whether this wolfSSL build can enforce the binding. */
bool ward_fed_supported(void);

/* Copies our bundle and the federated ones; WARD_ERR_UNSUPPORTED when
 * federated bundles are given and the build cannot enforce them,
 * WARD_ERR_INVALID for a bad trust domain name or a duplicate. */
int ward_fed_new(const char *own_td, const struct ward_tls_der *own, size_t n_own,
		 const struct ward_fed_bundle *federated, size_t n_federated,
		 struct ward_fed **out) WARD_MUST_CHECK;
void ward_fed_free(struct ward_fed *f);

/* Loads every federated anchor into c and installs the binding check. */
int ward_fed_install(const struct ward_fed *f, WOLFSSL_CTX *c) WARD_MUST_CHECK;

/* Whether td (td_len bytes) is ours or a federated one. */
bool ward_fed_knows(const struct ward_fed *f, const char *td, size_t td_len);

#endif
