/* libFuzzer target for everything that reads Workload API bytes off the
 * socket: the gRPC reader, the protobuf reader, the X509SVIDResponse and
 * X509BundlesResponse decoders and the DER splitter, plus the grpc-message
 * percent-decoding. Besides "no crash", it checks properties that a wrong
 * bounds check would break: decoded fields point inside the input, a decoded
 * message re-encodes to one that decodes the same, and messages the gRPC
 * reader yields frame back into the bytes it was fed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spiffe/grpc.h"
#include "spiffe/proto.h"
#include "spiffe/workload_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Borrowed bytes lie inside the message they were decoded from. */
static void check_inside(struct ward_wl_bytes b, const uint8_t *p, size_t n)
{
	if (b.len == 0)
		return;
	if (b.data < p || b.len > n || (size_t)(b.data - p) > n - b.len)
		abort();
}

static bool bytes_equal(struct ward_wl_bytes a, struct ward_wl_bytes b)
{
	return a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len));
}

static bool svid_equal(const struct ward_wl_svid *a, const struct ward_wl_svid *b)
{
	return bytes_equal(a->spiffe_id, b->spiffe_id) && bytes_equal(a->x509_svid, b->x509_svid) &&
	       bytes_equal(a->x509_svid_key, b->x509_svid_key) &&
	       bytes_equal(a->bundle, b->bundle) && bytes_equal(a->hint, b->hint);
}

static bool bundles_equal(const struct ward_wl_bundle *a, const struct ward_wl_bundle *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!bytes_equal(a[i].trust_domain, b[i].trust_domain) ||
		    !bytes_equal(a[i].bundle, b[i].bundle))
			return false;
	return true;
}

/* Every field, known or not, until the end or the first error. */
static void walk_fields(const uint8_t *p, size_t n)
{
	struct ward_proto_reader r;

	ward_proto_reader_init(&r, p, n);
	while (!ward_proto_reader_done(&r)) {
		enum ward_proto_wire wire;
		uint32_t field;

		if (ward_proto_read_tag(&r, &field, &wire) < 0 || ward_proto_skip(&r, wire) < 0)
			break;
		if (field == 0 || field > WARD_PROTO_FIELD_MAX || r.off > r.len)
			abort();
	}
}

static void svid_response(const uint8_t *p, size_t n)
{
	static struct ward_wl_x509_svid_response a, b;
	struct ward_buf out;

	if (ward_wl_x509_svid_response_decode(p, n, &a) < 0)
		return;
	if (a.n_svids > WARD_WL_MAX_SVIDS || a.n_svids > a.n_svids_total ||
	    (a.n_svids_total <= WARD_WL_MAX_SVIDS && a.n_svids != a.n_svids_total))
		abort();
	for (size_t i = 0; i < a.n_svids; i++) {
		check_inside(a.svids[i].spiffe_id, p, n);
		check_inside(a.svids[i].x509_svid, p, n);
		check_inside(a.svids[i].x509_svid_key, p, n);
		check_inside(a.svids[i].bundle, p, n);
		check_inside(a.svids[i].hint, p, n);
	}
	for (size_t i = 0; i < a.n_federated; i++) {
		check_inside(a.federated[i].trust_domain, p, n);
		check_inside(a.federated[i].bundle, p, n);
	}
	ward_buf_init(&out, 2 * n + 64);
	if (ward_wl_x509_svid_response_encode(&a, &out) < 0 ||
	    ward_wl_x509_svid_response_decode(out.data, ward_buf_len(&out), &b) < 0)
		abort();
	if (b.n_svids != a.n_svids || b.n_federated != a.n_federated ||
	    !bundles_equal(a.federated, b.federated, a.n_federated))
		abort();
	for (size_t i = 0; i < a.n_svids; i++)
		if (!svid_equal(&a.svids[i], &b.svids[i]))
			abort();
	ward_buf_free(&out);
}

static void bundles_response(const uint8_t *p, size_t n)
{
	static struct ward_wl_x509_bundles_response a, b;
	struct ward_buf out;

	if (ward_wl_x509_bundles_response_decode(p, n, &a) < 0)
		return;
	for (size_t i = 0; i < a.n_bundles; i++) {
		check_inside(a.bundles[i].trust_domain, p, n);
		check_inside(a.bundles[i].bundle, p, n);
	}
	ward_buf_init(&out, 2 * n + 64);
	if (ward_wl_x509_bundles_response_encode(&a, &out) < 0 ||
	    ward_wl_x509_bundles_response_decode(out.data, ward_buf_len(&out), &b) < 0)
		abort();
	if (b.n_bundles != a.n_bundles || !bundles_equal(a.bundles, b.bundles, a.n_bundles))
		abort();
	ward_buf_free(&out);
}

/* A successful split covers the input exactly, element after element. */
static void der_split(const uint8_t *p, size_t n)
{
	struct ward_wl_bytes el[16];
	size_t count, off = 0;

	if (ward_wl_der_split(p, n, el, 16, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		if (el[i].data != p + off || el[i].len < 2 || el[i].data[0] != 0x30)
			abort();
		off += el[i].len;
	}
	if (count == 0 || off != n)
		abort();
}

/* Fed in chunks whose size the first byte picks, the reader yields messages
 * that, framed again, are the input's first bytes. */
static void grpc_stream(const uint8_t *p, size_t n)
{
	struct ward_grpc_reader r;
	struct ward_buf again;
	size_t chunk = n ? (size_t)p[0] % 9 + 1 : 1;
	int rc = WARD_ERR_WOULDBLOCK;

	ward_grpc_reader_init(&r, 512);
	ward_buf_init(&again, 2 * n + 16);
	for (size_t off = 0; off < n && rc == WARD_ERR_WOULDBLOCK; off += chunk) {
		size_t k = n - off < chunk ? n - off : chunk;
		const uint8_t *msg;
		size_t len;

		if (ward_grpc_reader_feed(&r, p + off, k) < 0)
			break;
		while ((rc = ward_grpc_reader_next(&r, &msg, &len)) == 0) {
			if (len > 512 || ward_grpc_frame_append(&again, msg, len) < 0)
				abort();
			svid_response(msg, len);
		}
	}
	if (ward_buf_len(&again) > n ||
	    (ward_buf_len(&again) && memcmp(ward_buf_peek(&again), p, ward_buf_len(&again))))
		abort();
	(void)ward_grpc_reader_partial(&r);
	ward_grpc_reader_free(&r);
	ward_buf_free(&again);
}

/* Encoding what decoding produced gives it back, up to the first NUL. */
static void grpc_message(const uint8_t *p, size_t n)
{
	char dec[256], enc[3 * sizeof(dec)], back[sizeof(dec)];

	ward_grpc_message_decode((const char *)p, n, dec, sizeof(dec));
	ward_grpc_message_encode(dec, enc, sizeof(enc));
	ward_grpc_message_decode(enc, strlen(enc), back, sizeof(back));
	if (strcmp(dec, back))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk_fields(data, size);
	svid_response(data, size);
	bundles_response(data, size);
	der_split(data, size);
	grpc_stream(data, size);
	grpc_message(data, size);
	return 0;
}
