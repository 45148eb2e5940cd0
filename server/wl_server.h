/* The SPIFFE Workload API's wire side in `ward server`: gRPC server streams
 * over HTTP/2 cleartext with prior knowledge (libnghttp2) on a libuv unix
 * socket listener, as SPIRE's agent serves it and go-spiffe and ward's own
 * client (agent/wlclient.h) speak it.
 *
 *   POST /SpiffeWorkloadAPI/FetchX509SVID      server stream
 *   POST /SpiffeWorkloadAPI/FetchX509Bundles   server stream
 *
 * A call starts when its request message has arrived; the response is
 * HEADERS (:status 200, content-type: application/grpc), one message with
 * the full current state, then a new message each time the state changes
 * (ward_wl_server_refresh), and trailers (grpc-status, grpc-message
 * percent-encoded) when the call ends. A call refused before any message
 * is answered "Trailers-Only" (PROTOCOL-HTTP2.md): one HEADERS frame with
 * the status. Statuses:
 *
 *   3  InvalidArgument   no "workload.spiffe.io: true" metadata
 *                        ("security header missing from request", SPIRE's text)
 *   7  PermissionDenied  the caller matches no entry ("no identity issued")
 *   12 Unimplemented     FetchJWTSVID, FetchJWTBundles, ValidateJWTSVID, any
 *                        other path
 *   8  ResourceExhausted a request message over 64 KiB
 *   13 Internal          no request message, a compressed one, attestation
 *                        failure
 *   14 Unavailable       the server is shutting down
 *
 * A non-POST request gets HTTP 405 and a content-type that is not
 * application/grpc HTTP 415, as the gRPC spec has servers do.
 *
 * Limits: every length from the wire is checked by nghttp2 (frames, HPACK)
 * or the gRPC reader (messages); a connection that breaks HTTP/2 (a bad
 * preface, garbage) is closed without affecting others; at most 100
 * concurrent streams per connection. Connections are held to struct
 * ward_wl_limits (wl_limits.c): the socket is open to every local user, so a
 * connection on which no call has been granted yet (no preface, no request,
 * or only refusals) is "pending" and pending ones have a budget of their own;
 * any connection with no call open is closed after idle_timeout_ms, and one
 * whose peer takes none of the output waiting for it for write_stall_ms is
 * closed too. Memory a burst of connections took is given back when it
 * ends (lib/trim.h).
 * Backpressure: a stream holds at most the message being sent and the
 * newest one waiting (older states are skipped: each is complete); a
 * connection whose peer does not read stops being read once 64 KiB wait
 * to be written, and is closed once it has taken nothing for
 * write_stall_ms. */
#ifndef WARD_SPIFFE_WL_SERVER_H
#define WARD_SPIFFE_WL_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "server/attest.h"

#define WARD_WL_WHY_MAX 256

/* A uid that has entries gets its calls granted at once and leaves the
 * pending budget, so room always remains for it: whatever a uid without
 * entries does, it holds at most max_pending_per_uid connections (its oldest
 * pending one goes first), all such uids together max_pending (the oldest
 * goes first), and never longer than idle_timeout_ms each. */
struct ward_wl_limits {
	unsigned max_connections;	  /* in all (1024) */
	unsigned max_connections_per_uid; /* from one uid (512) */
	unsigned max_pending;		  /* without a granted call yet (128) */
	unsigned max_pending_per_uid;	  /* ... its share when the budget is full (32) */
	unsigned idle_timeout_ms;	  /* with no call open: closed after (5000) */
	unsigned write_stall_ms; /* output waiting and none taken for this long: closed (10000) */
};
void ward_wl_limits_default(struct ward_wl_limits *l);

enum ward_wl_method {
	WARD_WL_FETCH_X509_SVID,
	WARD_WL_FETCH_X509_BUNDLES,
};

/* What a call's status is about, for the service to fill. */
struct ward_wl_status {
	int code; /* enum ward_grpc_status */
	char message[WARD_WL_WHY_MAX];
};

/* The service behind the wire (spiffe/wl_service.h). */
struct ward_wl_ops {
	/* A call from a caller with these kernel credentials (NULL when the
	 * kernel could not say). On WARD_GRPC_OK *call is its state, released
	 * by close; otherwise st says why. */
	void (*open)(void *arg, enum ward_wl_method method, const struct ward_attest_creds *creds,
		     void **call, struct ward_wl_status *st);
	/* The call's current message (protobuf bytes appended to msg), or a
	 * status that ends the call. */
	void (*build)(void *arg, void *call, struct ward_buf *msg, struct ward_wl_status *st);
	void (*close)(void *arg, void *call);
};

struct ward_wl_server;

/* Listens on path (an old socket file there is replaced) with mode 0777:
 * attestation, not file mode, decides what a caller gets, as in SPIRE. */
int ward_wl_server_start(uv_loop_t *loop, const char *path, const struct ward_wl_ops *ops,
			 void *arg, struct ward_wl_server **out) WARD_MUST_CHECK;
/* Replaces the limits (ward_wl_limits_default until then); connections
 * already open keep their place. */
void ward_wl_server_set_limits(struct ward_wl_server *srv, const struct ward_wl_limits *l);
/* Rebuilds every open call's message and sends those that changed. Returns
 * the generation of the state it sent: the number delivery is asked about. */
uint64_t ward_wl_server_refresh(struct ward_wl_server *srv);

/* Delivery of a state to every open call, for changes that must reach every
 * workload before the next one may follow (a forced CA rotation activates
 * its CA only once every stream was sent the bundle that holds it).
 * A call has been sent generation gen when a message of that generation or
 * later (or an identical one: an unchanged state is not sent again) has
 * been written to its socket in full: handed to the kernel, not merely
 * queued. A peer that does not read (its HTTP/2 window or our write queue
 * full) stays behind and is named in lag[]. */
#define WARD_WL_LAG_MAX 8
struct ward_wl_lag {
	pid_t pid; /* of the caller, as the kernel gave it; 0 when unknown */
	uid_t uid;
	int32_t stream;
};
struct ward_wl_delivery {
	size_t open;				 /* calls open */
	size_t sent;				 /* of them, sent gen or later */
	struct ward_wl_lag lag[WARD_WL_LAG_MAX]; /* the first of those behind */
	size_t n_lag;
};
void ward_wl_server_delivery(const struct ward_wl_server *srv, uint64_t gen,
			     struct ward_wl_delivery *out);
/* Ends every call with Unavailable, closes connections and the listener,
 * removes the socket file; the server is freed once its handles closed
 * (run the loop). */
void ward_wl_server_stop(struct ward_wl_server *srv);

#endif
