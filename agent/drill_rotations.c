/* Which rotations a drill had: the ones it forced, or, when it forced none,
 * the ones the agents showed. See drill_report.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/drill_report.h"

/* When the server activated the rotation's CA (its reply says how long
 * after the request); the trigger when the reply does not say. */
static double activated_at(const struct ward_drill_action *a)
{
	json_t *v = json_object_get(a->reply, "activated_ms");

	return json_is_number(v) ? a->t_trigger + json_number_value(v) : a->t_trigger;
}

static bool in_bundle(const struct ward_drill_sample *s, int ca)
{
	for (size_t k = 0; k < s->n_bundle; k++)
		if (s->bundle[k] == ca)
			return true;
	return false;
}

/* The CA that first joined some agent's bundle at or after t: what a CA
 * rotation brought when the server's reply does not name it. -1 if none. */
static int joined_after(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			double t)
{
	double first = INFINITY;
	int found = -1;

	for (size_t a = 0; a < o->n_agents; a++) {
		const struct ward_drill_sample *before = NULL;

		for (size_t i = 0; i < r->n_samples[a]; i++) {
			const struct ward_drill_sample *s = &r->samples[a][i];

			if (!s->ok)
				continue;
			if (s->t < t) {
				before = s;
				continue;
			}
			for (size_t k = 0; before && k < s->n_bundle && s->t < first; k++)
				if (!in_bundle(before, s->bundle[k])) {
					first = s->t;
					found = s->bundle[k];
				}
		}
	}
	return found;
}

static size_t forced(const struct ward_drill_record *r, const struct ward_drill_opts *o,
		     struct ward_drill_rotation *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_actions && n < max; i++) {
		const struct ward_drill_action *a = &r->actions[i];
		bool ca = a->kind == WARD_DRILL_CA || a->kind == WARD_DRILL_ROOT;

		out[n] = (struct ward_drill_rotation){
		    .index = (int)n + 1,
		    .kind = a->kind,
		    .action = a,
		    .t = a->t_trigger,
		    .wants_svid = a->kind == WARD_DRILL_SVIDS || ca,
		    .svid_from = ca ? activated_at(a) : a->t_trigger,
		    .ca = !ca		   ? -1
			  : a->new_ca >= 0 ? a->new_ca
					   : joined_after(r, o, a->t_trigger),
		    .agent = SIZE_MAX,
		};
		n++;
	}
	return n;
}

/* The CA is in some agent's first look: it was there before the drill. */
static bool known_at_start(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			   int ca)
{
	for (size_t a = 0; a < o->n_agents; a++) {
		size_t i = 0;

		while (i < r->n_samples[a] && !(r->samples[a][i].ok && r->samples[a][i].has_svid))
			i++;
		if (i < r->n_samples[a] && in_bundle(&r->samples[a][i], ca))
			return true;
	}
	return false;
}

/* Each CA that joined some agent's bundle during the drill, when first seen. */
static size_t observed_cas(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			   struct ward_drill_rotation *out, size_t n, size_t max)
{
	for (size_t ca = 0; ca < r->n_strings && n < max; ca++) {
		double first = INFINITY;

		for (size_t a = 0; a < o->n_agents; a++)
			for (size_t i = 0; i < r->n_samples[a]; i++)
				if (r->samples[a][i].ok && in_bundle(&r->samples[a][i], (int)ca)) {
					first = fmin(first, r->samples[a][i].t);
					break;
				}
		if (isinf(first) || known_at_start(r, o, (int)ca))
			continue;
		out[n++] = (struct ward_drill_rotation){
		    .kind = WARD_DRILL_OBSERVED_CA, .t = first, .ca = (int)ca, .agent = SIZE_MAX};
	}
	return n;
}

/* Each time an agent's SVID changed. */
static size_t observed_svids(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			     struct ward_drill_rotation *out, size_t n, size_t max)
{
	for (size_t a = 0; a < o->n_agents; a++) {
		int serial = -1;

		for (size_t i = 0; i < r->n_samples[a] && n < max; i++) {
			const struct ward_drill_sample *s = &r->samples[a][i];

			if (!s->ok || !s->has_svid)
				continue;
			if (serial >= 0 && s->serial != serial)
				out[n++] =
				    (struct ward_drill_rotation){.kind = WARD_DRILL_OBSERVED_SVID,
								 .t = s->t,
								 .wants_svid = true,
								 .svid_from = s->t,
								 .ca = -1,
								 .agent = a};
			serial = s->serial;
		}
	}
	return n;
}

static int by_time(const void *x, const void *y)
{
	const struct ward_drill_rotation *a = x, *b = y;

	return a->t < b->t ? -1 : a->t > b->t;
}

size_t ward_drill_rotations(const struct ward_drill_record *r, const struct ward_drill_opts *o,
			    struct ward_drill_rotation *out, size_t max)
{
	size_t n = forced(r, o, out, max);
	bool any_rotation = false;

	for (size_t i = 0; i < n; i++)
		any_rotation |= out[i].wants_svid;
	if (!any_rotation) { /* observing (faults alone rotate nothing) */
		n = observed_cas(r, o, out, n, max);
		n = observed_svids(r, o, out, n, max);
		qsort(out, n, sizeof(*out), by_time);
	}
	for (size_t i = 0; i < n; i++) {
		out[i].index = (int)i + 1;
		out[i].until = i + 1 < n ? out[i + 1].t : r->t_end;
		/* A rotation's window ends no earlier than its own action. */
		if (out[i].action && out[i].action->t_done > out[i].until)
			out[i].until = fmin(out[i].action->t_done, r->t_end);
		/* Whether it reached every agent in time is judged even when the
		 * next one came sooner; a slower arrival is still reported. */
		out[i].reach_until =
		    fmin(fmax(out[i].until, out[i].t + 2.0 * (double)o->max_propagation_ms),
			 r->t_end + 1);
	}
	return n;
}
