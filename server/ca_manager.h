/* `ward server`'s certificate authorities and their rotation, in SPIRE's
 * schedule (spire/pkg/server/ca/manager.go):
 *
 *   - one CA is ACTIVE: it signs every SVID;
 *   - at 1/2 of the active CA's lifetime the next CA is PREPARED: created and
 *     added to the trust bundle, so peers learn it well before it signs;
 *   - at 5/6 the prepared CA becomes ACTIVE and the old one OLD;
 *   - the bundle is every CA that has not expired, so successive bundles
 *     overlap and an SVID stays verifiable for all of its life.
 *
 * Two modes. Self-signed (the default): every CA is a root of its own
 * (certs/ca.h), so a CA rotation is also a trust anchor rotation, spread over
 * the overlap above. Upstream: the CAs are intermediates signed by an
 * upstream CA given as files (cert chain, key, bundle); the trust bundle is
 * the upstream bundle, and SVID chains carry the intermediate (and the
 * upstream chain below its root).
 *
 * Forced rotation for drills, in two steps so that no peer ever meets a
 * signer it has not been told about (server/rotation.h runs them):
 *   - prepare: a prepared CA (the scheduled one if there is one, else a new
 *     one) goes into the bundle; with fresh_root (self-signed mode only) it
 *     is always a new root, and a CA prepared earlier becomes OLD;
 *   - activate, once every workload has been sent that bundle: the prepared
 *     CA signs from now on; the old CA stays in the bundle until it expires,
 *     as in the schedule, or, with retire_old (a root rotation), every older
 *     CA leaves the bundle as soon as the last SVID it signed has expired,
 *     rather than at its own expiry: the old trust anchor is retired.
 *
 * State lives in data_dir (spiffe/ca_store.h) and is reloaded on restart; a
 * CA key never leaves this process except into its 0600 file.
 *
 * Time is passed in (seconds since the epoch), so the schedule is tested
 * with an injected clock. */
#ifndef WARD_SPIFFE_CA_MANAGER_H
#define WARD_SPIFFE_CA_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "certs/ca.h"
#include "certs/key.h"
#include "certs/svid.h"

#define WARD_CA_BACKDATE_S 10 /* not_before in the past: clock skew between hosts */
#define WARD_CA_MAX_SLOTS 16

enum ward_ca_state { WARD_CA_PREPARED, WARD_CA_ACTIVE, WARD_CA_OLD };

struct ward_ca_slot {
	unsigned id; /* 1, 2, ...: names its files in data_dir */
	enum ward_ca_state state;
	struct ward_key *key; /* owned */
	struct ward_der cert; /* owned */
	time_t not_before, not_after;
	time_t issued_at;    /* not_before without the backdating: its life starts here */
	time_t issued_until; /* latest not_after of an SVID this CA signed; 0 if none */
	time_t drop_at;	     /* 0, or when it leaves the bundle before expiring */
	char serial_hex[2 * WARD_SVID_SERIAL_MAX + 1];
};

struct ward_ca_manager_config {
	const char *trust_domain;
	const char *data_dir;
	unsigned ca_ttl_s;
	/* Upstream mode when cert is set (then key and bundle are too). */
	const char *upstream_cert, *upstream_key, *upstream_bundle;
	/* For `ward server --check`: everything is loaded and checked, and a CA
	 * the schedule asks for is made in memory, but data_dir is neither
	 * created nor written. */
	bool read_only;
};

struct ward_ca_manager;

/* Loads the CAs kept in data_dir (creating it 0700), drops expired ones,
 * makes sure one is active, and applies the schedule at now. */
int ward_ca_manager_new(const struct ward_ca_manager_config *cfg, time_t now,
			struct ward_ca_manager **out) WARD_MUST_CHECK;
void ward_ca_manager_free(struct ward_ca_manager *m);

/* Applies the schedule at now: prepares, activates, drops from the bundle.
 * *changed is set when the bundle or the active CA changed. */
int ward_ca_manager_tick(struct ward_ca_manager *m, time_t now, bool *changed) WARD_MUST_CHECK;
/* When tick next has something to do (never before now + 1). */
time_t ward_ca_manager_next_event(const struct ward_ca_manager *m, time_t now);

/* Forced rotation, step one: *id is the prepared CA, now in the bundle.
 * WARD_ERR_UNSUPPORTED for fresh_root in upstream mode: that trust anchor is
 * upstream's. */
int ward_ca_manager_prepare(struct ward_ca_manager *m, time_t now, bool fresh_root,
			    unsigned *id) WARD_MUST_CHECK;
/* Step two: CA id (prepared, or already made active by the schedule) is the
 * active one. WARD_ERR_NOTFOUND when it is gone. */
int ward_ca_manager_activate(struct ward_ca_manager *m, unsigned id, time_t now,
			     bool retire_old) WARD_MUST_CHECK;

/* The active CA, which signs SVIDs. */
const struct ward_ca_slot *ward_ca_manager_active(const struct ward_ca_manager *m);
/* Whether the active CA was made by this manager rather than loaded from
 * data_dir (in read_only mode: one that a real start would create). */
bool ward_ca_manager_active_is_new(const struct ward_ca_manager *m);
/* All CAs kept (active, prepared, old), for the admin listing. */
const struct ward_ca_slot *ward_ca_manager_slots(const struct ward_ca_manager *m, size_t *n);
/* Records that the active CA signed a certificate valid until not_after
 * (persisted: retiring a root waits for it). */
int ward_ca_manager_note_issued(struct ward_ca_manager *m, time_t not_after) WARD_MUST_CHECK;

/* The trust bundle at now: the certificates to trust for this trust domain,
 * as up to max borrowed copies in out[] (valid until the next tick or
 * rotation; not to be freed). Returns the count. */
size_t ward_ca_manager_bundle(const struct ward_ca_manager *m, time_t now, struct ward_der *out,
			      size_t max);
/* The certificates that follow an SVID in its chain, borrowed likewise: the
 * active CA when it is an intermediate, then the upstream chain below its
 * root. None in self-signed mode, as SPIRE: a root is not sent, peers have
 * it in their bundle. Returns the count. */
size_t ward_ca_manager_chain(const struct ward_ca_manager *m, struct ward_der *out, size_t max);
/* Bumped whenever the bundle or the active CA changes. */
uint64_t ward_ca_manager_version(const struct ward_ca_manager *m);
bool ward_ca_manager_is_upstream(const struct ward_ca_manager *m);

/* The schedule itself, for a CA issued at issued_at that expires at
 * not_after (the backdated part of its validity does not count). */
time_t ward_ca_prepare_at(time_t issued_at, time_t not_after);
time_t ward_ca_activate_at(time_t issued_at, time_t not_after);

#endif
