/* The budget for connections nobody has authenticated yet: accepted from the
 * network, handshake (or permissive peek) not finished. Such connections cost
 * a socket and memory and prove nothing, so they never count against
 * limits.max_connections (which serves authenticated and outbound traffic) and
 * have a budget of their own: at most `max` per worker, and at most
 * `max_per_source` per source address within it (an IPv6 source is its /64,
 * an IPv4-mapped one its IPv4 address).
 *
 * A new connection is always admitted: when a budget is full, the oldest
 * connection in it is shed to make room (the source's own oldest when the
 * source is at its limit, else the worker's oldest). A peer that handshakes
 * promptly therefore always gets through, however many silent sockets others
 * hold; an attacker only ever displaces its own or older idle attempts.
 *
 * Every accept path that waits for a peer to authenticate takes a slot
 * (ward_budget_take) and gives it back once the peer is authenticated or the
 * connection closes (ward_budget_put). One budget per worker, used on the
 * worker's loop only: no locks. */
#ifndef WARD_BUDGET_H
#define WARD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/metrics.h"
#include "lib/addr.h"
#include "lib/list.h"

#define WARD_BUDGET_BUCKETS 256

/* Why a connection was shed (the `reason` label of
 * ward_handshakes_shed_total). */
enum ward_budget_reason {
	WARD_BUDGET_SOURCE_LIMIT = WARD_SHED_SOURCE_LIMIT, /* its source held max_per_source */
	WARD_BUDGET_WORKER_LIMIT = WARD_SHED_WORKER_LIMIT, /* the worker held max */
};

struct ward_budget_slot;
/* Sheds the connection that holds s (a reset, a log line, a metric): it must
 * give the slot back (ward_budget_put) before it returns. */
typedef void (*ward_budget_shed_fn)(struct ward_budget_slot *s, enum ward_budget_reason why);

/* Embedded in the connection object; zero it before the first take. */
struct ward_budget_slot {
	struct ward_list_node age;	   /* in budget.queue: oldest at the head */
	struct ward_list_node source;	   /* in its bucket: oldest at the head */
	uint8_t key[WARD_ADDR_SOURCE_KEY]; /* the source (lib/addr.h) */
	uint32_t bucket;
	ward_budget_shed_fn shed;
	bool held;
};

struct ward_budget {
	unsigned max, max_per_source;
	uint32_t seed; /* bucket hash: sources cannot be chosen to collide */
	struct ward_list queue;
	struct ward_list buckets[WARD_BUDGET_BUCKETS];
	struct ward_metrics_budget *stats; /* borrowed: the worker's counters */
};

void ward_budget_init(struct ward_budget *b, unsigned max, unsigned max_per_source,
		      struct ward_metrics_budget *stats);
/* Admits a connection from src into slot s, shedding the oldest first where a
 * budget is full. */
void ward_budget_take(struct ward_budget *b, struct ward_budget_slot *s,
		      const struct sockaddr_storage *src, ward_budget_shed_fn shed);
/* Gives the slot back (authenticated, or closing). Safe to call more than
 * once and on a slot never taken. */
void ward_budget_put(struct ward_budget *b, struct ward_budget_slot *s);
/* Connections in the budget now. */
static inline unsigned ward_budget_held(const struct ward_budget *b)
{
	return (unsigned)b->queue.n;
}

#endif
