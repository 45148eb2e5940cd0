/* A SPIFFE Workload API client stream: FetchX509SVID over gRPC (HTTP/2 with
 * prior knowledge over a unix socket), as SPIRE's agent serves it
 * (SPIFFE Workload API standard, sections 5 and 6; Workload Endpoint
 * standard). Built on libcurl's multi-socket interface driven by the
 * caller's libuv loop: no thread of its own, no blocking call.
 *
 * The stream is kept open. Each message is the full current state and goes
 * to on_response. When the stream ends or fails, on_error reports why and the
 * client reconnects with exponential backoff (with jitter, so that the
 * sidecars of a node do not stampede a restarted SPIRE agent) — except for
 * InvalidArgument and Unimplemented, which the standard says not to retry:
 * the client then stays stopped until ward_wlclient_restart (SIGHUP).
 * A message that cannot be decoded is reported and skipped; the stream
 * stays up. Callbacks never run synchronously from start/restart. */
#ifndef WARD_WLCLIENT_H
#define WARD_WLCLIENT_H

#include <stdbool.h>
#include <uv.h>

#include "lib/err.h"
#include "spiffe/workload_msg.h"

struct ward_wlclient;

/* Why the stream is not delivering: a gRPC status from the server, or a
 * transport failure (no socket, not HTTP/2, cut mid-message...). */
struct ward_wlclient_error {
	int grpc_status;      /* enum ward_grpc_status, or -1 for a transport failure */
	const char *code;     /* bounded label: "unavailable", "transport", ... */
	const char *message;  /* for people: the server's grpc-message or curl's reason */
	bool retrying;	      /* false: stopped until ward_wlclient_restart */
	unsigned retry_in_ms; /* when retrying */
};

struct ward_wlclient_callbacks {
	/* A decoded X509SVIDResponse, borrowed for the call. */
	void (*on_response)(const struct ward_wl_x509_svid_response *resp, void *arg);
	/* A message that arrived but could not be decoded; the stream goes on. */
	void (*on_bad_message)(const char *reason, void *arg);
	void (*on_error)(const struct ward_wlclient_error *err, void *arg);
	/* The server answered the call (HTTP 200, gRPC content type). */
	void (*on_connected)(void *arg);
};

/* endpoint is "unix:///path" (config.c validates it). */
int ward_wlclient_start(uv_loop_t *loop, const char *endpoint,
			const struct ward_wlclient_callbacks *cb, void *arg,
			struct ward_wlclient **out) WARD_MUST_CHECK;
/* Drops the current stream (if any) and dials again now, backoff reset. */
void ward_wlclient_restart(struct ward_wlclient *c);
/* Closes the stream and frees the client once its handles have closed; no
 * callback runs after this returns. Safe on NULL. */
void ward_wlclient_stop(struct ward_wlclient *c);

#endif
