/* X509-SVIDs for registration entries, as a SPIRE agent keeps them: one SVID
 * per entry, shared by every caller that matches the entry, each with a
 * fresh P-256 key of its own (a workload gets only the keys of its own
 * entries), signed by the active CA, valid for the entry's TTL (or the
 * server's svid_ttl_s) but never past the CA's expiry.
 *
 * Rotation (SPIRE's: at half the SVID's life): an SVID that open streams
 * hold is re-issued at half its life, and at once when the active CA
 * changes (the new CA has been in every bundle since it was prepared, so
 * peers already trust it). An SVID nobody holds is dropped instead, and a
 * later caller gets a fresh one. Each (re)issue bumps the SVID's generation,
 * which is how the Workload API server knows to push. */
#ifndef WARD_SPIFFE_ISSUER_H
#define WARD_SPIFFE_ISSUER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "certs/key.h"
#include "certs/svid.h"
#include "server/ca_manager.h"
#include "server/registration.h"

struct ward_issued {
	struct ward_spiffe_id id;
	struct ward_key *key;	   /* owned */
	struct ward_der key_pkcs8; /* owned, zeroed when freed: the x509_svid_key field */
	struct ward_der chain;	   /* owned: leaf DER, then the CA chain, concatenated */
	size_t leaf_len;	   /* chain.data[0 .. leaf_len) is the leaf */
	time_t not_before, not_after;
	time_t issued_at; /* not_before without the backdating */
	unsigned ca_id;	  /* the CA that signed it */
	char serial_hex[2 * WARD_SVID_SERIAL_MAX + 1];
	uint64_t generation;
};

struct ward_issuer;

int ward_issuer_new(const struct ward_registration *reg, unsigned default_ttl_s,
		    struct ward_issuer **out) WARD_MUST_CHECK;
void ward_issuer_free(struct ward_issuer *iss);

/* The current SVID of entry i, issued now if there is none or it is due
 * for rotation. Borrowed until the next call into the issuer. */
int ward_issuer_get(struct ward_issuer *iss, size_t i, struct ward_ca_manager *ca, time_t now,
		    const struct ward_issued **out) WARD_MUST_CHECK;
/* A stream starts / stops using entry i's SVID. */
void ward_issuer_hold(struct ward_issuer *iss, size_t i);
void ward_issuer_put(struct ward_issuer *iss, size_t i);
unsigned ward_issuer_holders(const struct ward_issuer *iss, size_t i);

/* Rotates what is due at now; *changed when an SVID that streams hold was
 * re-issued. */
int ward_issuer_tick(struct ward_issuer *iss, struct ward_ca_manager *ca, time_t now,
		     bool *changed) WARD_MUST_CHECK;
/* Re-issues every SVID now (an admin's forced rotation). */
int ward_issuer_rotate_all(struct ward_issuer *iss, struct ward_ca_manager *ca,
			   time_t now) WARD_MUST_CHECK;
/* When tick next has something to do (0: nothing issued). */
time_t ward_issuer_next_event(const struct ward_issuer *iss);

/* The SVIDs issued, indexed by entry (NULL where none is), for listings. */
const struct ward_issued *ward_issuer_at(const struct ward_issuer *iss, size_t i);
size_t ward_issuer_count(const struct ward_issuer *iss);

/* Half-life: when an SVID issued at issued_at that expires at not_after is
 * rotated (the backdated part of its validity does not count: a 4-second
 * SVID is rotated after 2 seconds). */
time_t ward_issuer_rotate_at(time_t issued_at, time_t not_after);

#endif
