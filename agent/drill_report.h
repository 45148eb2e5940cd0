/* Private to the report's files: drill_report.c (agents, rotations,
 * totals), drill_rotations.c (which rotations there were), drill_verdict.c
 * (the PASS/FAIL conditions) and drill_timeline.c (the 100 ms timeline, the
 * event list, every request). All of it reads the record and writes JSON;
 * none of it does I/O. */
#ifndef WARD_AGENT_DRILL_REPORT_H
#define WARD_AGENT_DRILL_REPORT_H

#include "agent/drill.h"

#define WARD_DRILL_MAX_ROTATIONS 512

/* A rotation as the report sees it: forced (an action) or observed. */
struct ward_drill_rotation {
	int index; /* 1, 2, ... */
	enum ward_drill_kind kind;
	const struct ward_drill_action *action; /* forced; NULL when observed */
	double t;				/* the trigger, or when it was first seen */
	double until;				/* its window ends: the next one's t, or the end */
	double reach_until;			/* agents are looked for until then */
	bool wants_svid;			/* agents must serve a new SVID ... */
	double svid_from;			/* ... from here on (a CA's activation) */
	int ca;					/* the CA agents must come to trust; -1 none */
	size_t agent;				/* only this agent (observed SVID); SIZE_MAX: all */
};

/* The rotations of the record in time order: its forced actions, or, when
 * it forced nothing but faults, what the agents showed: an SVID that
 * changed, a CA that joined the bundles. Returns the count. */
size_t ward_drill_rotations(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			    struct ward_drill_rotation *out, size_t max);

/* The broken conditions, as sentences, collected while the report is built. */
struct ward_drill_verdict {
	json_t *failures; /* array of strings */
};
void ward_drill_verdict_agent(struct ward_drill_verdict *v, const char *addr,
			      const char *last_error, double gap_ms, double gap_limit_ms,
			      const json_t *expired);
void ward_drill_verdict_rotation(struct ward_drill_verdict *v, const json_t *rotation,
				 uint64_t max_propagation_ms);
void ward_drill_verdict_load(struct ward_drill_verdict *v, const struct ward_drill_record *r,
			     const struct ward_drill_opts *o, const json_t *totals);

/* A forced step's own facts into its rotation object: when it was done,
 * whether it succeeded, the server's summary, a fault's down/up times. */
void ward_drill_rotation_action(json_t *rotation, const struct ward_drill_record *r,
				const struct ward_drill_action *a);

/* n, p50 and p99 (ms) of the successful new connections started in
 * [from, to). */
json_t *ward_drill_latency(const struct ward_drill_record *r, double from, double to);

/* Adds "timeline" (per 100 ms), "events" and "requests" to the report. */
void ward_drill_timeline(json_t *report, const struct ward_drill_record *r,
			 const struct ward_drill_opts *o);

/* The CAs a look found trusted, as their serials; whether two looks found
 * the same set. */
json_t *ward_drill_bundle_json(const struct ward_drill_record *r,
			       const struct ward_drill_sample *s);
bool ward_drill_same_bundle(const struct ward_drill_sample *x, const struct ward_drill_sample *y);

/* Milliseconds to a tenth, as JSON; NAN is null. */
json_t *ward_drill_ms(double v);

#endif
