/* gRPC Length-Prefixed-Message framing and grpc-message encoding; the rules
 * are in grpc.h. */
#include "spiffe/grpc.h"

#include <string.h>

#define FLAG_COMPRESSED 1

/* All of gRPC's codes, not only those ward sends or acts on: a peer may send
 * any of them, and the name is what shows in logs and metric labels. */
static const char *const status_names[] = {
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
};

const char *ward_grpc_status_name(int status)
{
	if (status < 0 || (size_t)status >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[status];
}

int ward_grpc_status_parse(const char *v)
{
	int n = 0;

	if (!*v || strlen(v) > 2 || strspn(v, "0123456789") != strlen(v))
		return WARD_GRPC_UNKNOWN;
	for (; *v; v++)
		n = n * 10 + (*v - '0');
	return n;
}

int ward_grpc_frame_append(struct ward_buf *out, const uint8_t *msg, size_t len)
{
	uint8_t prefix[WARD_GRPC_PREFIX_LEN] = {0};
	size_t before = ward_buf_len(out);
	int rc;

	ENSURE(len <= UINT32_MAX, WARD_ERR_RANGE, "gRPC message of %zu bytes over 4 GiB", len);
	prefix[1] = (uint8_t)(len >> 24);
	prefix[2] = (uint8_t)(len >> 16);
	prefix[3] = (uint8_t)(len >> 8);
	prefix[4] = (uint8_t)len;
	GUARD(ward_buf_append(out, prefix, sizeof(prefix)));
	rc = ward_buf_append(out, msg, len);
	if (rc < 0)
		ward_buf_truncate(out, before); /* never leave a prefix without its message */
	return rc;
}

/* Room for the message being assembled plus one more whole message, so that
 * a DATA chunk that finishes one message and carries the next still fits
 * when the caller drains the reader after every feed. A gRPC length is 32
 * bits, which bounds max_message and keeps the sum from wrapping. */
void ward_grpc_reader_init(struct ward_grpc_reader *r, size_t max_message)
{
	if (max_message > UINT32_MAX)
		max_message = UINT32_MAX;
	r->max_message = max_message;
	ward_buf_init(&r->in, 2 * (max_message + WARD_GRPC_PREFIX_LEN));
}

int ward_grpc_reader_feed(struct ward_grpc_reader *r, const uint8_t *p, size_t n)
{
	int rc = ward_buf_append(&r->in, p, n);

	if (rc == WARD_ERR_RANGE)
		return ward_err_set(rc, "gRPC stream: %zu bytes pending and %zu more exceed %zu",
				    ward_buf_len(&r->in), n, ward_buf_limit(&r->in));
	return rc;
}

static const uint8_t *pending(const struct ward_grpc_reader *r)
{
	return ward_buf_peek(&r->in);
}

static uint32_t prefix_length(const uint8_t *prefix)
{
	return (uint32_t)prefix[1] << 24 | (uint32_t)prefix[2] << 16 | (uint32_t)prefix[3] << 8 |
	       (uint32_t)prefix[4];
}

/* The prefix is judged as soon as it is complete, before its message
 * arrives: a bad flag or length fails the stream without buffering it. An
 * error leaves the prefix in place, so every later call fails the same way. */
int ward_grpc_reader_next(struct ward_grpc_reader *r, const uint8_t **msg, size_t *len)
{
	const uint8_t *p;
	uint32_t n;

	if (ward_buf_len(&r->in) < WARD_GRPC_PREFIX_LEN)
		return WARD_ERR_WOULDBLOCK;
	p = pending(r);
	ENSURE(p[0] != FLAG_COMPRESSED, WARD_ERR_UNSUPPORTED,
	       "gRPC message is compressed, but no grpc-encoding was offered");
	ENSURE(p[0] == 0, WARD_ERR_INVALID, "gRPC message flag 0x%02x is not 0 or 1", p[0]);
	n = prefix_length(p);
	ENSURE(n <= r->max_message, WARD_ERR_RANGE,
	       "gRPC message of %u bytes over the limit of %zu", (unsigned)n, r->max_message);
	if (ward_buf_len(&r->in) - WARD_GRPC_PREFIX_LEN < n)
		return WARD_ERR_WOULDBLOCK;
	*msg = p + WARD_GRPC_PREFIX_LEN;
	*len = n;
	/* Consumed, but the bytes stay where they are until the next feed. */
	return ward_buf_consume(&r->in, WARD_GRPC_PREFIX_LEN + n);
}

bool ward_grpc_reader_partial(const struct ward_grpc_reader *r)
{
	size_t have = ward_buf_len(&r->in);

	if (have == 0)
		return false;
	return have < WARD_GRPC_PREFIX_LEN ||
	       have - WARD_GRPC_PREFIX_LEN < prefix_length(pending(r));
}

/* Zeroed: the messages carry private keys. */
void ward_grpc_reader_free(struct ward_grpc_reader *r)
{
	ward_buf_free(&r->in);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void ward_grpc_message_decode(const char *in, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	if (out_len == 0)
		return;
	for (size_t i = 0; i < len && o + 1 < out_len; i++) {
		int hi = i + 2 < len ? hex_value(in[i + 1]) : -1;
		int lo = i + 2 < len ? hex_value(in[i + 2]) : -1;

		if (in[i] == '%' && hi >= 0 && lo >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

/* Percent-Encoded = 1*(Percent-Byte-Unencoded / Percent-Byte-Encoded), where
 * the unencoded bytes are the printable ASCII %x20-%x7E except '%'. An escape
 * that does not fit whole is left out rather than cut. */
void ward_grpc_message_encode(const char *msg, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (out_len == 0)
		return;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
			if (o + 1 >= out_len)
				break;
			out[o++] = (char)*p;
			continue;
		}
		if (o + 3 >= out_len)
			break;
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 0xf];
	}
	out[o] = '\0';
}
