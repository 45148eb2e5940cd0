/* The client of a JSON-line exchange over a unix socket: connect, send one
 * JSON object on one line, read one JSON object on one line back, close.
 * `ward server`'s admin socket speaks it (server/ctl.h); `ward server
 * rotate` and `ward drill` call it.
 *
 * A call runs on a libuv loop (lib/stream.h) and never blocks it. It ends
 * exactly once, through its callback, on a later loop turn: with the reply,
 * or with the reason it failed (cannot connect, the peer closed before a
 * whole line, a reply that is not one JSON object, the timeout). A reply is
 * bounded by WARD_JSONLINE_MAX bytes. */
#ifndef WARD_JSONLINE_H
#define WARD_JSONLINE_H

#include <jansson.h>
#include <uv.h>

#include "lib/err.h"

#define WARD_JSONLINE_MAX (16 * 1024 * 1024)

/* reply: a new reference the callback owns, or NULL when the call failed,
 * and then error says why (valid during the callback). */
typedef void (*ward_jsonline_cb)(void *arg, json_t *reply, const char *error);

struct ward_jsonline;

/* Starts a call of request (not kept) to the socket at path. *out, when
 * asked for, identifies the call until its callback has run. */
int ward_jsonline_call(uv_loop_t *loop, const char *path, const json_t *request,
		       unsigned timeout_ms, ward_jsonline_cb cb, void *arg,
		       struct ward_jsonline **out) WARD_MUST_CHECK;
/* Ends a call early: the callback runs (later) with error "cancelled". */
void ward_jsonline_cancel(struct ward_jsonline *call);

/* One call on a loop of its own, for command-line tools: *reply is a new
 * reference; on failure the reason is in ward_err_msg(). */
int ward_jsonline_call_sync(const char *path, const json_t *request, unsigned timeout_ms,
			    json_t **reply) WARD_MUST_CHECK;

#endif
