/* gRPC message framing and status codes, as the SPIFFE Workload API uses them
 * (gRPC over HTTP/2, https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 * Shared by the agent's Workload API client and `ward server`.
 *
 * On the wire every message is "Length-Prefixed-Message": one byte compressed
 * flag (ward never compresses, and refuses compressed input since it never
 * offers an encoding), a 4-byte big-endian length, then the protobuf bytes.
 * A DATA stream may split or join messages arbitrarily, so the reader
 * accumulates bytes and yields whole messages. */
#ifndef WARD_SPIFFE_GRPC_H
#define WARD_SPIFFE_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

/* A Workload API response carries a few certificates and keys; 4 MiB is
 * gRPC's own default receive limit. */
#define WARD_GRPC_MAX_MESSAGE (4u * 1024 * 1024)
#define WARD_GRPC_PREFIX_LEN 5

/* https://grpc.github.io/grpc/core/md_doc_statuscodes.html */
enum ward_grpc_status {
	WARD_GRPC_OK = 0,
	WARD_GRPC_CANCELLED = 1,
	WARD_GRPC_UNKNOWN = 2,
	WARD_GRPC_INVALID_ARGUMENT = 3,
	WARD_GRPC_DEADLINE_EXCEEDED = 4,
	WARD_GRPC_NOT_FOUND = 5,
	WARD_GRPC_PERMISSION_DENIED = 7,
	WARD_GRPC_RESOURCE_EXHAUSTED = 8,
	WARD_GRPC_UNIMPLEMENTED = 12,
	WARD_GRPC_INTERNAL = 13,
	WARD_GRPC_UNAVAILABLE = 14,
	WARD_GRPC_UNAUTHENTICATED = 16,
};

/* "permission_denied", ...: bounded names for logs and metric labels;
 * "unknown" for codes outside the table. */
const char *ward_grpc_status_name(int status);
/* A grpc-status header's value: "0".."16" and nothing else; anything else is
 * WARD_GRPC_UNKNOWN. */
int ward_grpc_status_parse(const char *v);

/* Appends the 5-byte prefix and msg to out. */
int ward_grpc_frame_append(struct ward_buf *out, const uint8_t *msg, size_t len) WARD_MUST_CHECK;

/* Accumulates DATA bytes; ward_grpc_reader_next yields one whole message at a
 * time, borrowed until the next call to feed/next/free. */
struct ward_grpc_reader {
	struct ward_buf in; /* owned */
	size_t max_message;
};
void ward_grpc_reader_init(struct ward_grpc_reader *r, size_t max_message);
/* WARD_ERR_RANGE when more than the message being assembled plus one more
 * maximum-size message is pending (a DATA chunk may finish one and start the
 * next; the caller drains with _next after every feed). */
int ward_grpc_reader_feed(struct ward_grpc_reader *r, const uint8_t *p, size_t n) WARD_MUST_CHECK;
/* 0 with *msg and *len set for a whole message; WARD_ERR_WOULDBLOCK when more bytes
 * are needed; WARD_ERR_UNSUPPORTED for a compressed message; WARD_ERR_RANGE
 * for a length over max_message. Errors are final for the stream. */
int ward_grpc_reader_next(struct ward_grpc_reader *r, const uint8_t **msg,
			  size_t *len) WARD_MUST_CHECK;
/* True when bytes of an unfinished message are buffered (a stream that ends
 * here was cut mid-message). */
bool ward_grpc_reader_partial(const struct ward_grpc_reader *r);
void ward_grpc_reader_free(struct ward_grpc_reader *r);

/* grpc-message is percent-encoded (PROTOCOL-HTTP2.md, "Responses"). Decodes
 * into out (always NUL-terminated, truncated to fit), invalid escapes kept
 * literally. */
void ward_grpc_message_decode(const char *in, size_t len, char *out, size_t out_len);
/* Percent-encodes msg for a grpc-message header into out (NUL-terminated,
 * truncated to fit). */
void ward_grpc_message_encode(const char *msg, char *out, size_t out_len);

#endif
