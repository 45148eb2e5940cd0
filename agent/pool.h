/* One worker's pool of outbound tunnel connections: which pooled connection
 * a new app connection's stream goes on, and which destinations have no
 * tunnel listener (their traffic goes direct for a while). Bookkeeping only:
 * the tunnels themselves (tunnel.h) open, fill and leave it.
 *
 * A connection is pooled under (destination IP, server identity policy):
 * the policy that decides which server IDs are acceptable is part of the key,
 * so a connection authenticated under one policy never carries a stream that
 * another policy would judge. */
#ifndef WARD_AGENT_POOL_H
#define WARD_AGENT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/mux.h"
#include "lib/list.h"

#define WARD_POOL_FALLBACK_MAX 256 /* destinations remembered as tunnel-less */

struct ward_pool_key {
	struct sockaddr_storage ip; /* the destination, port zeroed */
	uint64_t policy;	    /* identifies the server identity policy in force */
};

/* A pooled connection's place in the pool (embedded in the tunnel). */
struct ward_pool_entry {
	struct ward_pool_key key;
	struct ward_list_node link;
	const struct ward_mux *mux;	 /* once open: streams go here; NULL while connecting */
	const struct ward_list *waiting; /* streams waiting for it to open (or NULL) */
	size_t max;			 /* streams it may carry */
	bool usable;			 /* false once draining or failing */
	bool pooled;			 /* on the entries list */
};

struct ward_pool_fallback {
	struct sockaddr_storage ip;
	uint64_t until_ms;
};

struct ward_pool {
	struct ward_list entries; /* struct ward_pool_entry, link */
	struct ward_pool_fallback fallback[WARD_POOL_FALLBACK_MAX];
	size_t n_fallback;
};

void ward_pool_key_init(struct ward_pool_key *k, const struct sockaddr *dst, uint64_t policy);
/* Where a new stream for key goes: an open connection with room, else one
 * still opening with room; NULL when a new connection is needed. */
struct ward_pool_entry *ward_pool_pick(struct ward_pool *p, const struct ward_pool_key *key);
void ward_pool_add(struct ward_pool *p, struct ward_pool_entry *e, const struct ward_pool_key *key,
		   size_t max);
/* Leaves the pool (draining, closed). Safe to call more than once. */
void ward_pool_remove(struct ward_pool *p, struct ward_pool_entry *e);
/* Streams on e now or waiting for it. */
size_t ward_pool_load(const struct ward_pool_entry *e);

/* ip has no tunnel: direct until now + for_ms. True when that is news (the
 * caller logs it once, not per connection). The oldest mark makes room. */
bool ward_pool_fallback_mark(struct ward_pool *p, const struct sockaddr *ip, uint64_t now_ms,
			     uint64_t for_ms);
bool ward_pool_fallback_active(struct ward_pool *p, const struct sockaddr *ip, uint64_t now_ms);

#endif
