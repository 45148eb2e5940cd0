/* HTTP/2 glue on libnghttp2: one session over a byte transport the owner
 * moves (a unix socket for the Workload API server, a TLS session over TCP
 * for the mesh tunnel). The session never touches a socket: bytes read go in
 * with ward_h2_recv, and ward_h2_collect gathers everything the session has
 * to send into one block, so the frames of every stream that became ready in
 * the same loop turn leave in one write (one TLS record run, one syscall).
 *
 * Every session gets the same defences, whatever its role: a bounded header
 * list, a cap on CONTINUATION frames, on SETTINGS entries, on queued
 * control-frame acknowledgements, and on the rate of stream resets
 * (CVE-2023-44487, "rapid reset"), all enforced inside nghttp2. */
#ifndef WARD_H2_H
#define WARD_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "lib/buf.h"
#include "lib/err.h"

struct ward_h2_settings {
	uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS we accept */
	uint32_t max_header_list;	 /* SETTINGS_MAX_HEADER_LIST_SIZE, bytes */
	uint32_t stream_window;		 /* SETTINGS_INITIAL_WINDOW_SIZE; 0: 65535 */
	uint32_t conn_window;		 /* the connection's receive window; 0: 65535 */
	/* The owner calls nghttp2_session_consume() for bytes it has passed on,
	 * so a stream's window is its receive buffer (no automatic WINDOW_UPDATE,
	 * RFC 9113 §5.2). */
	bool manual_window;
	bool no_push; /* client: SETTINGS_ENABLE_PUSH 0 */
	/* The peer's SETTINGS_MAX_CONCURRENT_STREAMS assumed until its first
	 * SETTINGS arrives (0: nghttp2's 100). */
	uint32_t peer_max_streams;
};

/* A session in the given role with these settings queued as its first frame
 * (and a WINDOW_UPDATE on stream 0 when conn_window is above the default). */
int ward_h2_session_new(nghttp2_session **out, bool server, const nghttp2_session_callbacks *cb,
			void *user, const struct ward_h2_settings *s) WARD_MUST_CHECK;

/* Bytes from the transport into the session. WARD_ERR_INVALID when the peer
 * broke the protocol (the session has queued its GOAWAY: flush it, then
 * close), WARD_ERR_NOMEM, WARD_ERR_RANGE for a flood nghttp2 refused. */
int ward_h2_recv(nghttp2_session *s, const uint8_t *data, size_t len) WARD_MUST_CHECK;

/* Appends what the session has to send to out, whole frames, until out
 * holds max bytes or more, or the session has nothing more; out's limit
 * must leave room for one frame past max. Owners of DATA frames sent with
 * NGHTTP2_DATA_FLAG_NO_COPY append them to the same buffer from their
 * send_data callback, so a frame's payload is copied once. */
int ward_h2_collect(nghttp2_session *s, struct ward_buf *out, size_t max) WARD_MUST_CHECK;

/* Neither side has anything more to say (both sent GOAWAY and every stream
 * closed, or the session failed): close the transport once it is flushed. */
bool ward_h2_finished(nghttp2_session *s);

/* "name" equals the header field bytes p[0..len). */
bool ward_h2_is(const uint8_t *p, size_t len, const char *name);

#endif
