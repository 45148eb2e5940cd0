/* What a drill saw, appended in time order, and how its pieces stop; see
 * drill.h. */
#include <stdlib.h>
#include <string.h>

#include "agent/drill.h"

static const char *const why_names[WARD_DRILL_N_WHY] = {
    "ok",      "connect_refused", "connect_timeout", "connect_failed", "reset",	      "closed",
    "timeout", "mismatch",	  "http_status",     "bad_response",   "local_error",
};

const char *ward_drill_why_name(enum ward_drill_why why)
{
	return why < WARD_DRILL_N_WHY ? why_names[why] : "?";
}

bool ward_drill_life_stop(struct ward_drill_life *l, void (*done)(void *arg), void *arg)
{
	if (l->stopping)
		return false;
	l->stopping = true;
	l->done = done;
	l->arg = arg;
	return true;
}

bool ward_drill_life_put(struct ward_drill_life *l)
{
	if (--l->open > 0 || !l->stopping)
		return false;
	l->done(l->arg);
	return true;
}

void ward_drill_record_init(struct ward_drill_record *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < WARD_DRILL_MAX_STEPS; i++)
		r->actions[i].new_ca = -1;
}

void ward_drill_record_free(struct ward_drill_record *r)
{
	for (size_t i = 0; i < r->n_strings; i++)
		free(r->strings[i]);
	free(r->strings);
	for (size_t i = 0; i < WARD_DRILL_MAX_AGENTS; i++)
		free(r->samples[i]);
	free(r->reqs);
	free(r->drops);
	free(r->alive);
	for (size_t i = 0; i < r->n_actions; i++)
		json_decref(r->actions[i].reply);
	memset(r, 0, sizeof(*r));
}

/* Room for one more element in *arr (n used, *cap allocated). */
static int grow(void *arr, size_t elem, size_t n, size_t *cap)
{
	void **p = arr, *bigger;
	size_t c = *cap ? *cap * 2 : 256;

	if (n < *cap)
		return 0;
	bigger = realloc(*p, c * elem);
	ENSURE(bigger, WARD_ERR_NOMEM, "drill: out of memory");
	*p = bigger;
	*cap = c;
	return 0;
}

int ward_drill_intern(struct ward_drill_record *r, const char *s)
{
	char *copy;

	for (size_t i = r->n_strings; i-- > 0;)
		if (!strcmp(r->strings[i], s))
			return (int)i;
	if (grow(&r->strings, sizeof(char *), r->n_strings, &r->caps[0]) < 0 || !(copy = strdup(s)))
		return -1;
	r->strings[r->n_strings] = copy;
	return (int)r->n_strings++;
}

int ward_drill_record_sample(struct ward_drill_record *r, size_t agent,
			     const struct ward_drill_sample *s)
{
	ENSURE(agent < WARD_DRILL_MAX_AGENTS, WARD_ERR_RANGE, "drill: no agent %zu", agent);
	GUARD(grow(&r->samples[agent], sizeof(*s), r->n_samples[agent], &r->sample_caps[agent]));
	r->samples[agent][r->n_samples[agent]++] = *s;
	return 0;
}

int ward_drill_record_req(struct ward_drill_record *r, double t0, double t1,
			  enum ward_drill_why why, unsigned target)
{
	GUARD(grow(&r->reqs, sizeof(*r->reqs), r->n_reqs, &r->caps[1]));
	r->reqs[r->n_reqs++] = (struct ward_drill_req){t0, t1, (uint8_t)why, (uint8_t)target};
	return 0;
}

int ward_drill_record_drop(struct ward_drill_record *r, double t, unsigned conn,
			   enum ward_drill_why why)
{
	GUARD(grow(&r->drops, sizeof(*r->drops), r->n_drops, &r->caps[2]));
	r->drops[r->n_drops++] = (struct ward_drill_drop){t, conn, (uint8_t)why};
	return 0;
}

int ward_drill_record_alive(struct ward_drill_record *r, double t, unsigned alive)
{
	GUARD(grow(&r->alive, sizeof(*r->alive), r->n_alive, &r->caps[3]));
	r->alive[r->n_alive].t = t;
	r->alive[r->n_alive++].alive = alive;
	return 0;
}
