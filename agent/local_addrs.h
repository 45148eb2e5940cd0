/* This pod's own addresses, from getifaddrs(3): the only destinations the
 * tunnel listener connects to, so that it is never an open proxy. Loopback
 * interfaces are left out (capture never sends a peer there). One per worker
 * (no locks); a lookup that misses reloads the list, at most once a second,
 * so an address added after start is found without letting a peer make the
 * agent dump its interfaces at will. */
#ifndef WARD_AGENT_LOCAL_ADDRS_H
#define WARD_AGENT_LOCAL_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"

#define WARD_LOCAL_ADDRS_MAX 64

struct ward_local_addrs {
	struct sockaddr_storage addr[WARD_LOCAL_ADDRS_MAX]; /* ports zeroed */
	size_t n;
	uint64_t loaded_ms; /* when the list was read; 0: never */
};

/* Reads the interfaces' addresses now. */
int ward_local_addrs_load(struct ward_local_addrs *l, uint64_t now_ms) WARD_MUST_CHECK;
/* a (port ignored; an IPv4-mapped IPv6 address counts as IPv4) is one of
 * ours, reloading first on a miss if the list is over a second old. */
bool ward_local_addrs_has(struct ward_local_addrs *l, const struct sockaddr *a, uint64_t now_ms);

#endif
