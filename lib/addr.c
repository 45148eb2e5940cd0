/* Addresses and CIDRs; see addr.h. */
#include "lib/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strict decimal: no sign, no spaces, at most 5 digits. */
static int parse_port(const char *s, uint16_t *out)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 5; i++)
		n = n * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || n > 65535)
		return WARD_ERR_INVALID;
	*out = (uint16_t)n;
	return 0;
}

/* Splits "ip:port" / "[ip6]:port" into a NUL-terminated host and the port text. */
static int split_host_port(const char *text, char *host, size_t len, const char **port, bool *v6)
{
	const char *start = text, *end;

	*v6 = text[0] == '[';
	if (*v6) {
		start = text + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return WARD_ERR_INVALID;
		*port = end + 2;
	} else {
		end = strchr(text, ':');
		if (!end || strchr(end + 1, ':'))
			return WARD_ERR_INVALID;
		*port = end + 1;
	}
	if (end == start || (size_t)(end - start) >= len)
		return WARD_ERR_INVALID;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	return 0;
}

int ward_addr_parse(const char *text, struct ward_addr *out)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	char host[INET6_ADDRSTRLEN];
	struct ward_addr a;
	const char *port_s;
	uint16_t port;
	bool v6;

	memset(&a, 0, sizeof(a));
	sin = (struct sockaddr_in *)&a.ss;
	sin6 = (struct sockaddr_in6 *)&a.ss;
	if (split_host_port(text, host, sizeof(host), &port_s, &v6) < 0 ||
	    parse_port(port_s, &port) < 0)
		goto bad;
	if (v6 && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		a.len = sizeof(*sin6);
	} else if (!v6 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		a.len = sizeof(*sin);
	} else {
		goto bad;
	}
	*out = a;
	return 0;
bad:
	return ward_err_set(WARD_ERR_INVALID,
			    "\"%.64s\" is not an address (want ip:port or [ipv6]:port)", text);
}

uint16_t ward_addr_port(const struct ward_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

const char *ward_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char ip[INET6_ADDRSTRLEN];

	if (!buf || !len)
		return "";
	if (sa && sa->sa_family == AF_INET && inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	else if (sa && sa->sa_family == AF_INET6 &&
		 inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	else
		snprintf(buf, len, "(no address)");
	return buf;
}

/* True if the first prefix_len bits of a and b are equal. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix_len)
{
	unsigned whole = prefix_len / 8, rest = prefix_len % 8;
	uint8_t mask = (uint8_t)(0xff00u >> rest);

	if (memcmp(a, b, whole))
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

static bool host_bits_zero(const uint8_t *addr, unsigned prefix_len, unsigned bits)
{
	unsigned i;

	for (i = prefix_len; i < bits; i++)
		if (addr[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

int ward_cidr_parse(const char *text, struct ward_cidr *out)
{
	struct ward_cidr c;
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	unsigned long len = 0, max;
	size_t i;

	memset(&c, 0, sizeof(c));
	if (!slash || slash == text || (size_t)(slash - text) >= sizeof(host))
		goto bad;
	memcpy(host, text, (size_t)(slash - text));
	host[slash - text] = '\0';
	c.family = strchr(host, ':') ? AF_INET6 : AF_INET;
	max = c.family == AF_INET ? 32 : 128;
	if (inet_pton(c.family, host, c.addr) != 1)
		goto bad;
	for (i = 1; slash[i] >= '0' && slash[i] <= '9' && i <= 3; i++)
		len = len * 10 + (unsigned long)(slash[i] - '0');
	if (i == 1 || slash[i] != '\0' || len > max)
		goto bad;
	c.prefix_len = (unsigned)len;
	/* Host bits set usually means a typo in the prefix; say so rather than guess. */
	ENSURE(host_bits_zero(c.addr, c.prefix_len, (unsigned)max), WARD_ERR_INVALID,
	       "\"%.64s\" has host bits set", text);
	*out = c;
	return 0;
bad:
	return ward_err_set(WARD_ERR_INVALID, "\"%.64s\" is not a CIDR", text);
}

bool ward_cidr_contains(const struct ward_cidr *cidr, const struct sockaddr *sa)
{
	const uint8_t *a;

	if (sa->sa_family == AF_INET) {
		if (cidr->family != AF_INET)
			return false;
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		a = in6->s6_addr;
		/* ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 peer. */
		if (cidr->family == AF_INET) {
			if (!IN6_IS_ADDR_V4MAPPED(in6))
				return false;
			a += 12;
		} else if (cidr->family != AF_INET6) {
			return false;
		}
	} else {
		return false;
	}
	return prefix_equal(cidr->addr, a, cidr->prefix_len);
}

void ward_addr_source_key(const struct sockaddr_storage *ss, uint8_t key[WARD_ADDR_SOURCE_KEY])
{
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	memset(key, 0, WARD_ADDR_SOURCE_KEY);
	if (ss->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(a6)) {
		key[0] = 6;
		memcpy(key + 1, a6->s6_addr, 8);
	} else if (ss->ss_family == AF_INET6) {
		key[0] = 4;
		memcpy(key + 1, a6->s6_addr + 12, 4);
	} else if (ss->ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	}
}

const char *ward_cidr_format(const struct ward_cidr *cidr, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(cidr->family, cidr->addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s/%u", ip, cidr->prefix_len);
	return buf;
}

void ward_addr_ip(const struct sockaddr *a, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
	struct sockaddr_in *o4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *o6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (a->sa_family == AF_INET) {
		o4->sin_family = AF_INET;
		o4->sin_addr = ((const struct sockaddr_in *)a)->sin_addr;
	} else if (a->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		o4->sin_family = AF_INET;
		memcpy(&o4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	} else if (a->sa_family == AF_INET6) {
		o6->sin6_family = AF_INET6;
		o6->sin6_addr = s6->sin6_addr;
	}
}

bool ward_addr_ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return !memcmp(a, b, sizeof(*a));
}
