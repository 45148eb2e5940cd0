/* SPIFFE IDs, parsed and validated exactly per the SPIFFE ID standard
 * (spiffe/spiffe standards/SPIFFE-ID.md):
 *
 *   spiffe://<trust domain>[/<segment>]*
 *
 * - scheme "spiffe", lowercase, followed by "://"                     (§2)
 * - trust domain: 1..255 bytes of [a-z0-9.-_]; no userinfo, no port  (§2.1, §2.3)
 * - path: zero or more "/segment", each segment 1+ bytes of
 *   [a-zA-Z0-9.-_], never "." or ".."; no trailing "/"               (§2.2)
 * - no query, fragment or percent-encoding                            (§2, §2.2)
 * - at most 2048 bytes in all                                          (§2.3)
 *
 * Comparison is byte-wise: the rules above leave exactly one spelling of each
 * ID, so there is no normalisation to do.
 *
 * Input is wire data: pointer + length, not NUL-terminated, and an embedded
 * NUL byte makes the ID invalid. */
#ifndef WARD_SPIFFE_ID_H
#define WARD_SPIFFE_ID_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define WARD_SPIFFE_ID_MAX 2048 /* bytes, SPIFFE-ID §2.3 */
#define WARD_SPIFFE_TD_MAX 255	/* bytes, SPIFFE-ID §2.3 (RFC 3986 host) */
#define WARD_SPIFFE_SCHEME "spiffe://"
#define WARD_SPIFFE_SCHEME_LEN 9

/* A validated SPIFFE ID. Self-contained (no pointers), so it may be copied by
 * value or memcpy. Fill it only with ward_spiffe_id_parse(). */
struct ward_spiffe_id {
	char text[WARD_SPIFFE_ID_MAX + 1]; /* the ID, NUL-terminated */
	size_t len;			   /* strlen(text) */
	size_t td_len;			   /* trust domain is text[9 .. 9 + td_len) */
};

/* Validates s[0..len) and copies it into *out. On failure returns
 * WARD_ERR_INVALID with a reason naming the rule, e.g.
 * `spiffe id "spiffe://Example.org/x": trust domain has an uppercase letter`,
 * and leaves *out as an empty ID (len 0). */
int ward_spiffe_id_parse(const char *s, size_t len, struct ward_spiffe_id *out) WARD_MUST_CHECK;

/* The quiet form of the same validation, for hot paths and pattern matching:
 * NULL if s[0..len) is a valid SPIFFE ID, otherwise a static string naming the
 * rule it breaks ("trust domain has an uppercase letter"). Sets no reason. */
const char *ward_spiffe_id_check(const char *s, size_t len);

/* Validates a bare trust domain name ("example.org", no scheme), as found in
 * configuration, per SPIFFE-ID §2.1 and §2.3. WARD_ERR_INVALID with a reason. */
int ward_spiffe_trust_domain_validate(const char *td, size_t len) WARD_MUST_CHECK;

/* The trust domain of id: returns a pointer into id->text (not NUL-terminated)
 * and stores its length in *len. */
const char *ward_spiffe_id_trust_domain(const struct ward_spiffe_id *id, size_t *len);

/* The path of id, NUL-terminated, starting with "/"; "" for the ID of the
 * trust domain itself (spiffe://example.org). Points into id->text. */
const char *ward_spiffe_id_path(const struct ward_spiffe_id *id);

/* True if id belongs to the trust domain td[0..len) (a bare name). */
bool ward_spiffe_id_member_of(const struct ward_spiffe_id *id, const char *td, size_t len);

bool ward_spiffe_id_equal(const struct ward_spiffe_id *a, const struct ward_spiffe_id *b);

#endif
