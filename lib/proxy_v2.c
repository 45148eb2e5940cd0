/* The PROXY protocol v2 encoder; see proxy_v2.h. Section numbers are those
 * of HAProxy's proxy-protocol.txt. */
#include "lib/proxy_v2.h"

#include <netinet/in.h>
#include <string.h>

#define U16_MAX 65535u
#define TLV_HEAD 3u /* type, length_hi, length_lo (§2.2) */

/* §2.2: the signature, then version 2 with command PROXY. */
static const uint8_t signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
#define VER_CMD_PROXY 0x21
#define FAM_TCP4 0x11
#define FAM_TCP6 0x21

/* The address block of §2.2: source and destination addresses, then source
 * and destination ports, all in network byte order. */
struct addr_block {
	uint8_t fam;
	uint8_t bytes[36];
	size_t len;
};

static void addr_v4(const struct sockaddr *src, const struct sockaddr *dst, struct addr_block *a)
{
	const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;

	a->fam = FAM_TCP4;
	memcpy(a->bytes, &s->sin_addr, 4);
	memcpy(a->bytes + 4, &d->sin_addr, 4);
	memcpy(a->bytes + 8, &s->sin_port, 2);
	memcpy(a->bytes + 10, &d->sin_port, 2);
	a->len = 12;
}

static void addr_v6(const struct sockaddr *src, const struct sockaddr *dst, struct addr_block *a)
{
	const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;

	a->fam = FAM_TCP6;
	memcpy(a->bytes, &s->sin6_addr, 16);
	memcpy(a->bytes + 16, &d->sin6_addr, 16);
	memcpy(a->bytes + 32, &s->sin6_port, 2);
	memcpy(a->bytes + 34, &d->sin6_port, 2);
	a->len = 36;
}

static int addr_block(const struct ward_proxy_v2 *h, struct addr_block *a)
{
	ENSURE(h->src && h->dst, WARD_ERR_INVALID, "PROXY v2 header: no source or destination");
	ENSURE(h->src->sa_family == h->dst->sa_family, WARD_ERR_INVALID,
	       "PROXY v2 header: source and destination families differ (%d, %d)",
	       h->src->sa_family, h->dst->sa_family);
	if (h->src->sa_family == AF_INET)
		addr_v4(h->src, h->dst, a);
	else if (h->src->sa_family == AF_INET6)
		addr_v6(h->src, h->dst, a);
	else
		return ward_err_set(WARD_ERR_INVALID,
				    "PROXY v2 header: address family %d is neither IPv4 nor IPv6",
				    h->src->sa_family);
	return 0;
}

/* Adds one TLV of len value bytes to *total, which may never pass 65535. */
static int add_tlv(size_t *total, size_t len, unsigned type)
{
	ENSURE(len <= U16_MAX - TLV_HEAD && *total <= U16_MAX - TLV_HEAD - len, WARD_ERR_RANGE,
	       "PROXY v2 header: TLV 0x%02x of %zu bytes passes the 65535-byte header limit", type,
	       len);
	*total += TLV_HEAD + len;
	return 0;
}

static size_t opt_len(const char *s)
{
	return s ? strlen(s) : 0;
}

/* The value of the SSL TLV (§2.2.5): client, verify, then sub-TLVs. */
static int ssl_value_len(const struct ward_proxy_v2_ssl *ssl, size_t *len)
{
	*len = 1 + 4;
	if (ssl->version)
		GUARD(add_tlv(len, opt_len(ssl->version), WARD_PROXY_V2_SUBTYPE_SSL_VERSION));
	if (ssl->cipher)
		GUARD(add_tlv(len, opt_len(ssl->cipher), WARD_PROXY_V2_SUBTYPE_SSL_CIPHER));
	return 0;
}

/* What the 16-bit length field announces: everything after the fixed part. */
static int body_len(const struct ward_proxy_v2 *h, size_t addr_len, size_t *total)
{
	size_t ssl_len;

	*total = addr_len;
	if (h->ssl) {
		GUARD(ssl_value_len(h->ssl, &ssl_len));
		GUARD(add_tlv(total, ssl_len, WARD_PROXY_V2_TYPE_SSL));
	}
	for (size_t i = 0; i < h->n_tlvs; i++)
		GUARD(add_tlv(total, h->tlvs[i].len, h->tlvs[i].type));
	return 0;
}

static int put_u8(struct ward_buf *b, uint8_t v)
{
	return ward_buf_append(b, &v, 1);
}

static int put_u16(struct ward_buf *b, size_t v)
{
	uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	return ward_buf_append(b, be, 2);
}

static int put_tlv(struct ward_buf *b, uint8_t type, const void *value, size_t len)
{
	GUARD(put_u8(b, type));
	GUARD(put_u16(b, len));
	return ward_buf_append(b, value, len);
}

static int put_ssl(struct ward_buf *b, const struct ward_proxy_v2_ssl *ssl)
{
	uint8_t verify[4] = {(uint8_t)(ssl->verify >> 24), (uint8_t)(ssl->verify >> 16),
			     (uint8_t)(ssl->verify >> 8), (uint8_t)ssl->verify};
	size_t len;

	GUARD(ssl_value_len(ssl, &len));
	GUARD(put_u8(b, WARD_PROXY_V2_TYPE_SSL));
	GUARD(put_u16(b, len));
	GUARD(put_u8(b, ssl->client));
	GUARD(ward_buf_append(b, verify, sizeof(verify)));
	if (ssl->version)
		GUARD(put_tlv(b, WARD_PROXY_V2_SUBTYPE_SSL_VERSION, ssl->version,
			      strlen(ssl->version)));
	if (ssl->cipher)
		GUARD(
		    put_tlv(b, WARD_PROXY_V2_SUBTYPE_SSL_CIPHER, ssl->cipher, strlen(ssl->cipher)));
	return 0;
}

static int put_header(const struct ward_proxy_v2 *h, const struct addr_block *a, size_t total,
		      struct ward_buf *out)
{
	GUARD(ward_buf_append(out, signature, sizeof(signature)));
	GUARD(put_u8(out, VER_CMD_PROXY));
	GUARD(put_u8(out, a->fam));
	GUARD(put_u16(out, total));
	GUARD(ward_buf_append(out, a->bytes, a->len));
	if (h->ssl)
		GUARD(put_ssl(out, h->ssl));
	for (size_t i = 0; i < h->n_tlvs; i++)
		GUARD(put_tlv(out, h->tlvs[i].type, h->tlvs[i].value, h->tlvs[i].len));
	return 0;
}

int ward_proxy_v2_encode(const struct ward_proxy_v2 *h, struct ward_buf *out)
{
	size_t before = ward_buf_len(out), total;
	struct addr_block a;
	int rc;

	GUARD(addr_block(h, &a));
	GUARD(body_len(h, a.len, &total));
	ENSURE(ward_buf_limit(out) - before >= WARD_PROXY_V2_FIXED + total, WARD_ERR_RANGE,
	       "PROXY v2 header of %zu bytes does not fit in the buffer",
	       WARD_PROXY_V2_FIXED + total);
	rc = put_header(h, &a, total, out);
	if (rc < 0)
		ward_buf_truncate(out, before);
	return rc;
}
