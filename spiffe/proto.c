/* Protobuf wire format; the rules are in proto.h. */
#include "spiffe/proto.h"

static const char *wire_name(unsigned wire)
{
	switch (wire) {
	case WARD_PROTO_VARINT:
		return "varint";
	case WARD_PROTO_I64:
		return "i64";
	case WARD_PROTO_LEN:
		return "length-delimited";
	case WARD_PROTO_SGROUP:
		return "start group";
	case WARD_PROTO_EGROUP:
		return "end group";
	case WARD_PROTO_I32:
		return "i32";
	}
	return "undefined";
}

void ward_proto_reader_init(struct ward_proto_reader *r, const uint8_t *data, size_t len)
{
	r->data = data;
	r->len = len;
	r->off = 0;
}

bool ward_proto_reader_done(const struct ward_proto_reader *r)
{
	return r->off == r->len;
}

/* Little-endian base-128: the low 7 bits of each byte, least significant
 * group first, the top bit set on every byte but the last. The tenth byte
 * holds bit 63 only. */
int ward_proto_read_varint(struct ward_proto_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (size_t i = 0;; i++) {
		uint8_t b;

		ENSURE(i < r->len - r->off, WARD_ERR_INVALID,
		       "varint at offset %zu cut short by the end of the message", r->off);
		b = r->data[r->off + i];
		if (i == WARD_PROTO_VARINT_MAX - 1) {
			ENSURE(!(b & 0x80), WARD_ERR_INVALID,
			       "varint at offset %zu longer than 10 bytes", r->off);
			ENSURE(b <= 1, WARD_ERR_INVALID, "varint at offset %zu over 64 bits",
			       r->off);
		}
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			r->off += i + 1;
			*v = x;
			return 0;
		}
	}
}

int ward_proto_read_tag(struct ward_proto_reader *r, uint32_t *field, enum ward_proto_wire *wire)
{
	size_t at = r->off;
	uint64_t tag;
	unsigned w;

	GUARD(ward_proto_read_varint(r, &tag));
	ENSURE(tag >> 3 <= WARD_PROTO_FIELD_MAX, WARD_ERR_INVALID,
	       "field number %llu at offset %zu over the maximum of %u",
	       (unsigned long long)(tag >> 3), at, WARD_PROTO_FIELD_MAX);
	ENSURE(tag >> 3 != 0, WARD_ERR_INVALID, "field number 0 at offset %zu", at);
	w = (unsigned)(tag & 7);
	ENSURE(w != WARD_PROTO_SGROUP && w != WARD_PROTO_EGROUP, WARD_ERR_INVALID,
	       "field %llu at offset %zu: wire type %u (%s): groups are not supported",
	       (unsigned long long)(tag >> 3), at, w, wire_name(w));
	ENSURE(w <= WARD_PROTO_I32, WARD_ERR_INVALID,
	       "field %llu at offset %zu: wire type %u is undefined",
	       (unsigned long long)(tag >> 3), at, w);
	*field = (uint32_t)(tag >> 3);
	*wire = (enum ward_proto_wire)w;
	return 0;
}

int ward_proto_read_bytes(struct ward_proto_reader *r, const uint8_t **p, size_t *len)
{
	size_t at = r->off;
	uint64_t n;

	GUARD(ward_proto_read_varint(r, &n));
	if (n > r->len - r->off) {
		size_t left = r->len - r->off;

		r->off = at;
		return ward_err_set(WARD_ERR_INVALID, "length %llu past end of message (%zu left)",
				    (unsigned long long)n, left);
	}
	*p = r->data + r->off;
	*len = (size_t)n;
	r->off += (size_t)n;
	return 0;
}

static int skip_fixed(struct ward_proto_reader *r, size_t n, const char *what)
{
	ENSURE(n <= r->len - r->off, WARD_ERR_INVALID,
	       "%s at offset %zu cut short by the end of the message", what, r->off);
	r->off += n;
	return 0;
}

int ward_proto_skip(struct ward_proto_reader *r, enum ward_proto_wire wire)
{
	const uint8_t *p;
	uint64_t v;
	size_t n;

	switch (wire) {
	case WARD_PROTO_VARINT:
		return ward_proto_read_varint(r, &v);
	case WARD_PROTO_I64:
		return skip_fixed(r, 8, "i64");
	case WARD_PROTO_LEN:
		return ward_proto_read_bytes(r, &p, &n);
	case WARD_PROTO_I32:
		return skip_fixed(r, 4, "i32");
	case WARD_PROTO_SGROUP:
	case WARD_PROTO_EGROUP:
		break;
	}
	return ward_err_set(WARD_ERR_INVALID, "cannot skip wire type %u (%s)", (unsigned)wire,
			    wire_name((unsigned)wire));
}

int ward_proto_want_wire(enum ward_proto_wire wire, enum ward_proto_wire want)
{
	ENSURE(wire == want, WARD_ERR_INVALID, "wire type %u (%s), expected %u (%s)",
	       (unsigned)wire, wire_name((unsigned)wire), (unsigned)want,
	       wire_name((unsigned)want));
	return 0;
}

int ward_proto_write_varint(struct ward_buf *out, uint64_t v)
{
	uint8_t b[WARD_PROTO_VARINT_MAX];
	size_t n = 0;

	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return ward_buf_append(out, b, n);
}

int ward_proto_write_tag(struct ward_buf *out, uint32_t field, enum ward_proto_wire wire)
{
	ENSURE(field >= 1 && field <= WARD_PROTO_FIELD_MAX, WARD_ERR_INVALID,
	       "field number %u out of range 1..%u", field, WARD_PROTO_FIELD_MAX);
	ENSURE(wire == WARD_PROTO_VARINT || wire == WARD_PROTO_I64 || wire == WARD_PROTO_LEN ||
		   wire == WARD_PROTO_I32,
	       WARD_ERR_INVALID, "field %u: cannot write wire type %u (%s)", field, (unsigned)wire,
	       wire_name((unsigned)wire));
	return ward_proto_write_varint(out, (uint64_t)field << 3 | (uint64_t)wire);
}

int ward_proto_write_bytes(struct ward_buf *out, uint32_t field, const uint8_t *p, size_t len)
{
	GUARD(ward_proto_write_tag(out, field, WARD_PROTO_LEN));
	GUARD(ward_proto_write_varint(out, len));
	return ward_buf_append(out, p, len);
}

int ward_proto_write_message(struct ward_buf *out, uint32_t field, ward_proto_encode_fn encode,
			     const void *msg)
{
	struct ward_buf tmp;
	int rc;

	ward_buf_init(&tmp, ward_buf_limit(out));
	rc = encode(msg, &tmp);
	if (rc == 0)
		rc = ward_proto_write_bytes(out, field, tmp.data, ward_buf_len(&tmp));
	ward_buf_free(&tmp);
	return rc;
}
