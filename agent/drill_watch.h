/* `ward drill`'s watch of the agents: every 100 ms each agent is asked for
 * /certs and then /metrics on one kept-alive connection (a tick is skipped
 * while the previous look is still under way), and each look becomes one
 * sample in the record: what the agent served and trusted, and its
 * handshake counters; a look that fails becomes a sample with ok false, and
 * the reason is kept (record->agent_error). */
#ifndef WARD_AGENT_DRILL_WATCH_H
#define WARD_AGENT_DRILL_WATCH_H

#include <uv.h>

#include "agent/drill.h"

#define WARD_DRILL_WATCH_MS 100

struct ward_drill_watch;

/* on_sample (may be NULL) hears of every sample as it is recorded. */
int ward_drill_watch_start(uv_loop_t *loop, const struct ward_drill_opts *o,
			   struct ward_drill_record *rec, uint64_t t0_ns,
			   void (*on_sample)(void *arg, size_t agent,
					     const struct ward_drill_sample *s),
			   void *arg, struct ward_drill_watch **out) WARD_MUST_CHECK;
/* Stops; done(arg) once its connections are closed, and w is freed. */
void ward_drill_watch_stop(struct ward_drill_watch *w, void (*done)(void *arg), void *arg);

#endif
