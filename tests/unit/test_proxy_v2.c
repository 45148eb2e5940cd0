/* The PROXY protocol v2 encoder: exact bytes for IPv4 and IPv6, the SSL TLV
 * and the SPIFFE ID TLV read back by a strict reader written from the spec
 * (HAProxy's proxy-protocol.txt §2.2), lengths at and past the 16-bit limits,
 * and inputs the encoder must refuse rather than emit a malformed header. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "lib/proxy_v2.h"

#define SPIFFE_TLV 0xD0

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

/* --- a strict reader, as a careful receiver would be (§2.2) --- */

struct tlv {
	uint8_t type;
	const uint8_t *value;
	size_t len;
};

struct parsed {
	uint8_t fam;
	const uint8_t *addr;
	size_t addr_len;
	struct tlv tlv[8];
	size_t n_tlv;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* TLVs must tile [p, p + n) exactly. */
static int read_tlvs(const uint8_t *p, size_t n, struct tlv *out, size_t max, size_t *count)
{
	size_t off = 0;

	*count = 0;
	while (off < n) {
		if (n - off < 3 || *count == max)
			return -1;
		out[*count] = (struct tlv){p[off], p + off + 3, be16(p + off + 1)};
		if (out[*count].len > n - off - 3)
			return -1;
		off += 3 + out[*count].len;
		(*count)++;
	}
	return 0;
}

static int strict_read(const uint8_t *p, size_t n, struct parsed *out)
{
	size_t len;

	if (n < 16 || memcmp(p, sig, 12) || p[12] != 0x21 || (p[13] != 0x11 && p[13] != 0x21))
		return -1;
	len = be16(p + 14);
	out->fam = p[13];
	out->addr = p + 16;
	out->addr_len = p[13] == 0x11 ? 12 : 36;
	if (n != 16 + len || len < out->addr_len)
		return -1;
	return read_tlvs(p + 16 + out->addr_len, len - out->addr_len, out->tlv, 8, &out->n_tlv);
}

static const struct tlv *find_tlv(const struct parsed *p, uint8_t type)
{
	for (size_t i = 0; i < p->n_tlv; i++)
		if (p->tlv[i].type == type)
			return &p->tlv[i];
	return NULL;
}

/* --- helpers --- */

/* The buffer has room for far more than a header, so that only the
 * encoder's own length checks can refuse one. */
static int encode(const struct ward_proxy_v2 *h, struct ward_buf *b)
{
	ward_buf_init(b, 4 * WARD_PROXY_V2_MAX);
	return ward_proxy_v2_encode(h, b);
}

static void encode_and_read(const struct ward_proxy_v2 *h, struct ward_buf *b, struct parsed *p)
{
	assert_int_equal(encode(h, b), 0);
	assert_int_equal(strict_read(ward_buf_peek(b), ward_buf_len(b), p), 0);
}

/* --- tests --- */

static void test_v4_exact_bytes(void **state)
{
	struct sockaddr_in src = v4("10.1.0.1", 40000), dst = v4("10.1.0.2", 8080);
	struct ward_proxy_v2 h = {.src = (void *)&src, .dst = (void *)&dst};
	static const uint8_t want[] = {
	    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, /* signature */
	    0x21, 0x11, 0x00, 0x0C,			 /* v2 PROXY, TCP4, 12 */
	    10,	  1,	0,    1,    10,	  1,	0,    2, /* addresses */
	    0x9C, 0x40, 0x1F, 0x90,			 /* 40000, 8080 */
	};
	struct ward_buf b;

	(void)state;
	assert_int_equal(encode(&h, &b), 0);
	assert_int_equal(ward_buf_len(&b), sizeof(want));
	assert_memory_equal(ward_buf_peek(&b), want, sizeof(want));
	ward_buf_free(&b);
}

static void test_v6_exact_bytes(void **state)
{
	struct sockaddr_in6 src = v6("fd00::1", 1), dst = v6("fd00::2", 65535);
	struct ward_proxy_v2 h = {.src = (void *)&src, .dst = (void *)&dst};
	uint8_t want[52] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
			    0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 36};
	struct ward_buf b;

	(void)state;
	want[16] = 0xfd, want[31] = 1;	  /* fd00::1 */
	want[32] = 0xfd, want[47] = 2;	  /* fd00::2 */
	want[48] = 0, want[49] = 1;	  /* port 1 */
	want[50] = 0xff, want[51] = 0xff; /* port 65535 */
	assert_int_equal(encode(&h, &b), 0);
	assert_int_equal(ward_buf_len(&b), sizeof(want));
	assert_memory_equal(ward_buf_peek(&b), want, sizeof(want));
	ward_buf_free(&b);
}

static void test_ssl_and_identity_tlvs(void **state)
{
	static const char id[] = "spiffe://example.org/ns/default/sa/a";
	struct sockaddr_in src = v4("10.1.0.1", 40000), dst = v4("10.1.0.2", 8080);
	struct ward_proxy_v2_ssl ssl = {.client = WARD_PROXY_V2_CLIENT_SSL |
						  WARD_PROXY_V2_CLIENT_CERT_CONN |
						  WARD_PROXY_V2_CLIENT_CERT_SESS,
					.version = "TLSv1.3",
					.cipher = "TLS_AES_128_GCM_SHA256"};
	struct ward_proxy_v2_tlv tlv = {SPIFFE_TLV, id, strlen(id)};
	struct ward_proxy_v2 h = {
	    .src = (void *)&src, .dst = (void *)&dst, .ssl = &ssl, .tlvs = &tlv, .n_tlvs = 1};
	const struct tlv *t, *sub;
	struct tlv subs[4];
	struct parsed p;
	struct ward_buf b;
	size_t n;

	(void)state;
	encode_and_read(&h, &b, &p);
	assert_int_equal(p.n_tlv, 2);
	assert_int_equal(p.tlv[0].type, 0x20); /* SSL first, then ours, in order */
	t = find_tlv(&p, SPIFFE_TLV);
	assert_non_null(t);
	assert_int_equal(t->len, strlen(id));
	assert_memory_equal(t->value, id, strlen(id));
	/* §2.2.5: client (1 byte), verify (4 bytes, 0 = verified), sub-TLVs. */
	t = find_tlv(&p, 0x20);
	assert_int_equal(t->value[0], 0x07);
	assert_int_equal(be16(t->value + 1) | be16(t->value + 3), 0);
	assert_int_equal(read_tlvs(t->value + 5, t->len - 5, subs, 4, &n), 0);
	assert_int_equal(n, 2);
	sub = &subs[0];
	assert_int_equal(sub->type, 0x21);
	assert_int_equal(sub->len, 7);
	assert_memory_equal(sub->value, "TLSv1.3", 7);
	sub = &subs[1];
	assert_int_equal(sub->type, 0x23);
	assert_memory_equal(sub->value, "TLS_AES_128_GCM_SHA256", sub->len);
	ward_buf_free(&b);
}

/* SPIFFE-ID §2.3: an ID may be 2048 bytes; it travels whole. */
static void test_spiffe_id_at_its_maximum(void **state)
{
	struct sockaddr_in6 src = v6("fd00::1", 40000), dst = v6("fd00::2", 8080);
	struct ward_proxy_v2_ssl ssl = {.client = 1, .version = "TLSv1.3", .cipher = "x"};
	char id[2048];
	struct ward_proxy_v2_tlv tlv = {SPIFFE_TLV, id, sizeof(id)};
	struct ward_proxy_v2 h = {
	    .src = (void *)&src, .dst = (void *)&dst, .ssl = &ssl, .tlvs = &tlv, .n_tlvs = 1};
	const struct tlv *t;
	struct parsed p;
	struct ward_buf b;

	(void)state;
	memset(id, 'a', sizeof(id));
	memcpy(id, "spiffe://example.org/", 21);
	encode_and_read(&h, &b, &p);
	assert_int_equal(p.fam, 0x21);
	t = find_tlv(&p, SPIFFE_TLV);
	assert_int_equal(t->len, sizeof(id));
	assert_memory_equal(t->value, id, sizeof(id));
	ward_buf_free(&b);
}

/* The length field is 16 bits: a header announcing exactly 65535 bytes is
 * the largest there is; one byte more is refused, never wrapped. */
static void test_lengths_at_the_limit(void **state)
{
	struct sockaddr_in src = v4("10.1.0.1", 1), dst = v4("10.1.0.2", 2);
	struct sockaddr_in6 src6 = v6("::1", 1), dst6 = v6("::2", 2);
	uint8_t *big = calloc(1, 65536);
	struct ward_proxy_v2_tlv tlv = {SPIFFE_TLV, big, 65535 - 12 - 3};
	struct ward_proxy_v2 h = {
	    .src = (void *)&src, .dst = (void *)&dst, .tlvs = &tlv, .n_tlvs = 1};
	const size_t fits[] = {65535 - 12 - 3, 0};
	const size_t too_long[] = {65535 - 12 - 2, 65535, 65536, SIZE_MAX};
	struct parsed p;
	struct ward_buf b;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 2; i++) {
		tlv.len = fits[i];
		encode_and_read(&h, &b, &p);
		assert_int_equal(p.tlv[0].len, fits[i]);
		ward_buf_free(&b);
	}
	assert_int_equal(65551, WARD_PROXY_V2_MAX);
	for (size_t i = 0; i < 4; i++) {
		tlv.len = too_long[i];
		assert_int_equal(encode(&h, &b), WARD_ERR_RANGE);
		assert_int_equal(ward_buf_len(&b), 0);
		ward_buf_free(&b);
	}
	/* IPv6 addresses take 36 of the 65535 bytes. */
	h.src = (void *)&src6, h.dst = (void *)&dst6;
	tlv.len = 65535 - 36 - 3;
	encode_and_read(&h, &b, &p);
	ward_buf_free(&b);
	tlv.len++;
	assert_int_equal(encode(&h, &b), WARD_ERR_RANGE);
	ward_buf_free(&b);
	free(big);
}

/* Many TLVs that fit one by one but not together; an SSL sub-TLV too long. */
static void test_sums_past_the_limit(void **state)
{
	struct sockaddr_in src = v4("10.1.0.1", 1), dst = v4("10.1.0.2", 2);
	uint8_t *big = calloc(1, 40000);
	struct ward_proxy_v2_tlv tlvs[2] = {{0xE0, big, 40000}, {0xE1, big, 40000}};
	struct ward_proxy_v2 h = {
	    .src = (void *)&src, .dst = (void *)&dst, .tlvs = tlvs, .n_tlvs = 2};
	struct ward_proxy_v2_ssl ssl = {.client = 1};
	struct ward_buf b;
	char *version = malloc(65531);

	(void)state;
	assert_non_null(big);
	assert_non_null(version);
	assert_int_equal(encode(&h, &b), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 0);
	ward_buf_free(&b);
	memset(version, 'v', 65530);
	version[65530] = '\0';
	ssl.version = version;
	h.n_tlvs = 0;
	h.ssl = &ssl;
	assert_int_equal(encode(&h, &b), WARD_ERR_RANGE);
	ward_buf_free(&b);
	free(version);
	free(big);
}

/* Inputs that have no correct header are refused, and nothing is written:
 * what was already in the buffer stays as it was. */
static void test_refuses_what_has_no_header(void **state)
{
	struct sockaddr_in src = v4("10.1.0.1", 1);
	struct sockaddr_in6 dst6 = v6("::2", 2);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct ward_proxy_v2 mixed = {.src = (void *)&src, .dst = (void *)&dst6};
	struct ward_proxy_v2 unix_fam = {.src = (void *)&un, .dst = (void *)&un};
	struct ward_proxy_v2 none = {.src = NULL, .dst = (void *)&src};
	struct ward_proxy_v2 ok = {.src = (void *)&src, .dst = (void *)&src};
	struct ward_buf b;

	(void)state;
	assert_int_equal(encode(&mixed, &b), WARD_ERR_INVALID);
	assert_int_equal(encode(&unix_fam, &b), WARD_ERR_INVALID);
	assert_int_equal(encode(&none, &b), WARD_ERR_INVALID);
	/* A buffer with 27 bytes of room for a 28-byte header. */
	ward_buf_init(&b, 3 + 27);
	assert_int_equal(ward_buf_append(&b, "abc", 3), 0);
	assert_int_equal(ward_proxy_v2_encode(&ok, &b), WARD_ERR_RANGE);
	assert_int_equal(ward_buf_len(&b), 3);
	assert_memory_equal(ward_buf_peek(&b), "abc", 3);
	ward_buf_free(&b);
	/* With room for it, the header follows what was there. */
	ward_buf_init(&b, 3 + 28);
	assert_int_equal(ward_buf_append(&b, "abc", 3), 0);
	assert_int_equal(ward_proxy_v2_encode(&ok, &b), 0);
	assert_int_equal(ward_buf_len(&b), 31);
	assert_memory_equal(ward_buf_peek(&b) + 3, sig, 12);
	ward_buf_free(&b);
}

/* The reader the tests trust is itself strict: each malformation of a good
 * header is caught, so the tests above cannot pass on a lax reading. */
static void test_reader_rejects_malformed(void **state)
{
	static const char id[] = "spiffe://example.org/x";
	struct sockaddr_in src = v4("10.1.0.1", 1), dst = v4("10.1.0.2", 2);
	struct ward_proxy_v2_tlv tlv = {SPIFFE_TLV, id, strlen(id)};
	struct ward_proxy_v2 h = {
	    .src = (void *)&src, .dst = (void *)&dst, .tlvs = &tlv, .n_tlvs = 1};
	struct parsed p;
	struct ward_buf b;
	uint8_t bad[64];
	size_t n;

	(void)state;
	encode_and_read(&h, &b, &p);
	n = ward_buf_len(&b);
	assert_true(n <= sizeof(bad));
	for (int k = 0; k < 5; k++) {
		memcpy(bad, ward_buf_peek(&b), n);
		switch (k) {
		case 0:
			bad[15]++;
			break; /* announces a byte that is not there */
		case 1:
			bad[15]--;
			break; /* the last TLV overruns the header */
		case 2:
			bad[30]++;
			break; /* the TLV's own length overruns */
		case 3:
			bad[12] = 0x20;
			break; /* command LOCAL, not PROXY */
		case 4:
			bad[5] ^= 1;
			break; /* signature */
		}
		assert_int_equal(strict_read(bad, n, &p), -1);
	}
	assert_int_equal(strict_read(ward_buf_peek(&b), n - 1, &p), -1); /* truncated */
	ward_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v4_exact_bytes),
	    cmocka_unit_test(test_v6_exact_bytes),
	    cmocka_unit_test(test_ssl_and_identity_tlvs),
	    cmocka_unit_test(test_spiffe_id_at_its_maximum),
	    cmocka_unit_test(test_lengths_at_the_limit),
	    cmocka_unit_test(test_sums_past_the_limit),
	    cmocka_unit_test(test_refuses_what_has_no_header),
	    cmocka_unit_test(test_reader_rejects_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
