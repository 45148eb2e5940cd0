/* The capture scope's values, as `ward iptables` flags and the injector's
 * annotations write them: port lists and CIDR lists, comma-separated, "*"
 * for "all" where allowed. */
#ifndef WARD_CAPTURE_H
#define WARD_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Bounds the size of a rendered ruleset (includes × CIDRs is a product). */
#define WARD_CAPTURE_MAX_LIST 64

struct ward_capture_ports {
	bool all; /* "*": every port */
	size_t n;
	uint16_t port[WARD_CAPTURE_MAX_LIST];
};

struct ward_capture_cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order, host bits cleared */
	uint8_t prefix;
};

struct ward_capture_cidrs {
	bool all; /* "*": every destination */
	size_t n;
	struct ward_capture_cidr cidr[WARD_CAPTURE_MAX_LIST];
};

/* Single values and lists; errors name the value. */
WARD_MUST_CHECK int ward_capture_parse_port(const char *s, uint16_t *port);
WARD_MUST_CHECK int ward_capture_parse_id(const char *s, uint32_t *id);
WARD_MUST_CHECK int ward_capture_parse_ports(const char *s, bool star_ok,
					     struct ward_capture_ports *out);
WARD_MUST_CHECK int ward_capture_parse_cidr(const char *s, struct ward_capture_cidr *out);
WARD_MUST_CHECK int ward_capture_parse_cidrs(const char *s, bool star_ok,
					     struct ward_capture_cidrs *out);

#endif
