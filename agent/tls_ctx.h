/* The sidecar's TLS contexts. A ward_tls_ctx is one identity (SVID chain +
 * key + trust bundle) under one policy, built fresh on every rotation and
 * shared by reference: new handshakes take the current one, live connections
 * keep theirs until they close (the last put frees it). */
#ifndef WARD_TLS_CTX_H
#define WARD_TLS_CTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/federation.h"
#include "certs/svid.h"
#include "lib/tls.h"
#include "spiffe/id.h"

/* Identity material, all DER. Borrowed for the duration of ward_tls_ctx_new. */
struct ward_tls_der {
	const uint8_t *data;
	size_t len;
};
struct ward_tls_material {
	const struct ward_tls_der *chain; /* leaf first, then intermediates */
	size_t n_chain;
	struct ward_tls_der key;	   /* PKCS#8 or SEC1 */
	const struct ward_tls_der *bundle; /* trust anchors of our trust domain */
	size_t n_bundle;
	const struct ward_fed_bundle *federated; /* other trust domains' anchors */
	size_t n_federated;
};

/* Facts about one certificate of the context, for /certs and `ward doctor`. */
struct ward_tls_cert_summary {
	char subject[WARD_SVID_NAME_MAX], issuer[WARD_SVID_NAME_MAX];
	char serial[80]; /* hex */
	time_t not_before, not_after;
};

struct ward_tls_ctx {
	atomic_uint refs;
	WOLFSSL_CTX *server;			/* owned */
	WOLFSSL_CTX *client;			/* owned */
	char spiffe_id[WARD_SPIFFE_ID_MAX + 1]; /* ours, from the leaf */
	char trust_domain[256];
	time_t not_before, not_after;
	char serial[80];	       /* hex */
	uint64_t generation;	       /* increases with every rotation */
	struct ward_fed *fed;	       /* owned: every trust domain's anchors, ours first */
	struct ward_tls_policy policy; /* the client sessions' key shares come from it */
	struct ward_tls_cert_summary *chain_info, *bundle_info; /* owned */
	size_t n_chain_info, n_bundle_info;
};

/* Builds a context: validates our own leaf as an X509-SVID of trust_domain,
 * checks the key matches it, loads the bundle (and any federated bundles),
 * applies policy. */
int ward_tls_ctx_new(const struct ward_tls_material *m, const struct ward_tls_policy *policy,
		     const char *trust_domain, struct ward_tls_ctx **out) WARD_MUST_CHECK;
/* Both accept NULL (no identity), so callers can pass "none" along. */
struct ward_tls_ctx *ward_tls_ctx_get(struct ward_tls_ctx *ctx);
void ward_tls_ctx_put(struct ward_tls_ctx *ctx);

/* A new session on ctx in the given role (see ward_tls_session_open); a
 * client session offers the policy's key shares. */
int ward_tls_ctx_session(struct ward_tls_ctx *ctx, enum ward_tls_role role,
			 struct ward_tls_session *out) WARD_MUST_CHECK;

/* The verified peer's SPIFFE ID, checked against the X509-SVID rules and
 * required to be in ctx's trust domain or one it federates with. wolfSSL has
 * already verified the chain (against the bundle of the leaf's own trust
 * domain, see federation.h); this adds what the SPIFFE standards ask of the
 * leaf. Authorization policy then decides which of those IDs may talk. */
int ward_tls_ctx_peer_id(WOLFSSL *ssl, const struct ward_tls_ctx *ctx, char *id,
			 size_t id_len) WARD_MUST_CHECK;

#endif
