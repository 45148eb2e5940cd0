/* `ward drill`'s actions: the plan's forced rotations through ward server's
 * admin socket (lib/jsonline.h), one step at a time, and the faults on the
 * ward server process given by --server-pid.
 *
 * Step i is triggered opts->interval_ms after step i-1 was, and never
 * earlier than 1 s after it was done. A rotation is done when the server
 * replied (after it propagated and activated, server/rotation.h). A fault
 * stops the server (SIGTERM, then SIGKILL after 10 s), starts it again
 * (workload-api-down: after its duration) with the command line, working
 * directory, environment and output files the process had when the drill
 * began, and is done once the admin socket answers and every agent whose
 * Workload API stream was up before is connected again (at most 30 s). Each
 * step becomes an action in the record. */
#ifndef WARD_AGENT_DRILL_ACT_H
#define WARD_AGENT_DRILL_ACT_H

#include <uv.h>

#include "agent/drill.h"

#define WARD_DRILL_ROTATE_TIMEOUT_MS 60000
#define WARD_DRILL_RECONNECT_MS 30000

struct ward_drill_act;

/* Checks what the steps need, answering done(arg, ok) later: the admin
 * socket answers (a "cas" listing), the server pid is there and its
 * command line readable. On failure ward_err_msg() says why (during done). */
int ward_drill_act_new(uv_loop_t *loop, const struct ward_drill_opts *o,
		       struct ward_drill_record *rec, uint64_t t0_ns,
		       void (*checked)(void *arg, bool ok), void *arg,
		       struct ward_drill_act **out) WARD_MUST_CHECK;
/* Runs the steps, the first at first_ms; finished(arg) once the last is done. */
void ward_drill_act_run(struct ward_drill_act *a, double first_ms, void (*finished)(void *arg),
			void *arg);
/* A line for the progress display: the step under way, or "". */
const char *ward_drill_act_status(const struct ward_drill_act *a);
/* Stops (a step under way is abandoned and recorded as such); done(arg)
 * once the handles are closed, and a is freed. */
void ward_drill_act_stop(struct ward_drill_act *a, void (*done)(void *arg), void *arg);

#endif
