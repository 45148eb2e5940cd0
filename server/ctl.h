/* `ward server`'s admin endpoint: a unix socket (mode 0600: root and the
 * server's own uid only) speaking one JSON object per line. A client sends
 * one request line and reads one response line; then the server closes.
 *
 *   {"command": "rotate", "what": "svids" | "ca" | "root"}
 *   {"command": "entries"}     registration entries
 *   {"command": "svids"}       SVIDs issued (no keys)
 *   {"command": "cas"}         the CAs and their state
 *
 * Responses are {"ok": true, ...} or {"ok": false, "error": "..."}. No
 * response ever carries a private key. Requests over 64 KiB, or not JSON,
 * get an error response. */
#ifndef WARD_SPIFFE_CTL_H
#define WARD_SPIFFE_CTL_H

#include <jansson.h>
#include <uv.h>

#include "lib/err.h"

#define WARD_ADMIN_MAX_LINE (64 * 1024)

/* Answers one request; returns a new reference (NULL: out of memory). */
typedef json_t *(*ward_ctl_fn)(void *arg, const json_t *request);

struct ward_ctl;

int ward_ctl_start(uv_loop_t *loop, const char *path, ward_ctl_fn fn, void *arg,
		   struct ward_ctl **out) WARD_MUST_CHECK;
/* Closes the listener and connections; freed once the handles closed. */
void ward_ctl_stop(struct ward_ctl *admin);

/* The client side (blocking, for the CLI): sends request to the socket at
 * path and returns the response in *response (a new reference). */
int ward_ctl_call(const char *path, const json_t *request, json_t **response) WARD_MUST_CHECK;

/* {"ok": false, "error": why}; for handlers. */
json_t *ward_ctl_error(const char *why);

#endif
