/* What `ward server`'s Workload API answers (the wire is spiffe/wl_server.h):
 *
 *   a call is attested (spiffe/attest.h) and matched against the
 *   registration once, when it starts; no matching entry is
 *   PermissionDenied "no identity issued", as in SPIRE;
 *
 *   FetchX509SVID: one X509SVID per matching entry (the first is the
 *   default; at most WARD_WL_MAX_SVIDS), each with its chain, its own
 *   PKCS#8 key, the trust domain's bundle and the entry's hint; and
 *   federated_bundles for the trust domains the entries federate with,
 *   keyed "spiffe://<trust domain>" as SPIRE keys them;
 *
 *   FetchX509Bundles: the trust domain's bundle and the same federated
 *   bundles, keyed likewise.
 *
 * Each message is the whole current state; the server sends a new one when
 * it differs from the last (an SVID rotated, the bundle changed). */
#ifndef WARD_SPIFFE_WL_SERVICE_H
#define WARD_SPIFFE_WL_SERVICE_H

#include <stddef.h>
#include <time.h>

#include "lib/buf.h"
#include "certs/pem.h"
#include "server/attest.h"
#include "server/ca_manager.h"
#include "server/issuer.h"
#include "server/registration.h"
#include "server/wl_server.h"

/* A federated trust domain's bundle, as configured. */
struct ward_wl_fed_bundle {
	char *td_id;	     /* owned: "spiffe://<trust domain>" */
	struct ward_der der; /* owned: the bundle's certificates, concatenated */
};

struct ward_wl_service {
	const char *trust_domain;
	const struct ward_registration *reg;
	struct ward_issuer *issuer;
	struct ward_ca_manager *ca;
	const struct ward_wl_fed_bundle *fed;
	size_t n_fed;
	struct ward_attest_opts attest;
	time_t (*now)(void);
};

/* The ops for ward_wl_server_start(), with a struct ward_wl_service as arg. */
extern const struct ward_wl_ops ward_wl_service_ops;

#endif
