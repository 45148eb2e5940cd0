/* The PROXY protocol version 2 header (HAProxy's proxy-protocol.txt, §2.2):
 * the binary block a proxy sends before the first byte of a TCP stream to
 * tell the server who connected to whom, followed by TLVs (§2.2.1–2.2.7).
 *
 * An encoder only, and a pure function of its input: ward sends this header
 * to an app and never accepts one. It refuses to produce a header a strict
 * reader would reject (mixed or non-IP families, a TLV or a total length past
 * the 16-bit length fields), so a caller can never emit a malformed one. */
#ifndef WARD_PROXY_V2_H
#define WARD_PROXY_V2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/err.h"

/* §2.2: the 16-byte fixed part, then at most 65535 bytes it announces. */
#define WARD_PROXY_V2_FIXED 16u
#define WARD_PROXY_V2_MAX (WARD_PROXY_V2_FIXED + 65535u)

/* §2.2.5 (PP2_TYPE_SSL) and its sub-types and client flags. */
#define WARD_PROXY_V2_TYPE_SSL 0x20
#define WARD_PROXY_V2_SUBTYPE_SSL_VERSION 0x21
#define WARD_PROXY_V2_SUBTYPE_SSL_CIPHER 0x23
#define WARD_PROXY_V2_CLIENT_SSL 0x01
#define WARD_PROXY_V2_CLIENT_CERT_CONN 0x02
#define WARD_PROXY_V2_CLIENT_CERT_SESS 0x04

/* One TLV: type and value[0..len). */
struct ward_proxy_v2_tlv {
	uint8_t type;
	const void *value; /* borrowed */
	size_t len;
};

/* The PP2_TYPE_SSL TLV: the connection came over TLS. */
struct ward_proxy_v2_ssl {
	uint8_t client;		      /* WARD_PROXY_V2_CLIENT_* flags */
	uint32_t verify;	      /* 0: the client's certificate was verified */
	const char *version, *cipher; /* sub-TLVs (borrowed); NULL leaves one out */
};

struct ward_proxy_v2 {
	const struct sockaddr *src;	      /* the client; AF_INET or AF_INET6 */
	const struct sockaddr *dst;	      /* where it connected; the same family */
	const struct ward_proxy_v2_ssl *ssl;  /* NULL: not a TLS connection */
	const struct ward_proxy_v2_tlv *tlvs; /* after the SSL TLV, in order */
	size_t n_tlvs;
};

/* Appends the header for h (command PROXY, transport STREAM) to out. On any
 * failure nothing is appended and the reason names what was wrong. */
int ward_proxy_v2_encode(const struct ward_proxy_v2 *h, struct ward_buf *out) WARD_MUST_CHECK;

#endif
