/* The Workload API's X.509 messages on the protobuf codec; the schema is in
 * workload_msg.h. Every reason names the field as a path from the top
 * message ("X509SVIDResponse.svids[0].x509_svid: ..."). */
#include "spiffe/workload_msg.h"

#include <stdio.h>
#include <string.h>

#include "spiffe/id.h"
#include "spiffe/proto.h"

#define SPIFFE_SCHEME "spiffe://"
#define SPIFFE_SCHEME_LEN (sizeof(SPIFFE_SCHEME) - 1)
#define PATH_LEN 96

/* X509SVID fields 1..5, in the order of struct ward_wl_svid. */
static const char *const svid_fields[] = {"spiffe_id", "x509_svid", "x509_svid_key", "bundle",
					  "hint"};
#define N_SVID_FIELDS ((uint32_t)(sizeof(svid_fields) / sizeof(svid_fields[0])))

/* Map entry fields (protobuf's encoding of map<K, V>: a repeated message of
 * key = 1, value = 2). */
static const char *const entry_fields[] = {"key", "value"};
#define N_ENTRY_FIELDS ((uint32_t)(sizeof(entry_fields) / sizeof(entry_fields[0])))

/* Top-level decoding state: the struct being filled and how many map entries
 * were seen, which names entries in reasons (duplicate keys replace, so the
 * struct's own count is not the index). */
struct decode {
	void *out;
	size_t entries_seen;
};

/* Reads the value of known field `field` (1..max) into dst, prefixing its own
 * reasons with the field's path. */
typedef int (*field_fn)(struct ward_proto_reader *r, uint32_t field, enum ward_proto_wire wire,
			void *dst, const char *path);

/* Walks the fields of a message whose known fields are 1..max; unknown ones
 * are skipped, since the standard evolves by adding fields. */
static int walk(const uint8_t *p, size_t len, const char *path, uint32_t max, field_fn known,
		void *dst)
{
	struct ward_proto_reader r;

	ward_proto_reader_init(&r, p, len);
	while (!ward_proto_reader_done(&r)) {
		enum ward_proto_wire wire;
		uint32_t field;
		int rc = ward_proto_read_tag(&r, &field, &wire);

		if (rc == 0 && field > max)
			rc = ward_proto_skip(&r, wire);
		if (rc < 0)
			return ward_err_prefix(rc, "%s", path);
		if (field <= max)
			GUARD(known(&r, field, wire, dst, path));
	}
	return 0;
}

static int read_bytes(struct ward_proto_reader *r, enum ward_proto_wire wire,
		      struct ward_wl_bytes *out)
{
	GUARD(ward_proto_want_wire(wire, WARD_PROTO_LEN));
	return ward_proto_read_bytes(r, &out->data, &out->len);
}

/* A field of string or bytes type; a later occurrence replaces an earlier one
 * (protobuf's rule for a non-repeated field sent twice). */
static int read_named(struct ward_proto_reader *r, enum ward_proto_wire wire,
		      struct ward_wl_bytes *out, const char *path, const char *name)
{
	int rc = read_bytes(r, wire, out);

	return rc < 0 ? ward_err_prefix(rc, "%s.%s", path, name) : 0;
}

static int svid_field(struct ward_proto_reader *r, uint32_t field, enum ward_proto_wire wire,
		      void *dst, const char *path)
{
	struct ward_wl_svid *s = dst;
	struct ward_wl_bytes *slots[] = {&s->spiffe_id, &s->x509_svid, &s->x509_svid_key,
					 &s->bundle, &s->hint};

	return read_named(r, wire, slots[field - 1], path, svid_fields[field - 1]);
}

static int entry_field(struct ward_proto_reader *r, uint32_t field, enum ward_proto_wire wire,
		       void *dst, const char *path)
{
	struct ward_wl_bundle *e = dst;

	return read_named(r, wire, field == 1 ? &e->trust_domain : &e->bundle, path,
			  entry_fields[field - 1]);
}

/* A nested message: the field's bytes, then its own fields. */
static int read_nested(struct ward_proto_reader *r, enum ward_proto_wire wire, const char *path,
		       uint32_t max, field_fn known, void *dst)
{
	struct ward_wl_bytes msg;
	int rc = read_bytes(r, wire, &msg);

	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	return walk(msg.data, msg.len, path, max, known, dst);
}

/* SPIRE sends the default SVID first; past WARD_WL_MAX_SVIDS the rest are
 * still checked, then counted and dropped. */
static int add_svid(struct ward_proto_reader *r, enum ward_proto_wire wire,
		    struct ward_wl_x509_svid_response *out, const char *path)
{
	struct ward_wl_svid scratch;
	struct ward_wl_svid *s =
	    out->n_svids < WARD_WL_MAX_SVIDS ? &out->svids[out->n_svids] : &scratch;
	char sub[PATH_LEN];

	snprintf(sub, sizeof(sub), "%s.svids[%zu]", path, out->n_svids_total);
	memset(s, 0, sizeof(*s));
	GUARD(read_nested(r, wire, sub, N_SVID_FIELDS, svid_field, s));
	out->n_svids_total++;
	if (s != &scratch)
		out->n_svids++;
	return 0;
}

static int count_crl(struct ward_proto_reader *r, enum ward_proto_wire wire, size_t *n,
		     const char *path)
{
	struct ward_wl_bytes crl;

	GUARD(read_named(r, wire, &crl, path, "crl"));
	(*n)++;
	return 0;
}

/* The trust domain a map key names: "spiffe://example.org" as SPIRE sends
 * it, or the bare "example.org". */
static struct ward_wl_bytes key_trust_domain(struct ward_wl_bytes key)
{
	if (key.len >= SPIFFE_SCHEME_LEN && !memcmp(key.data, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN)) {
		key.data += SPIFFE_SCHEME_LEN;
		key.len -= SPIFFE_SCHEME_LEN;
	}
	return key;
}

static bool same_trust_domain(struct ward_wl_bytes a, struct ward_wl_bytes b)
{
	a = key_trust_domain(a);
	b = key_trust_domain(b);
	return a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len));
}

static int check_key(struct ward_wl_bytes key, const char *path)
{
	struct ward_wl_bytes td = key_trust_domain(key);
	int rc = ward_spiffe_trust_domain_validate(td.len ? (const char *)td.data : "", td.len);

	return rc < 0 ? ward_err_prefix(rc, "%s.key", path) : 0;
}

/* One map<string, bytes> entry of trust domain bundles. A key sent twice
 * replaces the earlier value (protobuf's rule for maps). */
static int add_bundle(struct ward_proto_reader *r, enum ward_proto_wire wire, struct decode *d,
		      struct ward_wl_bundle *bundles, size_t *n, const char *map_path)
{
	struct ward_wl_bundle e = {0};
	char sub[PATH_LEN];
	size_t i;

	snprintf(sub, sizeof(sub), "%s[%zu]", map_path, d->entries_seen++);
	GUARD(read_nested(r, wire, sub, N_ENTRY_FIELDS, entry_field, &e));
	GUARD(check_key(e.trust_domain, sub));
	for (i = 0; i < *n && !same_trust_domain(bundles[i].trust_domain, e.trust_domain); i++)
		;
	ENSURE(i < WARD_WL_MAX_BUNDLES, WARD_ERR_RANGE, "%s: more than %d trust domains", map_path,
	       WARD_WL_MAX_BUNDLES);
	bundles[i] = e;
	if (i == *n)
		(*n)++;
	return 0;
}

static int svid_response_field(struct ward_proto_reader *r, uint32_t field,
			       enum ward_proto_wire wire, void *dst, const char *path)
{
	struct decode *d = dst;
	struct ward_wl_x509_svid_response *out = d->out;
	char map_path[PATH_LEN];

	switch (field) {
	case 1:
		return add_svid(r, wire, out, path);
	case 2:
		return count_crl(r, wire, &out->n_crl, path);
	}
	/* 3 */
	snprintf(map_path, sizeof(map_path), "%s.federated_bundles", path);
	return add_bundle(r, wire, d, out->federated, &out->n_federated, map_path);
}

static int bundles_response_field(struct ward_proto_reader *r, uint32_t field,
				  enum ward_proto_wire wire, void *dst, const char *path)
{
	struct decode *d = dst;
	struct ward_wl_x509_bundles_response *out = d->out;
	char map_path[PATH_LEN];

	if (field == 1)
		return count_crl(r, wire, &out->n_crl, path);
	/* 2 */
	snprintf(map_path, sizeof(map_path), "%s.bundles", path);
	return add_bundle(r, wire, d, out->bundles, &out->n_bundles, map_path);
}

/* A failed decode leaves *out empty, never half filled. */
static int decode_top(const uint8_t *msg, size_t len, const char *name, uint32_t max,
		      field_fn known, void *out, size_t size)
{
	struct decode d = {.out = out};
	int rc;

	memset(out, 0, size);
	rc = walk(msg, len, name, max, known, &d);
	if (rc < 0)
		memset(out, 0, size);
	return rc;
}

int ward_wl_x509_svid_response_decode(const uint8_t *msg, size_t len,
				      struct ward_wl_x509_svid_response *out)
{
	return decode_top(msg, len, "X509SVIDResponse", 3, svid_response_field, out, sizeof(*out));
}

int ward_wl_x509_bundles_response_decode(const uint8_t *msg, size_t len,
					 struct ward_wl_x509_bundles_response *out)
{
	return decode_top(msg, len, "X509BundlesResponse", 2, bundles_response_field, out,
			  sizeof(*out));
}

/* proto3 leaves a string or bytes field holding its default (empty) off the
 * wire. */
static int write_present(struct ward_buf *out, uint32_t field, struct ward_wl_bytes b)
{
	return b.len ? ward_proto_write_bytes(out, field, b.data, b.len) : 0;
}

static int encode_svid(const void *msg, struct ward_buf *out)
{
	const struct ward_wl_svid *s = msg;

	GUARD(write_present(out, 1, s->spiffe_id));
	GUARD(write_present(out, 2, s->x509_svid));
	GUARD(write_present(out, 3, s->x509_svid_key));
	GUARD(write_present(out, 4, s->bundle));
	return write_present(out, 5, s->hint);
}

/* Map entries carry key and value even when empty, as protobuf's own
 * encoders write them. */
static int encode_entry(const void *msg, struct ward_buf *out)
{
	const struct ward_wl_bundle *e = msg;

	GUARD(ward_proto_write_bytes(out, 1, e->trust_domain.data, e->trust_domain.len));
	return ward_proto_write_bytes(out, 2, e->bundle.data, e->bundle.len);
}

static int encode_map(struct ward_buf *out, uint32_t field, const struct ward_wl_bundle *e,
		      size_t n)
{
	for (size_t i = 0; i < n; i++)
		GUARD(ward_proto_write_message(out, field, encode_entry, &e[i]));
	return 0;
}

static int encode_svid_response(const struct ward_wl_x509_svid_response *in, struct ward_buf *out)
{
	ENSURE(in->n_svids <= WARD_WL_MAX_SVIDS, WARD_ERR_RANGE,
	       "X509SVIDResponse.svids: %zu over the maximum of %d", in->n_svids,
	       WARD_WL_MAX_SVIDS);
	ENSURE(in->n_federated <= WARD_WL_MAX_BUNDLES, WARD_ERR_RANGE,
	       "X509SVIDResponse.federated_bundles: %zu over the maximum of %d", in->n_federated,
	       WARD_WL_MAX_BUNDLES);
	for (size_t i = 0; i < in->n_svids; i++)
		GUARD(ward_proto_write_message(out, 1, encode_svid, &in->svids[i]));
	return encode_map(out, 3, in->federated, in->n_federated);
}

static int encode_bundles_response(const struct ward_wl_x509_bundles_response *in,
				   struct ward_buf *out)
{
	ENSURE(in->n_bundles <= WARD_WL_MAX_BUNDLES, WARD_ERR_RANGE,
	       "X509BundlesResponse.bundles: %zu over the maximum of %d", in->n_bundles,
	       WARD_WL_MAX_BUNDLES);
	return encode_map(out, 2, in->bundles, in->n_bundles);
}

/* An encoder that fails takes back what it appended: out holds whole
 * messages only. */
static int taken_back(struct ward_buf *out, size_t keep, int rc)
{
	if (rc < 0)
		ward_buf_truncate(out, keep);
	return rc;
}

/* crl: the structs count CRLs without keeping them, so none are written;
 * SPIRE sends none either. */
int ward_wl_x509_svid_response_encode(const struct ward_wl_x509_svid_response *in,
				      struct ward_buf *out)
{
	size_t keep = ward_buf_len(out);

	return taken_back(out, keep, encode_svid_response(in, out));
}

int ward_wl_x509_bundles_response_encode(const struct ward_wl_x509_bundles_response *in,
					 struct ward_buf *out)
{
	size_t keep = ward_buf_len(out);

	return taken_back(out, keep, encode_bundles_response(in, out));
}

/* One DER header (X.690 §8.1.2-8.1.3): the tag, then a definite length,
 * short form below 128, else 0x80 | k and k big-endian bytes. DER (§10.1)
 * allows only the shortest form, which also makes every length unique. */
static int der_header(const uint8_t *p, size_t left, size_t *elem)
{
	size_t hdr = 2, k, v = 0;

	ENSURE(left >= 2, WARD_ERR_INVALID, "header cut short");
	ENSURE(p[0] == 0x30, WARD_ERR_INVALID, "tag 0x%02x, expected a SEQUENCE (0x30)", p[0]);
	if (p[1] < 0x80) {
		v = p[1];
	} else {
		k = p[1] & 0x7f;
		ENSURE(k != 0, WARD_ERR_INVALID, "indefinite length (not DER)");
		ENSURE(k <= 4, WARD_ERR_INVALID, "length of %zu bytes, over 4", k);
		ENSURE(k <= left - 2, WARD_ERR_INVALID, "length cut short");
		ENSURE(p[2] != 0, WARD_ERR_INVALID, "length with a leading zero byte (not DER)");
		for (size_t i = 0; i < k; i++)
			v = v << 8 | p[2 + i];
		ENSURE(v >= 0x80, WARD_ERR_INVALID, "length %zu in long form (not DER)", v);
		hdr += k;
	}
	ENSURE(v <= left - hdr, WARD_ERR_INVALID, "length %zu past the end (%zu left)", v,
	       left - hdr);
	*elem = hdr + v;
	return 0;
}

int ward_wl_der_split(const uint8_t *der, size_t len, struct ward_wl_bytes *out, size_t max,
		      size_t *n)
{
	size_t off = 0, count = 0;

	*n = 0;
	ENSURE(len > 0, WARD_ERR_INVALID, "DER: empty, no certificate");
	while (off < len) {
		size_t elem = 0;
		int rc = der_header(der + off, len - off, &elem);

		if (rc < 0)
			return ward_err_prefix(rc, "DER element %zu at offset %zu", count, off);
		ENSURE(count < max, WARD_ERR_RANGE, "DER: more than %zu certificates", max);
		out[count].data = der + off;
		out[count].len = elem;
		count++;
		off += elem;
	}
	*n = count;
	return 0;
}
