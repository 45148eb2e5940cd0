/* The protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
 * as much of it as the SPIFFE Workload API needs: ward has no protoc step, so
 * spiffe/workload_msg.c walks the fields of its few messages by hand.
 *
 * Reading borrows: a reader walks bytes it does not own, and bytes read out of
 * a length-delimited field point into them. Every read is bounds-checked
 * against the reader's own (ptr, len), so a nested message gets a reader over
 * exactly its bytes and can never read into its parent. On error a reason is
 * set that says what was wrong and where ("length 900 past end of message
 * (12 left)"); callers prefix it with the field's name.
 *
 * Writing appends to a struct ward_buf and stops at the buffer's limit. */
#ifndef WARD_SPIFFE_PROTO_H
#define WARD_SPIFFE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

/* Wire types ("Message Structure" in the encoding guide). Groups (3, 4) are
 * proto2's deprecated form of nested messages; proto3, which the Workload API
 * is written in, never produces them, so the reader refuses them. */
enum ward_proto_wire {
	WARD_PROTO_VARINT = 0,
	WARD_PROTO_I64 = 1,
	WARD_PROTO_LEN = 2,
	WARD_PROTO_SGROUP = 3,
	WARD_PROTO_EGROUP = 4,
	WARD_PROTO_I32 = 5,
};

/* Field numbers are 1 .. 2^29 - 1 (the tag keeps 3 bits for the wire type). */
#define WARD_PROTO_FIELD_MAX ((1u << 29) - 1)
/* A varint carries 64 bits in 7-bit groups: at most 10 bytes. */
#define WARD_PROTO_VARINT_MAX 10

struct ward_proto_reader {
	const uint8_t *data; /* borrowed */
	size_t len;
	size_t off; /* next byte to read; off <= len */
};

void ward_proto_reader_init(struct ward_proto_reader *r, const uint8_t *data, size_t len);
/* True when every byte has been read: the message ends here. */
bool ward_proto_reader_done(const struct ward_proto_reader *r);

/* Reads a field's tag. WARD_ERR_INVALID for field number 0 or over
 * WARD_PROTO_FIELD_MAX, a group or undefined (6, 7) wire type, or a bad
 * varint. */
int ward_proto_read_tag(struct ward_proto_reader *r, uint32_t *field,
			enum ward_proto_wire *wire) WARD_MUST_CHECK;
/* WARD_ERR_INVALID for a varint cut short by the end of the message, longer
 * than 10 bytes, or with bits beyond 64. */
int ward_proto_read_varint(struct ward_proto_reader *r, uint64_t *v) WARD_MUST_CHECK;
/* A length-delimited value: *p points into the reader's bytes. WARD_ERR_INVALID
 * when the length runs past the end of the message. */
int ward_proto_read_bytes(struct ward_proto_reader *r, const uint8_t **p,
			  size_t *len) WARD_MUST_CHECK;
/* Skips the value of a field of an unknown number, whatever its wire type. */
int ward_proto_skip(struct ward_proto_reader *r, enum ward_proto_wire wire) WARD_MUST_CHECK;
/* WARD_ERR_INVALID naming both wire types unless wire == want: a known field
 * sent with another type is a different schema, not a value to guess at. */
int ward_proto_want_wire(enum ward_proto_wire wire, enum ward_proto_wire want) WARD_MUST_CHECK;

int ward_proto_write_tag(struct ward_buf *out, uint32_t field,
			 enum ward_proto_wire wire) WARD_MUST_CHECK;
int ward_proto_write_varint(struct ward_buf *out, uint64_t v) WARD_MUST_CHECK;
/* Field number, length and bytes of a length-delimited field (string, bytes).
 */
int ward_proto_write_bytes(struct ward_buf *out, uint32_t field, const uint8_t *p,
			   size_t len) WARD_MUST_CHECK;
/* A nested message: encode(msg, tmp) writes its fields into a temporary
 * buffer, whose length then prefixes them in out. The temporary buffer is
 * zeroed when freed, since messages may carry private keys. */
typedef int (*ward_proto_encode_fn)(const void *msg, struct ward_buf *out);
int ward_proto_write_message(struct ward_buf *out, uint32_t field, ward_proto_encode_fn encode,
			     const void *msg) WARD_MUST_CHECK;

#endif
