/* Addresses and CIDRs as ward's configuration and command lines write them:
 * "ip:port", "[ipv6]:port", "10.0.0.0/8", "::/0". Numeric only: no name
 * lookups. */
#ifndef WARD_ADDR_H
#define WARD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"

struct ward_addr {
	struct sockaddr_storage ss; /* AF_INET or AF_INET6, port set */
	socklen_t len;
};

struct ward_cidr {
	int family;	     /* AF_INET or AF_INET6 */
	uint8_t addr[16];    /* network address, host bits zeroed */
	unsigned prefix_len; /* 0..32 or 0..128 */
};

/* "1.2.3.4:80", "[::1]:80", "0.0.0.0:15001" -> addr. Numeric only; port 0 is
 * accepted here (the config's listen keys require 1..65535). */
int ward_addr_parse(const char *text, struct ward_addr *out) WARD_MUST_CHECK;
/* "10.0.0.0/8", "::/0" -> cidr. The prefix length is required and host bits
 * must be zero. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is contained in
 * a v4 CIDR; a plain IPv4 address is never contained in a v6 CIDR. */
int ward_cidr_parse(const char *text, struct ward_cidr *out) WARD_MUST_CHECK;
bool ward_cidr_contains(const struct ward_cidr *cidr, const struct sockaddr *addr);
/* Formats "10.0.0.0/8" / "fd00::/8" into buf. */
const char *ward_cidr_format(const struct ward_cidr *cidr, char *buf, size_t len);
/* The port of an AF_INET / AF_INET6 addr, in host order (0 otherwise). */
uint16_t ward_addr_port(const struct ward_addr *addr);
/* The address of a alone: port zeroed, an IPv4-mapped IPv6 address folded
 * to IPv4, everything else zero, so two results compare with memcmp
 * (ward_addr_ip_equal). A family other than IPv4/IPv6 gives AF_UNSPEC. */
void ward_addr_ip(const struct sockaddr *a, struct sockaddr_storage *out);
bool ward_addr_ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Formats "ip:port" / "[ip]:port" into buf. */
const char *ward_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Who a peer is, for per-source limits: its IPv4 address (also when it arrives
 * IPv4-mapped), or the /64 of its IPv6 address, the smallest block one host
 * is usually given. Anything else (a unix socket) is all zeroes. */
#define WARD_ADDR_SOURCE_KEY 16
void ward_addr_source_key(const struct sockaddr_storage *ss, uint8_t key[WARD_ADDR_SOURCE_KEY]);

#endif
