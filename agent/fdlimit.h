/* File descriptors for the agent: each proxied connection holds two sockets
 * (the app's and the peer's), plus a few for listeners, loops, the log and
 * identity files. The agent raises its soft RLIMIT_NOFILE to the hard limit
 * at start and says when even the hard limit cannot carry
 * limits.max_connections; `ward doctor` checks the same numbers. */
#ifndef WARD_FDLIMIT_H
#define WARD_FDLIMIT_H

#include <stdbool.h>

#include "lib/err.h"

#define WARD_FDLIMIT_SLACK 64 /* listeners, loops, log, identity files */

struct ward_fdlimit {
	unsigned long soft, hard; /* RLIMIT_NOFILE now */
	unsigned long was;	  /* the soft limit before ward_fdlimit_raise */
	unsigned long needed;	  /* for max_connections */
};

/* 2 per connection + WARD_FDLIMIT_SLACK. */
unsigned long ward_fdlimit_needed(unsigned max_connections);
/* The limits of this process for max_connections. */
int ward_fdlimit_get(unsigned max_connections, struct ward_fdlimit *out) WARD_MUST_CHECK;
/* Raises the soft limit to the hard one (no privilege needed) and reports
 * the result; out->soft < out->needed means connections will be refused
 * with EMFILE before max_connections is reached. */
int ward_fdlimit_raise(unsigned max_connections, struct ward_fdlimit *out) WARD_MUST_CHECK;

#endif
