// SPIFFE ID patterns, as written in authorization policy
// (outbound.allowed_server_ids, inbound.allowed_client_ids).
//
// A pattern is a SPIFFE ID (spiffe/id.h) in which a whole path segment may be
// a wildcard:
//
//   *    matches exactly one path segment, whatever it is;
//   **   matches zero or more path segments; allowed only as the last segment.
//
// So "spiffe://example.org/**" matches spiffe://example.org/web,
// spiffe://example.org/ns/prod/sa/web and also the bare trust domain ID
// spiffe://example.org, and "spiffe://example.org/ns/*/sa/web" matches
// spiffe://example.org/ns/prod/sa/web but not .../ns/a/b/sa/web.
// Letting "**" match zero segments keeps the rule to one sentence ("this
// prefix, then anything") and is harmless for the root ID: no leaf SVID may
// carry it (X509-SVID §3.1), so it never reaches authorization as a peer.
//
// The trust domain is always literal: a wildcard there would let one pattern
// trust a domain its author never named. "*" inside a segment ("web-*") is
// not a wildcard and is refused, as "*" is not a SPIFFE ID path character.
// A pattern without wildcards matches exactly one ID, byte for byte.
// (Line comments here: the examples contain "/" followed by "*".)
#ifndef WARD_SPIFFE_PATTERN_H
#define WARD_SPIFFE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* Validates a NUL-terminated pattern: WARD_ERR_INVALID with a reason such as
 * `id pattern "spiffe://ex*.org/x": trust domain must be literal
 * (no wildcards)`. */
int ward_id_pattern_validate(const char *pattern) WARD_MUST_CHECK;

/* True if id[0..len) is a valid SPIFFE ID that pattern matches. An invalid
 * pattern or an invalid ID never matches. Sets no reason: callers log the
 * denial with both identities. */
bool ward_id_pattern_match(const char *pattern, const char *id, size_t id_len);

#endif
