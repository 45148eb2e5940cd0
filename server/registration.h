/* Registration entries for `ward server`: which SPIFFE ID a workload gets,
 * from a JSON file:
 *
 *   { "entries": [
 *       { "spiffe_id": "spiffe://example.org/web",
 *         "selectors": ["unix:uid:1000", "unix:path:/usr/bin/web"],
 *         "federates_with": ["partner.org"],     // optional
 *         "hint": "web",                          // optional
 *         "x509_svid_ttl_s": 600 }                // optional
 *   ] }
 *
 * As in SPIRE, a caller gets every entry whose selectors are ALL among its
 * own (spiffe/attest.h), in file order; the first is its default SVID. An
 * entry needs at least one selector; its SPIFFE ID must be in the server's
 * trust domain and have a path (X509-SVID §3.1). Errors name the entry index
 * and the key ("entries[2].selectors[0]: kind must be uid, ...").
 *
 * A registration is immutable once loaded: reloading builds a new one. */
#ifndef WARD_SPIFFE_REGISTRATION_H
#define WARD_SPIFFE_REGISTRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "server/attest.h"
#include "spiffe/id.h"

#define WARD_REG_MAX_ENTRIES 10000
#define WARD_REG_MAX_SELECTORS 32 /* per entry */
#define WARD_REG_MAX_FEDERATES 32 /* per entry */
#define WARD_REG_HINT_MAX 256

struct ward_reg_entry {
	struct ward_spiffe_id id;
	char **selectors; /* owned; n_selectors >= 1, each checked */
	size_t n_selectors;
	char **federates_with; /* owned; bare trust domain names */
	size_t n_federates_with;
	char *hint;		  /* owned; NULL if none */
	unsigned x509_svid_ttl_s; /* 0: the server's svid_ttl_s */
};

struct ward_registration {
	struct ward_reg_entry *entries; /* owned */
	size_t n;
	bool uses_sha256; /* some entry has a unix:sha256 selector */
};

/* Parses and validates the file at path for trust domain td (a bare name). */
int ward_registration_load_file(const char *path, const char *td,
				struct ward_registration **out) WARD_MUST_CHECK;
/* The same for JSON text; name is used in reasons. */
int ward_registration_load_string(const char *name, const char *json, const char *td,
				  struct ward_registration **out) WARD_MUST_CHECK;
void ward_registration_free(struct ward_registration *reg);

/* Stores in idx[] (up to max) the indices of the entries whose selectors are
 * all in sel, in file order, and returns how many matched in all. */
size_t ward_registration_match(const struct ward_registration *reg,
			       const struct ward_selectors *sel, size_t *idx, size_t max);

#endif
