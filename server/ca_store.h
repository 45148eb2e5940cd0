/* Where `ward server` keeps its CAs (spiffe/ca_manager.h) across restarts:
 *
 *   <data_dir>/ca.json        which CAs exist, their state and schedule marks
 *   <data_dir>/ca-<id>.pem    each CA's certificate
 *   <data_dir>/ca-<id>.key    each CA's private key (PKCS#8 PEM, mode 0600)
 *
 * Every file is written atomically (agent/file.h); a CA's certificate and
 * key are written before ca.json names it, so ca.json never names a CA whose
 * files are missing. ca.json also records the upstream CA's certificate
 * digest: CAs signed under another upstream (or none) are not reloaded. */
#ifndef WARD_SPIFFE_CA_STORE_H
#define WARD_SPIFFE_CA_STORE_H

#include <stddef.h>

#include "lib/err.h"
#include "server/ca_manager.h"

#define WARD_CA_STORE_STATE "ca.json"

struct ward_ca_store {
	struct ward_ca_slot slots[WARD_CA_MAX_SLOTS];
	size_t n;
	unsigned next_id;
};

/* Reads the store of dir into *out (empty when dir holds none, or when it
 * was made under another upstream than upstream_digest, "" for none). A
 * CA whose files are missing, unreadable or do not belong together is an
 * error naming the file. */
int ward_ca_store_load(const char *dir, const char *upstream_digest,
		       struct ward_ca_store *out) WARD_MUST_CHECK;
/* Writes a new CA's certificate and key files. */
int ward_ca_store_put_slot(const char *dir, const struct ward_ca_slot *slot) WARD_MUST_CHECK;
/* Writes ca.json for the slots of store. */
int ward_ca_store_save(const char *dir, const char *upstream_digest,
		       const struct ward_ca_store *store) WARD_MUST_CHECK;
/* Removes a dropped CA's files (after ca.json stopped naming it). */
void ward_ca_store_remove_slot(const char *dir, unsigned id);

/* Frees one slot's key and certificate. */
void ward_ca_slot_free(struct ward_ca_slot *slot);

#endif
