/* The capture scope's values, as `ward iptables` flags and the injector's
 * annotations write them: port lists and CIDR lists, comma-separated, "*"
 * for "all" where allowed. */
#ifndef WARD_CAPTURE_H
#define WARD_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

/* Bounds the size of a rendered ruleset (includes × CIDRs is a product). */
#define WARD_CAPTURE_MAX_LIST 64

struct ward_capture_ports {
	bool all; /* "*": every port */
	size_t n;
	uint16_t port[WARD_CAPTURE_MAX_LIST];
};

struct ward_capture_cidrs {
	bool all; /* "*": every destination */
	size_t n;
	struct ward_cidr cidr[WARD_CAPTURE_MAX_LIST]; /* as the config writes them */
};

/* Single values and lists; errors name the value. A CIDR follows the
 * config's one rule (ward_cidr_parse): the prefix length is required and host
 * bits must be zero. A list may not name the same port or CIDR twice. */
WARD_MUST_CHECK int ward_capture_parse_port(const char *s, uint16_t *port);
WARD_MUST_CHECK int ward_capture_parse_id(const char *s, uint32_t *id);
WARD_MUST_CHECK int ward_capture_parse_ports(const char *s, bool star_ok,
					     struct ward_capture_ports *out);
WARD_MUST_CHECK int ward_capture_parse_cidrs(const char *s, bool star_ok,
					     struct ward_capture_cidrs *out);

#endif
