/* The drill's report, from the record alone (no I/O): what each agent
 * served and trusted over time, each rotation with its propagation and what
 * the load saw in its window, totals; the verdict is drill_verdict.c's, the
 * timeline drill_timeline.c's. See drill.h and README "Drills". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/drill_report.h"

#define BEFORE_MS 2000.0    /* a rotation's "before" latency: this long before it */
#define WATCH_GAP_MS 2000.0 /* an agent not seen this long cannot be vouched for */

/* ---- small helpers ------------------------------------------------------------ */

json_t *ward_drill_ms(double v)
{
	return isnan(v) ? json_null() : json_real(round(v * 10) / 10);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100.0 * (double)n);

	return n ? v[k ? k - 1 : 0] : NAN;
}

json_t *ward_drill_latency(const struct ward_drill_record *r, double from, double to)
{
	double *v = malloc((r->n_reqs + 1) * sizeof(*v));
	size_t n = 0;
	json_t *o;

	for (size_t i = 0; v && i < r->n_reqs; i++)
		if (r->reqs[i].why == WARD_DRILL_OK && r->reqs[i].t0 >= from && r->reqs[i].t0 < to)
			v[n++] = r->reqs[i].t1 - r->reqs[i].t0;
	if (v)
		qsort(v, n, sizeof(*v), cmp_double);
	o = json_pack("{s:I,s:o,s:o}", "n", (json_int_t)n, "p50", ward_drill_ms(pct(v, n, 50)),
		      "p99", ward_drill_ms(pct(v, n, 99)));
	free(v);
	return o;
}

/* {name: count} of the non-zero counts by[first..n). */
static json_t *counts_json(const unsigned long long *by, size_t first, size_t n,
			   const char *(*name)(size_t), unsigned long long *total)
{
	json_t *o = json_object();

	*total = 0;
	for (size_t i = first; o && i < n; i++) {
		if (by[i])
			json_object_set_new(o, name(i), json_integer((json_int_t)by[i]));
		*total += by[i];
	}
	return o;
}

static const char *why_name(size_t i)
{
	return ward_drill_why_name((enum ward_drill_why)i);
}

static const char *hs_name(size_t i)
{
	return ward_metrics_reason_name((enum ward_reason)i);
}

/* ---- what the load and the agents saw in a window ------------------------------ */

static json_t *requests_in(const struct ward_drill_record *r, double from, double to)
{
	unsigned long long by[WARD_DRILL_N_WHY] = {0}, failed;
	json_t *reasons;

	for (size_t i = 0; i < r->n_reqs; i++)
		if (r->reqs[i].t0 >= from && r->reqs[i].t0 < to)
			by[r->reqs[i].why]++;
	reasons = counts_json(by, 1, WARD_DRILL_N_WHY, why_name, &failed);
	return json_pack("{s:I,s:I,s:o}", "ok", (json_int_t)by[WARD_DRILL_OK], "failed",
			 (json_int_t)failed, "by_reason", reasons);
}

static json_t *drops_in(const struct ward_drill_record *r, double from, double to,
			unsigned long long *n)
{
	unsigned long long by[WARD_DRILL_N_WHY] = {0};

	for (size_t i = 0; i < r->n_drops; i++)
		if (r->drops[i].t >= from && r->drops[i].t < to)
			by[r->drops[i].why]++;
	return counts_json(by, 0, WARD_DRILL_N_WHY, why_name, n);
}

/* Handshake failures agents a0..a1-1 counted between looks in (from, to]:
 * the sum of each counter's increases (an agent that restarted counts from
 * zero again, which is no decrease to subtract). */
static json_t *handshake_failures_in(const struct ward_drill_record *r, size_t a0, size_t a1,
				     double from, double to, unsigned long long *total)
{
	unsigned long long by[WARD_REASONS] = {0};

	for (size_t a = a0; a < a1; a++) {
		const struct ward_drill_sample *prev = NULL;

		for (size_t i = 0; i < r->n_samples[a]; i++) {
			const struct ward_drill_sample *s = &r->samples[a][i];

			if (!s->ok)
				continue;
			for (size_t k = 0; prev && s->t > from && s->t <= to && k < WARD_REASONS;
			     k++)
				if (s->hs_fail[k] > prev->hs_fail[k])
					by[k] += s->hs_fail[k] - prev->hs_fail[k];
			prev = s;
		}
	}
	return counts_json(by, 0, WARD_REASONS, hs_name, total);
}

/* ---- agents -------------------------------------------------------------------- */

/* The first look of agent a in [t, until) that served an SVID other than
 * not_serial (-1: any) and, when ca >= 0, trusted ca; SIZE_MAX if none. */
static size_t first_look(const struct ward_drill_record *r, size_t a, double t, double until,
			 int not_serial, int ca)
{
	for (size_t i = 0; i < r->n_samples[a]; i++) {
		const struct ward_drill_sample *s = &r->samples[a][i];
		bool holds = ca < 0;

		if (!s->ok || !s->has_svid || s->t < t || s->t >= until)
			continue;
		for (size_t k = 0; k < s->n_bundle && !holds; k++)
			holds = s->bundle[k] == ca;
		if (holds && (not_serial < 0 || s->serial != not_serial))
			return i;
	}
	return SIZE_MAX;
}

/* When the answer of the look before look i came (from), or NAN: what it
 * said still held then. */
static double answered_before(const struct ward_drill_record *r, size_t a, size_t i, double from)
{
	while (i-- > 0)
		if (r->samples[a][i].ok)
			return fmax(r->samples[a][i].t_seen, from);
	return from;
}

/* The SVID agent a served last before t (-1: none seen). */
static int serial_before(const struct ward_drill_record *r, size_t a, double t)
{
	int serial = -1;

	for (size_t i = 0; i < r->n_samples[a] && r->samples[a][i].t < t; i++)
		if (r->samples[a][i].ok && r->samples[a][i].has_svid)
			serial = r->samples[a][i].serial;
	return serial;
}

bool ward_drill_same_bundle(const struct ward_drill_sample *x, const struct ward_drill_sample *y)
{
	if (x->n_bundle != y->n_bundle)
		return false;
	for (size_t i = 0; i < x->n_bundle; i++) {
		bool found = false;

		for (size_t j = 0; j < y->n_bundle && !found; j++)
			found = x->bundle[i] == y->bundle[j];
		if (!found)
			return false;
	}
	return true;
}

json_t *ward_drill_bundle_json(const struct ward_drill_record *r, const struct ward_drill_sample *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n_bundle; i++)
		json_array_append_new(a, json_string(r->strings[s->bundle[i]]));
	return a;
}

static bool expired(const struct ward_drill_sample *s)
{
	return s && s->ok && s->has_svid && s->not_after <= s->wall;
}

/* What agent a served over time: each new SVID and bundle, the looks that
 * found an expired SVID (the first of each run), the longest blind spell. */
struct served {
	json_t *svids, *bundles, *expired;
	size_t failed;
	double gap;
};

static void served(const struct ward_drill_record *r, size_t a, struct served *out)
{
	const struct ward_drill_sample *prev = NULL;
	double last_ok = 0;

	*out = (struct served){json_array(), json_array(), json_array(), 0, 0};
	for (size_t i = 0; i < r->n_samples[a]; i++) {
		const struct ward_drill_sample *s = &r->samples[a][i];

		if (!s->ok) {
			out->failed++;
			continue;
		}
		out->gap = fmax(out->gap, s->t - last_ok);
		last_ok = s->t;
		if (s->has_svid && (!prev || !prev->has_svid || prev->serial != s->serial))
			json_array_append_new(
			    out->svids, json_pack("{s:o,s:s,s:I}", "t_ms", ward_drill_ms(s->t),
						  "serial", r->strings[s->serial], "not_after",
						  (json_int_t)s->not_after));
		if (!prev || !ward_drill_same_bundle(prev, s))
			json_array_append_new(out->bundles,
					      json_pack("{s:o,s:o}", "t_ms", ward_drill_ms(s->t),
							"cas", ward_drill_bundle_json(r, s)));
		if (expired(s) && !expired(prev))
			json_array_append_new(
			    out->expired, json_pack("{s:o,s:s,s:I}", "t_ms", ward_drill_ms(s->t),
						    "serial", r->strings[s->serial], "not_after",
						    (json_int_t)s->not_after));
		prev = s;
	}
	out->gap = fmax(out->gap, r->t_end - last_ok);
}

static json_t *agent_json(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			  size_t a, struct ward_drill_verdict *v)
{
	unsigned long long hs;
	struct served s;

	served(r, a, &s);
	ward_drill_verdict_agent(v, o->agent_text[a], r->agent_error[a], s.gap, WATCH_GAP_MS,
				 s.expired);
	return json_pack("{s:s,s:s?,s:I,s:I,s:s?,s:o,s:o,s:o,s:o,s:o}", "addr", o->agent_text[a],
			 "spiffe_id", r->agent_id[a][0] ? r->agent_id[a] : NULL, "looks",
			 (json_int_t)r->n_samples[a], "failed_looks", (json_int_t)s.failed,
			 "last_error", r->agent_error[a][0] ? r->agent_error[a] : NULL,
			 "longest_gap_ms", ward_drill_ms(s.gap), "svids", s.svids, "bundles",
			 s.bundles, "expired", s.expired, "handshake_failures",
			 handshake_failures_in(r, a, a + 1, -INFINITY, INFINITY, &hs));
}

/* ---- rotations ----------------------------------------------------------------- */

/* When each agent served the rotation's new SVID and trusted its new CA,
 * from the trigger; the slowest is the propagation (NAN if one never did).
 * The order of the two across agents is told from the looks' answers: every
 * bundle held the new CA by the answer that first showed it, and no agent
 * served an SVID from it before the answer of its last look without one.
 * *first_by is the margin between the two (NAN: it cannot be told). */
static json_t *reach(const struct ward_drill_record *r, const struct ward_drill_opts *o,
		     const struct ward_drill_rotation *rot, double *propagation, double *first_by)
{
	double svid_after = INFINITY, ca_by = -INFINITY;
	json_t *agents = json_array();

	*propagation = 0;
	for (size_t a = 0; a < o->n_agents; a++) {
		size_t si = SIZE_MAX, bi = SIZE_MAX;
		double svid = NAN, bundle = NAN;

		if (rot->agent != SIZE_MAX && rot->agent != a)
			continue;
		if (rot->wants_svid)
			si = first_look(r, a, rot->svid_from, rot->reach_until,
					serial_before(r, a, rot->svid_from), -1);
		if (rot->ca >= 0)
			bi = first_look(r, a, rot->t, rot->reach_until, -1, rot->ca);
		if (si != SIZE_MAX) {
			svid = r->samples[a][si].t - rot->t;
			svid_after = fmin(svid_after, answered_before(r, a, si, rot->t));
		}
		if (bi != SIZE_MAX) {
			bundle = r->samples[a][bi].t - rot->t;
			ca_by = fmax(ca_by, r->samples[a][bi].t_seen);
		}
		if ((rot->wants_svid && isnan(svid)) || (rot->ca >= 0 && isnan(bundle)))
			*propagation = NAN;
		else if (!isnan(*propagation))
			*propagation = fmax(*propagation, fmax(rot->wants_svid ? svid : 0,
							       rot->ca >= 0 ? bundle : 0));
		json_array_append_new(agents, json_pack("{s:s,s:o,s:o}", "addr", o->agent_text[a],
							"svid_ms", ward_drill_ms(svid), "bundle_ms",
							ward_drill_ms(bundle)));
	}
	*first_by =
	    isnan(*propagation) || isinf(svid_after) || isinf(ca_by) ? NAN : svid_after - ca_by;
	return agents;
}

static json_t *latencies(const struct ward_drill_record *r, double before_from, double t,
			 double during_to, double until)
{
	return json_pack("{s:o,s:o,s:o}", "before", ward_drill_latency(r, before_from, t), "during",
			 ward_drill_latency(r, t, during_to), "after",
			 ward_drill_latency(r, during_to, until));
}

static bool is_fault(enum ward_drill_kind k)
{
	return k == WARD_DRILL_API_DOWN || k == WARD_DRILL_RESTART;
}

/* The load's and the agents' view of the window [rot->t, rot->until). */
static void window(json_t *j, const struct ward_drill_record *r, const struct ward_drill_opts *o,
		   const struct ward_drill_rotation *rot)
{
	unsigned long long dropped, hs;
	json_t *by = drops_in(r, rot->t, rot->until, &dropped);

	json_object_set_new(j, "window",
			    json_pack("{s:o,s:o}", "from_ms", ward_drill_ms(rot->t), "to_ms",
				      ward_drill_ms(rot->until)));
	json_object_set_new(j, "requests", requests_in(r, rot->t, rot->until));
	json_object_set_new(j, "long_dropped", json_integer((json_int_t)dropped));
	json_object_set_new(j, "long_dropped_by_reason", by);
	json_object_set_new(j, "handshake_failures",
			    handshake_failures_in(r, 0, o->n_agents, rot->t, rot->until, &hs));
}

/* One rotation; *done is when it was over (all reached, or the action done). */
static json_t *rotation_json(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			     const struct ward_drill_rotation *rot, double before_from,
			     double *done)
{
	double prop = 0, first_by = NAN;
	json_t *agents = is_fault(rot->kind) ? json_array() : reach(r, o, rot, &prop, &first_by),
	       *j;

	*done = rot->t + (isnan(prop) ? 0 : prop);
	if (rot->action && rot->action->t_done > *done)
		*done = rot->action->t_done;
	*done = fmin(*done, rot->until);
	j = json_pack("{s:i,s:s,s:b,s:o,s:o}", "index", rot->index, "kind",
		      ward_drill_kind_name(rot->kind), "forced", rot->action != NULL, "trigger_ms",
		      ward_drill_ms(rot->t), "agents", agents);
	if (rot->ca >= 0)
		json_object_set_new(j, "new_ca", json_string(r->strings[rot->ca]));
	if (!is_fault(rot->kind)) {
		json_object_set_new(j, "propagation_ms", ward_drill_ms(prop));
		json_object_set_new(j, "reached_all", json_boolean(!isnan(prop)));
	}
	if (rot->ca >= 0 && rot->wants_svid)
		json_object_set_new(j, "bundle_first_by_ms", ward_drill_ms(first_by));
	ward_drill_rotation_action(j, r, rot->action);
	window(j, r, o, rot);
	json_object_set_new(j, "latency_ms", latencies(r, before_from, rot->t, *done, rot->until));
	return j;
}

/* ---- the whole --------------------------------------------------------------------- */

static json_t *totals(const struct ward_drill_record *r, const struct ward_drill_opts *o,
		      double first, double last_done)
{
	unsigned long long dropped, hs;
	json_t *dropped_by = drops_in(r, -INFINITY, INFINITY, &dropped),
	       *hs_by = handshake_failures_in(r, 0, o->n_agents, -INFINITY, INFINITY, &hs);

	return json_pack("{s:o,s:{s:I,s:I,s:o},s:o,s:I,s:o}", "requests",
			 requests_in(r, -INFINITY, INFINITY), "long", "opened",
			 (json_int_t)r->long_opened, "dropped", (json_int_t)dropped, "by_reason",
			 dropped_by, "handshake_failures", hs_by, "handshake_failures_total",
			 (json_int_t)hs, "latency_ms", latencies(r, 0, first, last_done, INFINITY));
}

static json_t *options_json(const struct ward_drill_opts *o)
{
	json_t *targets = json_array(), *agents = json_array(), *steps = json_array();

	for (size_t i = 0; i < o->n_targets; i++)
		json_array_append_new(targets, json_string(o->targets[i].text));
	for (size_t i = 0; i < o->n_agents; i++)
		json_array_append_new(agents, json_string(o->agent_text[i]));
	for (size_t i = 0; i < o->n_steps; i++)
		json_array_append_new(steps, json_string(ward_drill_kind_name(o->steps[i].kind)));
	return json_pack("{s:o,s:f,s:i,s:o,s:s?,s:o,s:I,s:I,s:I,s:I,s:I}", "targets", targets,
			 "rate", o->rate, "long", (int)o->n_long, "agents", agents, "server_admin",
			 o->server_admin, "steps", steps, "interval_ms", (json_int_t)o->interval_ms,
			 "warmup_ms", (json_int_t)o->warmup_ms, "cooldown_ms",
			 (json_int_t)o->cooldown_ms, "duration_ms", (json_int_t)o->duration_ms,
			 "max_propagation_ms", (json_int_t)o->max_propagation_ms);
}

static json_t *started_at(const struct ward_drill_record *r)
{
	time_t t = (time_t)(r->wall_start_ms / 1000);
	struct tm tm;
	char buf[40];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ",
		 (int)(r->wall_start_ms % 1000));
	return json_string(buf);
}

json_t *ward_drill_report(const struct ward_drill_record *r, const struct ward_drill_opts *o)
{
	struct ward_drill_rotation rots[WARD_DRILL_MAX_ROTATIONS];
	struct ward_drill_verdict v = {json_array()};
	size_t n = ward_drill_rotations(r, o, rots, WARD_DRILL_MAX_ROTATIONS);
	json_t *report, *agents = json_array(), *rotations = json_array();
	double first = n ? rots[0].t : r->t_end, last_done = first, before_from = 0, done;

	for (size_t a = 0; a < o->n_agents; a++)
		json_array_append_new(agents, agent_json(r, o, a, &v));
	for (size_t i = 0; i < n; i++) {
		json_t *j =
		    rotation_json(r, o, &rots[i], fmax(before_from, rots[i].t - BEFORE_MS), &done);

		ward_drill_verdict_rotation(&v, j, o->max_propagation_ms);
		json_array_append_new(rotations, j);
		last_done = fmax(last_done, done);
		before_from = done;
	}
	report =
	    json_pack("{s:i,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "ward_drill", 1, "started_at",
		      started_at(r), "duration_ms", ward_drill_ms(r->t_end), "mode",
		      o->server_admin ? "forced" : "observed", "options", options_json(o), "agents",
		      agents, "rotations", rotations, "totals", totals(r, o, first, last_done));
	if (!report || !v.failures) {
		json_decref(v.failures);
		return NULL;
	}
	if (r->server_pid)
		json_object_set_new(report, "server_pid", json_integer(r->server_pid));
	ward_drill_verdict_load(&v, r, o, json_object_get(report, "totals"));
	ward_drill_timeline(report, r, o);
	json_object_set_new(report, "verdict",
			    json_pack("{s:b,s:o}", "pass", json_array_size(v.failures) == 0,
				      "failures", v.failures));
	return report;
}

bool ward_drill_report_passed(const json_t *report)
{
	return json_is_true(json_object_get(json_object_get(report, "verdict"), "pass"));
}
