/* This pod's own addresses, from getifaddrs(3): the only destinations the
 * tunnel listener connects to, so that it is never an open proxy. Loopback
 * interfaces are left out (capture never sends a peer there). One per worker
 * (no locks). The kernel tells of every address added or removed (an
 * rtnetlink socket on the worker's loop): the next lookup reads them again.
 * Otherwise a lookup that misses reloads the list at most once a second, so
 * a peer cannot make the agent dump its interfaces at will. */
#ifndef WARD_AGENT_LOCAL_ADDRS_H
#define WARD_AGENT_LOCAL_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "lib/err.h"

#define WARD_LOCAL_ADDRS_MAX 64

struct ward_local_addrs {
	struct sockaddr_storage addr[WARD_LOCAL_ADDRS_MAX]; /* ports zeroed */
	size_t n;
	uint64_t loaded_ms; /* when the list was read; 0: never */
	bool stale;	    /* an address changed since: read them again */
	uv_poll_t watch;    /* the rtnetlink socket's */
	int watch_fd;	    /* owned; -1 when not watching */
	bool watching;
};

/* Watches address changes on loop (best effort: without it the list is
 * still reloaded on a miss). Stopped by ward_local_addrs_unwatch. */
int ward_local_addrs_watch(struct ward_local_addrs *l, uv_loop_t *loop) WARD_MUST_CHECK;
/* Closes the watch. Safe to call more than once, and without a watch. */
void ward_local_addrs_unwatch(struct ward_local_addrs *l);

/* Reads the interfaces' addresses now. */
int ward_local_addrs_load(struct ward_local_addrs *l, uint64_t now_ms) WARD_MUST_CHECK;
/* a (port ignored; an IPv4-mapped IPv6 address counts as IPv4) is one of
 * ours, reloading first on a miss if the list is over a second old. */
bool ward_local_addrs_has(struct ward_local_addrs *l, const struct sockaddr *a, uint64_t now_ms);

#endif
