/* `ward drill`'s load, on the loop: new connections at opts->rate a second
 * (each a fresh TCP connection with one exchange, then closed), taking the
 * targets in turn, and opts->n_long long-lived connections that exchange a
 * message every 100 ms for the whole drill. Every new connection is recorded
 * (start, end, outcome); a long-lived connection whose exchange fails after
 * it had worked is a drop, and it is opened again 100 ms later; the count of
 * healthy long-lived connections is recorded at each change. Stopping closes
 * the long-lived connections without counting them as dropped and waits for
 * the new connections under way (at most their 5 s deadline). */
#ifndef WARD_AGENT_DRILL_LOAD_H
#define WARD_AGENT_DRILL_LOAD_H

#include <uv.h>

#include "agent/drill.h"

#define WARD_DRILL_TIMEOUT_MS 5000 /* each exchange, connect included */

struct ward_drill_load;

struct ward_drill_load_counts {
	unsigned long long ok, failed; /* new connections */
	unsigned alive, n_long;
	unsigned long long dropped;
};

/* t0_ns: the drill's time zero (uv_hrtime). */
int ward_drill_load_start(uv_loop_t *loop, const struct ward_drill_opts *o,
			  struct ward_drill_record *rec, uint64_t t0_ns,
			  struct ward_drill_load **out) WARD_MUST_CHECK;
void ward_drill_load_counts(const struct ward_drill_load *l, struct ward_drill_load_counts *c);
/* Stops; done(arg) runs once every connection is closed, and l is freed. */
void ward_drill_load_stop(struct ward_drill_load *l, void (*done)(void *arg), void *arg);

#endif
