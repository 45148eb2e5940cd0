/* A budget for connections that have not proved anything yet: an agent's
 * inbound connections until the peer has authenticated, `ward server`'s
 * Workload API connections until a call was granted. Such connections cost a
 * socket and memory, so they get a budget of their own: at most `max` in all.
 * Each connection has a key (the caller's choice: a source address, lib/addr.h's
 * ward_addr_source_key; a uid), and is silent until its owner says it has
 * heard from the peer (ward_budget_heard).
 *
 * A new connection is always admitted. While there is room nothing is shed,
 * so a burst from one busy client (whose connections may stay silent for a
 * while) is only ever bounded by `max`. When the budget is full, one
 * connection makes room: the newcomer's key's oldest one if that key already
 * holds `max_per_key` (the heavy hitter pays, whether its connections are
 * silent or have sent a byte or two); else the oldest silent one of all;
 * else the oldest of all. A peer that gets through
 * promptly therefore always does, however many silent connections others
 * hold; an attacker only ever displaces its own or older attempts.
 *
 * Every path that waits for a peer to prove itself takes a slot
 * (ward_budget_take) and gives it back once it has, or when the connection
 * closes (ward_budget_put). One budget per event loop, used on that loop only:
 * no locks. The counters may be read from other threads. */
#ifndef WARD_BUDGET_H
#define WARD_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"

#define WARD_BUDGET_KEY 16
#define WARD_BUDGET_BUCKETS 256

/* Why a connection was shed. */
enum ward_budget_reason {
	WARD_BUDGET_KEY_LIMIT, /* its key held max_per_key */
	WARD_BUDGET_FULL,      /* the budget held max */
	WARD_BUDGET_REASONS
};

/* Written by the budget's loop only, readable anywhere. */
struct ward_budget_counts {
	atomic_ullong admitted, released; /* held now = admitted - released */
	atomic_ullong shed[WARD_BUDGET_REASONS];
};

struct ward_budget_slot;
/* Sheds the connection that holds s (a reset, a log line): it gives the slot
 * back (ward_budget_put), or the budget does once this returns. */
typedef void (*ward_budget_shed_fn)(struct ward_budget_slot *s, enum ward_budget_reason why);

/* Embedded in the connection object; zero it before the first take. */
struct ward_budget_slot {
	struct ward_list_node age; /* in budget.silent or .heard: oldest at the head */
	struct ward_list_node key; /* in its key's bucket, oldest at the head */
	uint8_t id[WARD_BUDGET_KEY];
	uint32_t bucket;
	ward_budget_shed_fn shed;
	bool held;
	bool heard;
};

struct ward_budget {
	unsigned max, max_per_key;
	uint32_t seed; /* bucket hash: keys cannot be chosen to collide */
	struct ward_list silent, heard;
	struct ward_list buckets[WARD_BUDGET_BUCKETS]; /* slots by key */
	struct ward_budget_counts *counts;	       /* borrowed */
};

void ward_budget_init(struct ward_budget *b, unsigned max, unsigned max_per_key,
		      struct ward_budget_counts *counts);
/* New limits; what is held stays (shedding happens at the next take). */
void ward_budget_set_max(struct ward_budget *b, unsigned max, unsigned max_per_key);
/* Admits a connection with key into slot s, shedding the oldest first where
 * a budget is full. */
void ward_budget_take(struct ward_budget *b, struct ward_budget_slot *s,
		      const uint8_t key[WARD_BUDGET_KEY], ward_budget_shed_fn shed);
/* The peer has sent its first bytes: the slot is shed after every silent
 * one, and still counts against its key's limit (one byte per connection
 * must not buy a source more than its share). */
void ward_budget_heard(struct ward_budget *b, struct ward_budget_slot *s);
/* Gives the slot back (proved, or closing). Safe to call more than once and
 * on a slot never taken. */
void ward_budget_put(struct ward_budget *b, struct ward_budget_slot *s);
/* Connections in the budget now (on its loop). */
static inline unsigned ward_budget_held(const struct ward_budget *b)
{
	return (unsigned)(b->silent.n + b->heard.n);
}

#endif
