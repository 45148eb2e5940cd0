/* The Workload API's X.509 messages: byte vectors worked out by hand from
 * workload.proto and the protobuf encoding guide, round trips with real
 * certificates, reasons that name the field for every malformed input, and
 * the DER splitter. Run from the repo root (fixtures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certs/pem.h"
#include "spiffe/proto.h"
#include "spiffe/workload_msg.h"

#define FIX "tests/unit/fixtures/"

static struct ward_wl_bytes bytes_of(const char *s)
{
	return (struct ward_wl_bytes){.data = (const uint8_t *)s, .len = strlen(s)};
}

static void assert_bytes(struct ward_wl_bytes b, const char *want)
{
	assert_int_equal(b.len, strlen(want));
	if (b.len)
		assert_memory_equal(b.data, want, b.len);
}

/* clang-format off */
/* X509SVIDResponse {
 *   svids { spiffe_id: "spiffe://td/w" x509_svid: 30 00 x509_svid_key: 30 00
 *           bundle: 30 00 hint: "x" }
 *   federated_bundles { key: "spiffe://fed" value: 30 00 }
 * } */
static const uint8_t svid_response[] = {
	0x0a, 0x1e,                                     /* svids, 30 bytes */
	  0x0a, 0x0d, 's', 'p', 'i', 'f', 'f', 'e', ':', '/', '/', 't', 'd', '/', 'w',
	  0x12, 0x02, 0x30, 0x00,                       /* x509_svid */
	  0x1a, 0x02, 0x30, 0x00,                       /* x509_svid_key */
	  0x22, 0x02, 0x30, 0x00,                       /* bundle */
	  0x2a, 0x01, 'x',                              /* hint */
	0x1a, 0x12,                                     /* federated_bundles, 18 bytes */
	  0x0a, 0x0c, 's', 'p', 'i', 'f', 'f', 'e', ':', '/', '/', 'f', 'e', 'd',
	  0x12, 0x02, 0x30, 0x00,
};

/* X509BundlesResponse { crl: ff  bundles { key: "spiffe://td" value: 30 00 } } */
static const uint8_t bundles_response[] = {
	0x0a, 0x01, 0xff,                               /* crl */
	0x12, 0x11,                                     /* bundles, 17 bytes */
	  0x0a, 0x0b, 's', 'p', 'i', 'f', 'f', 'e', ':', '/', '/', 't', 'd',
	  0x12, 0x02, 0x30, 0x00,
};
/* clang-format on */

static const char der_empty_seq[] = "\x30\x00";

static void fill_tiny_svid_response(struct ward_wl_x509_svid_response *r)
{
	memset(r, 0, sizeof(*r));
	r->svids[0].spiffe_id = bytes_of("spiffe://td/w");
	r->svids[0].x509_svid = (struct ward_wl_bytes){(const uint8_t *)der_empty_seq, 2};
	r->svids[0].x509_svid_key = r->svids[0].x509_svid;
	r->svids[0].bundle = r->svids[0].x509_svid;
	r->svids[0].hint = bytes_of("x");
	r->n_svids = r->n_svids_total = 1;
	r->federated[0].trust_domain = bytes_of("spiffe://fed");
	r->federated[0].bundle = r->svids[0].x509_svid;
	r->n_federated = 1;
}

static void test_svid_response_bytes(void **state)
{
	struct ward_wl_x509_svid_response in, out;
	struct ward_buf b;

	(void)state;
	fill_tiny_svid_response(&in);
	ward_buf_init(&b, 1024);
	assert_int_equal(ward_wl_x509_svid_response_encode(&in, &b), 0);
	assert_int_equal(ward_buf_len(&b), sizeof(svid_response));
	assert_memory_equal(b.data, svid_response, sizeof(svid_response));
	ward_buf_free(&b);

	assert_int_equal(
	    ward_wl_x509_svid_response_decode(svid_response, sizeof(svid_response), &out), 0);
	assert_int_equal(out.n_svids, 1);
	assert_int_equal(out.n_svids_total, 1);
	assert_bytes(out.svids[0].spiffe_id, "spiffe://td/w");
	assert_int_equal(out.svids[0].x509_svid.len, 2);
	assert_ptr_equal(out.svids[0].x509_svid.data, svid_response + 19); /* borrowed */
	assert_int_equal(out.svids[0].x509_svid_key.len, 2);
	assert_int_equal(out.svids[0].bundle.len, 2);
	assert_bytes(out.svids[0].hint, "x");
	assert_int_equal(out.n_federated, 1);
	assert_bytes(out.federated[0].trust_domain, "spiffe://fed");
	assert_memory_equal(out.federated[0].bundle.data, der_empty_seq, 2);
	assert_int_equal(out.n_crl, 0);
}

static void test_bundles_response_bytes(void **state)
{
	struct ward_wl_x509_bundles_response in = {0}, out;
	struct ward_buf b;
	static const size_t crl_len = 3;

	(void)state;
	in.bundles[0].trust_domain = bytes_of("spiffe://td");
	in.bundles[0].bundle = (struct ward_wl_bytes){(const uint8_t *)der_empty_seq, 2};
	in.n_bundles = 1;
	ward_buf_init(&b, 1024);
	assert_int_equal(ward_wl_x509_bundles_response_encode(&in, &b), 0);
	/* CRLs are counted, not kept, so the encoding is the vector without them. */
	assert_int_equal(ward_buf_len(&b), sizeof(bundles_response) - crl_len);
	assert_memory_equal(b.data, bundles_response + crl_len, sizeof(bundles_response) - crl_len);
	ward_buf_free(&b);

	assert_int_equal(
	    ward_wl_x509_bundles_response_decode(bundles_response, sizeof(bundles_response), &out),
	    0);
	assert_int_equal(out.n_crl, 1);
	assert_int_equal(out.n_bundles, 1);
	assert_bytes(out.bundles[0].trust_domain, "spiffe://td");
	assert_memory_equal(out.bundles[0].bundle.data, der_empty_seq, 2);
}

/* Empty fields are left off the wire (proto3), an empty message is valid,
 * and map entries keep an empty value. */
static void test_empty_fields(void **state)
{
	static const uint8_t want[] = {0x0a, 0x00, 0x1a, 0x09, 0x0a, 0x05, 'a',
				       '.',  'o',  'r',	 'g',  0x12, 0x00};
	struct ward_wl_x509_svid_response in = {0}, out;
	struct ward_wl_x509_bundles_response bout;
	struct ward_buf b;

	(void)state;
	in.n_svids = 1;
	in.federated[0].trust_domain = bytes_of("a.org");
	in.n_federated = 1;
	ward_buf_init(&b, 1024);
	assert_int_equal(ward_wl_x509_svid_response_encode(&in, &b), 0);
	assert_int_equal(ward_buf_len(&b), sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(ward_wl_x509_svid_response_decode(b.data, ward_buf_len(&b), &out), 0);
	assert_int_equal(out.n_svids, 1);
	assert_int_equal(out.svids[0].spiffe_id.len, 0);
	assert_int_equal(out.federated[0].bundle.len, 0);
	ward_buf_free(&b);

	assert_int_equal(ward_wl_x509_svid_response_decode(NULL, 0, &out), 0);
	assert_int_equal(out.n_svids + out.n_svids_total + out.n_federated + out.n_crl, 0);
	assert_int_equal(ward_wl_x509_bundles_response_decode(NULL, 0, &bout), 0);
	assert_int_equal(bout.n_bundles + bout.n_crl, 0);
}

/* A newer server may add fields of any wire type anywhere. */
static void test_unknown_fields_skipped(void **state)
{
	/* clang-format off */
	static const uint8_t msg[] = {
		0x20, 0x01,                                     /* 4: varint */
		0x0a, 0x15,                                     /* svids */
		  0x30, 0x96, 0x01,                             /* 6: varint */
		  0x39, 1, 2, 3, 4, 5, 6, 7, 8,                 /* 7: i64 */
		  0x12, 0x02, 0x30, 0x00,                       /* x509_svid */
		  0x45, 1, 2, 3, 4,                             /* 8: i32 */
		0x2a, 0x03, 0x0a, 0x01, 'z',                    /* 5: a message */
		0x12, 0x00,                                     /* crl */
		0x1a, 0x0a,                                     /* federated_bundles */
		  0x1a, 0x01, '?',                              /* 3: len */
		  0x0a, 0x05, 'b', '.', 'o', 'r', 'g',
		0x12, 0x00,                                     /* crl */
	};
	/* clang-format on */
	struct ward_wl_x509_svid_response out;

	(void)state;
	assert_int_equal(ward_wl_x509_svid_response_decode(msg, sizeof(msg), &out), 0);
	assert_int_equal(out.n_svids, 1);
	assert_int_equal(out.svids[0].x509_svid.len, 2);
	assert_int_equal(out.svids[0].spiffe_id.len, 0);
	assert_int_equal(out.n_crl, 2);
	assert_int_equal(out.n_federated, 1);
	assert_bytes(out.federated[0].trust_domain, "b.org");
}

static void expect_svid_error(const uint8_t *msg, size_t len, int err, const char *why)
{
	struct ward_wl_x509_svid_response out;

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(ward_wl_x509_svid_response_decode(msg, len, &out), err);
	assert_string_equal(ward_err_msg(), why);
	/* Nothing half decoded is left behind. */
	assert_int_equal(out.n_svids + out.n_svids_total + out.n_federated + out.n_crl, 0);
	assert_null(out.svids[0].spiffe_id.data);
}

#define EXPECT_SVID_ERROR(err, why, ...)                                                           \
	expect_svid_error((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}),  \
			  (err), (why))

static void test_svid_response_errors(void **state)
{
	(void)state;
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0].x509_svid: length 900 past end of message "
			  "(2 left)",
			  0x0a, 0x05, 0x12, 0x84, 0x07, 0x30, 0x00);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0]: length 5 past end of message (2 left)", 0x0a,
			  0x05, 0x30, 0x00);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0]: wire type 0 (varint), expected 2 "
			  "(length-delimited)",
			  0x08, 0x01);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0].spiffe_id: wire type 5 (i32), expected 2 "
			  "(length-delimited)",
			  0x0a, 0x05, 0x0d, 1, 2, 3, 4);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[1].hint: wire type 1 (i64), expected 2 "
			  "(length-delimited)",
			  0x0a, 0x00, 0x0a, 0x09, 0x29, 1, 2, 3, 4, 5, 6, 7, 8);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.crl: wire type 0 (varint), expected 2 "
			  "(length-delimited)",
			  0x10, 0x00);
	EXPECT_SVID_ERROR(
	    WARD_ERR_INVALID,
	    "X509SVIDResponse.svids[0]: varint at offset 1 cut short by the end of the "
	    "message",
	    0x0a, 0x80);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0]: varint at offset 1 longer than 10 bytes",
			  0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0]: varint at offset 0 over 64 bits", 0x0a, 0x0a,
			  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID, "X509SVIDResponse: field number 0 at offset 0", 0x02,
			  0x00);
	EXPECT_SVID_ERROR(
	    WARD_ERR_INVALID,
	    "X509SVIDResponse: field 1 at offset 0: wire type 3 (start group): groups "
	    "are not supported",
	    0x0b, 0x0c);
	EXPECT_SVID_ERROR(
	    WARD_ERR_INVALID,
	    "X509SVIDResponse.svids[0]: field 9 at offset 0: wire type 4 (end group): "
	    "groups are not supported",
	    0x0a, 0x01, 0x4c);
	/* Unknown fields are skipped, but must still be well formed. */
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse: i64 at offset 1 cut short by the end of the message",
			  0x21, 1, 2, 3);
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.svids[0]: length 3 past end of message (0 left)", 0x0a,
			  0x02, 0x32, 0x03);
}

static void test_federated_keys(void **state)
{
	/* Keys name trust domains: with SPIRE's scheme prefix or bare, valid ones only. */
	(void)state;
	EXPECT_SVID_ERROR(
	    WARD_ERR_INVALID,
	    "X509SVIDResponse.federated_bundles[0].key: trust domain \"Ex.org\": trust "
	    "domain has an uppercase letter",
	    0x1a, 0x08, 0x0a, 0x06, 'E', 'x', '.', 'o', 'r', 'g');
	EXPECT_SVID_ERROR(
	    WARD_ERR_INVALID,
	    "X509SVIDResponse.federated_bundles[1].key: trust domain \"\": trust domain "
	    "is empty",
	    0x1a, 0x03, 0x0a, 0x01, 'a', 0x1a, 0x02, 0x12, 0x00);
	EXPECT_SVID_ERROR(
	    WARD_ERR_INVALID,
	    "X509SVIDResponse.federated_bundles[0].key: trust domain \"\": trust domain "
	    "is empty",
	    0x1a, 0x0b, 0x0a, 0x09, 's', 'p', 'i', 'f', 'f', 'e', ':', '/', '/');
	EXPECT_SVID_ERROR(WARD_ERR_INVALID,
			  "X509SVIDResponse.federated_bundles[0].value: wire type 0 (varint), "
			  "expected 2 (length-delimited)",
			  0x1a, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01);
}

/* A key sent twice keeps the last value (protobuf's map rule), whether it is
 * spelled with the scheme or without. */
static void test_federated_duplicate_key(void **state)
{
	/* clang-format off */
	static const uint8_t msg[] = {
		0x1a, 0x0a, 0x0a, 0x05, 'a', '.', 'o', 'r', 'g', 0x12, 0x01, '1',
		0x1a, 0x0a, 0x0a, 0x05, 'b', '.', 'o', 'r', 'g', 0x12, 0x01, '2',
		0x1a, 0x13, 0x0a, 0x0e, 's', 'p', 'i', 'f', 'f', 'e', ':', '/', '/',
		            'a', '.', 'o', 'r', 'g', 0x12, 0x01, '3',
	};
	/* clang-format on */
	struct ward_wl_x509_svid_response out;

	(void)state;
	assert_int_equal(ward_wl_x509_svid_response_decode(msg, sizeof(msg), &out), 0);
	assert_int_equal(out.n_federated, 2);
	assert_bytes(out.federated[0].trust_domain, "spiffe://a.org");
	assert_bytes(out.federated[0].bundle, "3");
	assert_bytes(out.federated[1].trust_domain, "b.org");
	assert_bytes(out.federated[1].bundle, "2");
}

/* One entry "t<i>.org" -> "" per trust domain. */
static void append_entries(struct ward_buf *b, uint32_t field, size_t n)
{
	char td[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(td, sizeof(td), "t%zu.org", i);
		assert_int_equal(ward_proto_write_tag(b, field, WARD_PROTO_LEN), 0);
		assert_int_equal(ward_proto_write_varint(b, 2 + strlen(td) + 2), 0);
		assert_int_equal(ward_proto_write_bytes(b, 1, (const uint8_t *)td, strlen(td)), 0);
		assert_int_equal(ward_proto_write_bytes(b, 2, NULL, 0), 0);
	}
}

static void test_too_many_bundles(void **state)
{
	struct ward_wl_x509_svid_response out;
	struct ward_wl_x509_bundles_response bout;
	struct ward_buf b;

	(void)state;
	ward_buf_init(&b, 1 << 16);
	append_entries(&b, 3, WARD_WL_MAX_BUNDLES);
	assert_int_equal(ward_wl_x509_svid_response_decode(b.data, ward_buf_len(&b), &out), 0);
	assert_int_equal(out.n_federated, WARD_WL_MAX_BUNDLES);
	assert_bytes(out.federated[63].trust_domain, "t63.org");
	ward_buf_free(&b);

	append_entries(&b, 3, WARD_WL_MAX_BUNDLES + 1);
	assert_int_equal(ward_wl_x509_svid_response_decode(b.data, ward_buf_len(&b), &out),
			 WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(),
			    "X509SVIDResponse.federated_bundles: more than 64 trust domains");
	ward_buf_free(&b);

	append_entries(&b, 2, WARD_WL_MAX_BUNDLES + 1);
	assert_int_equal(ward_wl_x509_bundles_response_decode(b.data, ward_buf_len(&b), &bout),
			 WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(),
			    "X509BundlesResponse.bundles: more than 64 trust domains");
	ward_buf_free(&b);
}

/* Past WARD_WL_MAX_SVIDS, SVIDs are counted and not kept; they are still
 * checked. */
static void test_too_many_svids(void **state)
{
	struct ward_wl_x509_svid_response out;
	struct ward_buf b;
	char id[32];

	(void)state;
	ward_buf_init(&b, 1 << 16);
	for (int i = 0; i < 11; i++) {
		snprintf(id, sizeof(id), "spiffe://td/%d", i);
		assert_int_equal(ward_proto_write_tag(&b, 1, WARD_PROTO_LEN), 0);
		assert_int_equal(ward_proto_write_varint(&b, 2 + strlen(id)), 0);
		assert_int_equal(ward_proto_write_bytes(&b, 1, (const uint8_t *)id, strlen(id)), 0);
	}
	assert_int_equal(ward_wl_x509_svid_response_decode(b.data, ward_buf_len(&b), &out), 0);
	assert_int_equal(out.n_svids, WARD_WL_MAX_SVIDS);
	assert_int_equal(out.n_svids_total, 11);
	assert_bytes(out.svids[0].spiffe_id, "spiffe://td/0"); /* the default stays first */
	assert_bytes(out.svids[7].spiffe_id, "spiffe://td/7");

	/* A broken twelfth is found even though it would not be kept. */
	assert_int_equal(ward_proto_write_bytes(&b, 1, (const uint8_t *)"\x12\x05", 2), 0);
	assert_int_equal(ward_wl_x509_svid_response_decode(b.data, ward_buf_len(&b), &out),
			 WARD_ERR_INVALID);
	assert_string_equal(ward_err_msg(),
			    "X509SVIDResponse.svids[11].x509_svid: length 5 past end of message "
			    "(0 left)");
	ward_buf_free(&b);
}

static void test_encode_refuses(void **state)
{
	struct ward_wl_x509_svid_response in;
	struct ward_wl_x509_bundles_response bin = {0};
	uint8_t big[200] = {0};
	struct ward_buf b;

	(void)state;
	fill_tiny_svid_response(&in);
	ward_buf_init(&b, 64);
	assert_int_equal(ward_buf_append(&b, "keep", 4), 0);
	in.n_svids = WARD_WL_MAX_SVIDS + 1;
	assert_int_equal(ward_wl_x509_svid_response_encode(&in, &b), WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(), "X509SVIDResponse.svids: 9 over the maximum of 8");
	in.n_svids = 1;
	in.n_federated = WARD_WL_MAX_BUNDLES + 1;
	assert_int_equal(ward_wl_x509_svid_response_encode(&in, &b), WARD_ERR_RANGE);
	bin.n_bundles = WARD_WL_MAX_BUNDLES + 1;
	assert_int_equal(ward_wl_x509_bundles_response_encode(&bin, &b), WARD_ERR_RANGE);
	assert_string_equal(ward_err_msg(),
			    "X509BundlesResponse.bundles: 65 over the maximum of 64");

	/* Past the buffer's limit in the middle of a message: what was appended
	 * is taken back, what was there before stays. */
	in.n_federated = 1;
	in.federated[0].bundle = (struct ward_wl_bytes){big, sizeof(big)};
	assert_int_equal(ward_wl_x509_svid_response_encode(&in, &b), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 4);
	assert_memory_equal(b.data, "keep", 4);
	bin.n_bundles = 1;
	bin.bundles[0] = in.federated[0];
	assert_int_equal(ward_wl_x509_bundles_response_encode(&bin, &b), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 4);
	ward_buf_free(&b);
}

struct chain {
	uint8_t der[8192];
	size_t len;
	struct ward_pem_certs certs;
};

/* The certificates of a PEM file, concatenated as the Workload API sends them. */
static void load_chain(const char *path, struct chain *c)
{
	assert_int_equal(ward_pem_certs_load_file(path, &c->certs), 0);
	c->len = 0;
	for (size_t i = 0; i < c->certs.count; i++) {
		assert_true(c->certs.certs[i].len <= sizeof(c->der) - c->len);
		memcpy(c->der + c->len, c->certs.certs[i].data, c->certs.certs[i].len);
		c->len += c->certs.certs[i].len;
	}
}

static void test_round_trip_real_certs(void **state)
{
	static struct chain svid, ca;
	struct ward_wl_x509_svid_response in = {0}, out;
	struct ward_wl_bytes split[4];
	struct ward_pem_key key;
	struct ward_buf b;
	size_t n;

	(void)state;
	load_chain(FIX "good-chain.pem", &svid);
	load_chain(FIX "ca.pem", &ca);
	assert_int_equal(svid.certs.count, 2);
	assert_int_equal(ward_pem_key_load_file(FIX "leaf.key", &key), 0);
	in.svids[0] = (struct ward_wl_svid){
	    .spiffe_id = bytes_of("spiffe://example.org/ns/default/sa/web"),
	    .x509_svid = {svid.der, svid.len},
	    .x509_svid_key = {key.der, key.len},
	    .bundle = {ca.der, ca.len},
	};
	in.n_svids = 1;
	in.federated[0] = (struct ward_wl_bundle){bytes_of("spiffe://other.org"), {ca.der, ca.len}};
	in.n_federated = 1;
	ward_buf_init(&b, 1 << 20);
	assert_int_equal(ward_wl_x509_svid_response_encode(&in, &b), 0);
	assert_int_equal(ward_wl_x509_svid_response_decode(b.data, ward_buf_len(&b), &out), 0);
	assert_int_equal(out.n_svids, 1);
	assert_int_equal(out.svids[0].x509_svid.len, svid.len);
	assert_memory_equal(out.svids[0].x509_svid.data, svid.der, svid.len);
	assert_memory_equal(out.svids[0].x509_svid_key.data, key.der, key.len);
	assert_memory_equal(out.svids[0].bundle.data, ca.der, ca.len);
	assert_memory_equal(out.federated[0].bundle.data, ca.der, ca.len);

	/* The chain splits back into the certificates it was made of, in order. */
	assert_int_equal(ward_wl_der_split(out.svids[0].x509_svid.data, out.svids[0].x509_svid.len,
					   split, 4, &n),
			 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(split[i].len, svid.certs.certs[i].len);
		assert_memory_equal(split[i].data, svid.certs.certs[i].data, split[i].len);
	}
	ward_buf_free(&b);
	ward_pem_key_free(&key);
	ward_pem_certs_free(&svid.certs);
	ward_pem_certs_free(&ca.certs);
}

static void expect_split_error(const uint8_t *der, size_t len, size_t max, int err, const char *why)
{
	struct ward_wl_bytes out[4];
	size_t n = 99;

	assert_int_equal(ward_wl_der_split(der, len, out, max, &n), err);
	assert_string_equal(ward_err_msg(), why);
	assert_int_equal(n, 0);
}

#define EXPECT_SPLIT_ERROR(max, err, why, ...)                                                     \
	expect_split_error((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), \
			   (max), (err), (why))

static void test_der_split_errors(void **state)
{
	(void)state;
	expect_split_error(NULL, 0, 4, WARD_ERR_INVALID, "DER: empty, no certificate");
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: tag 0x31, expected a SEQUENCE (0x30)", 0x31,
			   0x00);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 1 at offset 2: tag 0x02, expected a SEQUENCE (0x30)", 0x30,
			   0x00, 0x02, 0x01, 0x00);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID, "DER element 0 at offset 0: header cut short",
			   0x30);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID, "DER element 1 at offset 2: header cut short", 0x30,
			   0x00, 0x30);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: indefinite length (not DER)", 0x30, 0x80,
			   0x00, 0x00);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: length of 5 bytes, over 4", 0x30, 0x85, 0x01,
			   0x00, 0x00, 0x00, 0x00);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID, "DER element 0 at offset 0: length cut short", 0x30,
			   0x84, 0x01, 0x00, 0x00);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: length with a leading zero byte (not DER)",
			   0x30, 0x82, 0x00, 0x80);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: length 127 in long form (not DER)", 0x30,
			   0x81, 0x7f);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: length 3 past the end (2 left)", 0x30, 0x03,
			   0x05, 0x00);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 0 at offset 0: length 4294967295 past the end (0 left)",
			   0x30, 0x84, 0xff, 0xff, 0xff, 0xff);
	EXPECT_SPLIT_ERROR(4, WARD_ERR_INVALID,
			   "DER element 1 at offset 3: length 128 past the end (127 left)", 0x30,
			   0x01, 0x00, 0x30, 0x81, 0x80, [132] = 0x00);
	EXPECT_SPLIT_ERROR(2, WARD_ERR_RANGE, "DER: more than 2 certificates", 0x30, 0x00, 0x30,
			   0x00, 0x30, 0x00);
	EXPECT_SPLIT_ERROR(0, WARD_ERR_RANGE, "DER: more than 0 certificates", 0x30, 0x00);
}

/* Every length form, one to four length bytes, and exactly max elements. */
static void test_der_split_lengths(void **state)
{
	static const size_t body[] = {0x7f, 0x80, 0x100, 0x10000, 0x1000000};
	static const char *const hdr[] = {"\x30\x7f", "\x30\x81\x80", "\x30\x82\x01\x00",
					  "\x30\x83\x01\x00\x00", "\x30\x84\x01\x00\x00\x00"};
	struct ward_wl_bytes out[5];
	size_t total = 0, off = 0, n;
	uint8_t *der;

	(void)state;
	for (size_t i = 0; i < 5; i++)
		total += i + 2 + body[i];
	der = calloc(1, total);
	assert_non_null(der);
	for (size_t i = 0; i < 5; i++) {
		memcpy(der + off, hdr[i], i + 2);
		off += i + 2 + body[i];
	}
	assert_int_equal(ward_wl_der_split(der, total, out, 5, &n), 0);
	assert_int_equal(n, 5);
	off = 0;
	for (size_t i = 0; i < 5; i++) {
		assert_ptr_equal(out[i].data, der + off);
		assert_int_equal(out[i].len, i + 2 + body[i]);
		off += out[i].len;
	}
	assert_int_equal(ward_wl_der_split(der, total, out, 4, &n), WARD_ERR_RANGE);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_svid_response_bytes),
	    cmocka_unit_test(test_bundles_response_bytes),
	    cmocka_unit_test(test_empty_fields),
	    cmocka_unit_test(test_unknown_fields_skipped),
	    cmocka_unit_test(test_svid_response_errors),
	    cmocka_unit_test(test_federated_keys),
	    cmocka_unit_test(test_federated_duplicate_key),
	    cmocka_unit_test(test_too_many_bundles),
	    cmocka_unit_test(test_too_many_svids),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_round_trip_real_certs),
	    cmocka_unit_test(test_der_split_errors),
	    cmocka_unit_test(test_der_split_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
