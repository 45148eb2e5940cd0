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
 * get an error response. The client side is lib/jsonline.h. */
#ifndef WARD_SPIFFE_CTL_H
#define WARD_SPIFFE_CTL_H

#include <jansson.h>
#include <uv.h>

#include "lib/err.h"

#define WARD_ADMIN_MAX_LINE (64 * 1024)

/* One request on its way to its reply. */
struct ward_ctl_req;

/* Handles one request: answers it with ward_ctl_reply, now or later (a
 * forced rotation answers once it is done), exactly once. */
typedef void (*ward_ctl_fn)(void *arg, const json_t *request, struct ward_ctl_req *req);

struct ward_ctl;

int ward_ctl_start(uv_loop_t *loop, const char *path, ward_ctl_fn fn, void *arg,
		   struct ward_ctl **out) WARD_MUST_CHECK;
/* Closes the listener and connections; freed once the handles closed and
 * every request taken was replied to. */
void ward_ctl_stop(struct ward_ctl *admin);

/* Sends response (the reference is taken; NULL: out of memory, the client
 * sees the connection close) and ends req. A client that hung up meanwhile
 * gets nothing; req is released all the same. */
void ward_ctl_reply(struct ward_ctl_req *req, json_t *response);

/* {"ok": false, "error": why}; for handlers. */
json_t *ward_ctl_error(const char *why);

#endif
