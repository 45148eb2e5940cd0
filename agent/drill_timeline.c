/* The report's time series, per 100 ms bucket, its event list and every
 * new connection; see drill_report.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/drill_report.h"

#define BUCKETS_MAX (24 * 3600 * 10) /* a day of 100 ms buckets */

struct buckets {
	size_t n;
	unsigned *ok, *failed, *hs_failed;
	double *lat_sum, *lat_n, *hs_sum_s, *hs_n;
	unsigned *alive;
};

static size_t bucket(double t, size_t n)
{
	size_t b = t <= 0 ? 0 : (size_t)(t / WARD_DRILL_BUCKET_MS);

	return b < n ? b : n - 1;
}

static void buckets_free(struct buckets *b)
{
	free(b->ok);
	free(b->failed);
	free(b->hs_failed);
	free(b->lat_sum);
	free(b->lat_n);
	free(b->hs_sum_s);
	free(b->hs_n);
	free(b->alive);
}

static bool buckets_new(struct buckets *b, double t_end)
{
	size_t n = (size_t)ceil(fmax(t_end, 1) / WARD_DRILL_BUCKET_MS);

	b->n = n < BUCKETS_MAX ? n : BUCKETS_MAX;
	b->ok = calloc(b->n, sizeof(*b->ok));
	b->failed = calloc(b->n, sizeof(*b->failed));
	b->hs_failed = calloc(b->n, sizeof(*b->hs_failed));
	b->lat_sum = calloc(b->n, sizeof(*b->lat_sum));
	b->lat_n = calloc(b->n, sizeof(*b->lat_n));
	b->hs_sum_s = calloc(b->n, sizeof(*b->hs_sum_s));
	b->hs_n = calloc(b->n, sizeof(*b->hs_n));
	b->alive = calloc(b->n, sizeof(*b->alive));
	return b->ok && b->failed && b->hs_failed && b->lat_sum && b->lat_n && b->hs_sum_s &&
	       b->hs_n && b->alive;
}

/* The agents' handshake counters, as increases between looks. */
static void agents_into(struct buckets *b, const struct ward_drill_record *r, size_t n_agents)
{
	for (size_t a = 0; a < n_agents; a++) {
		const struct ward_drill_sample *prev = NULL;

		for (size_t i = 0; i < r->n_samples[a]; i++) {
			const struct ward_drill_sample *s = &r->samples[a][i];
			size_t k = bucket(s->t, b->n);

			if (!s->ok)
				continue;
			for (size_t x = 0; prev && x < WARD_REASONS; x++)
				if (s->hs_fail[x] > prev->hs_fail[x])
					b->hs_failed[k] +=
					    (unsigned)(s->hs_fail[x] - prev->hs_fail[x]);
			if (prev && s->hs_count > prev->hs_count && s->hs_sum_s >= prev->hs_sum_s) {
				b->hs_n[k] += (double)(s->hs_count - prev->hs_count);
				b->hs_sum_s[k] += s->hs_sum_s - prev->hs_sum_s;
			}
			prev = s;
		}
	}
}

static void load_into(struct buckets *b, const struct ward_drill_record *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n_reqs; i++) {
		const struct ward_drill_req *q = &r->reqs[i];
		size_t at = bucket(q->t1, b->n);

		if (q->why == WARD_DRILL_OK) {
			b->ok[at]++;
			b->lat_n[at]++;
			b->lat_sum[at] += q->t1 - q->t0;
		} else {
			b->failed[at]++;
		}
	}
	/* The long-lived connections alive at the end of each bucket. */
	for (size_t i = 0; i < b->n; i++) {
		double end = (double)(i + 1) * WARD_DRILL_BUCKET_MS;

		while (k + 1 < r->n_alive && r->alive[k + 1].t <= end)
			k++;
		b->alive[i] = r->n_alive && r->alive[k].t <= end ? r->alive[k].alive : 0;
	}
}

static json_t *counts(size_t n, const unsigned *u)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(u[i]));
	return a;
}

/* sum / count per bucket, times scale; null where nothing was counted. */
static json_t *means(size_t n, const double *sum, const double *count, double scale)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, count[i] > 0 ? ward_drill_ms(sum[i] / count[i] * scale)
						      : json_null());
	return a;
}

static json_t *timeline(const struct ward_drill_record *r, const struct ward_drill_opts *o)
{
	struct buckets b = {0};
	json_t *t = NULL;

	if (buckets_new(&b, r->t_end)) {
		agents_into(&b, r, o->n_agents);
		load_into(&b, r);
		t = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o,s:o}", "bucket_ms", WARD_DRILL_BUCKET_MS,
			      "ok", counts(b.n, b.ok), "failed", counts(b.n, b.failed),
			      "handshake_failures", counts(b.n, b.hs_failed), "latency_ms",
			      means(b.n, b.lat_sum, b.lat_n, 1), "handshake_ms",
			      means(b.n, b.hs_sum_s, b.hs_n, 1000), "alive", counts(b.n, b.alive));
	}
	buckets_free(&b);
	return t;
}

/* ---- events ------------------------------------------------------------------ */

/* {t_ms, type, fields...}: the time and the type first, for a reader. */
static void event(json_t *events, double t, const char *type, json_t *fields)
{
	json_t *e = json_pack("{s:o,s:s}", "t_ms", ward_drill_ms(t), "type", type);

	if (e && fields)
		json_object_update(e, fields);
	json_decref(fields);
	json_array_append_new(events, e);
}

static void agent_events(json_t *events, const struct ward_drill_record *r,
			 const struct ward_drill_opts *o)
{
	for (size_t a = 0; a < o->n_agents; a++) {
		const struct ward_drill_sample *prev = NULL;
		bool down = false;

		for (size_t i = 0; i < r->n_samples[a]; i++) {
			const struct ward_drill_sample *s = &r->samples[a][i];

			if (!s->ok != down)
				event(events, s->t, s->ok ? "agent_seen_again" : "agent_unseen",
				      json_pack("{s:s}", "agent", o->agent_text[a]));
			down = !s->ok;
			if (!s->ok)
				continue;
			if (s->has_svid && (!prev || prev->serial != s->serial))
				event(events, s->t, "svid",
				      json_pack("{s:s,s:s,s:I}", "agent", o->agent_text[a],
						"serial", r->strings[s->serial], "not_after",
						(json_int_t)s->not_after));
			if (!prev || !ward_drill_same_bundle(prev, s))
				event(events, s->t, "bundle",
				      json_pack("{s:s,s:o}", "agent", o->agent_text[a], "cas",
						ward_drill_bundle_json(r, s)));
			if (prev && prev->wl_connected != s->wl_connected && s->wl_connected >= 0)
				event(events, s->t,
				      s->wl_connected ? "workload_api_up" : "workload_api_down",
				      json_pack("{s:s}", "agent", o->agent_text[a]));
			prev = s;
		}
	}
}

static void load_events(json_t *events, const struct ward_drill_record *r,
			const struct ward_drill_opts *o)
{
	for (size_t i = 0; i < r->n_reqs; i++)
		if (r->reqs[i].why != WARD_DRILL_OK)
			event(events, r->reqs[i].t0, "request_failed",
			      json_pack("{s:s,s:s,s:o}", "target",
					o->targets[r->reqs[i].target % o->n_targets].text, "reason",
					ward_drill_why_name(r->reqs[i].why), "after_ms",
					ward_drill_ms(r->reqs[i].t1 - r->reqs[i].t0)));
	for (size_t i = 0; i < r->n_drops; i++)
		event(events, r->drops[i].t, "long_dropped",
		      json_pack("{s:i,s:s}", "conn", (int)r->drops[i].conn, "reason",
				ward_drill_why_name(r->drops[i].why)));
	for (size_t i = 0; i < r->n_actions; i++) {
		const struct ward_drill_action *a = &r->actions[i];

		event(events, a->t_trigger, "step",
		      json_pack("{s:s,s:b}", "kind", ward_drill_kind_name(a->kind), "ok", a->ok));
		if (a->t_down)
			event(events, a->t_down, "server_down", NULL);
		if (a->t_up)
			event(events, a->t_up, "server_started", NULL);
	}
}

static int by_time(const void *x, const void *y)
{
	double a = json_real_value(json_object_get(*(json_t *const *)x, "t_ms")),
	       b = json_real_value(json_object_get(*(json_t *const *)y, "t_ms"));

	return a < b ? -1 : a > b;
}

static json_t *sorted(json_t *events)
{
	size_t n = json_array_size(events);
	json_t **v = malloc((n + 1) * sizeof(*v)), *out = json_array();

	for (size_t i = 0; v && i < n; i++)
		v[i] = json_incref(json_array_get(events, i));
	if (v)
		qsort(v, n, sizeof(*v), by_time);
	for (size_t i = 0; v && i < n; i++)
		json_array_append_new(out, v[i]);
	free(v);
	json_decref(events);
	return out;
}

/* [start_ms, latency_ms, outcome, target] of every new connection. */
static json_t *requests(const struct ward_drill_record *r, const struct ward_drill_opts *o)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->n_reqs; i++)
		json_array_append_new(a,
				      json_pack("[o,o,s,s]", ward_drill_ms(r->reqs[i].t0),
						ward_drill_ms(r->reqs[i].t1 - r->reqs[i].t0),
						ward_drill_why_name(r->reqs[i].why),
						o->targets[r->reqs[i].target % o->n_targets].text));
	return a;
}

void ward_drill_timeline(json_t *report, const struct ward_drill_record *r,
			 const struct ward_drill_opts *o)
{
	json_t *events = json_array();

	agent_events(events, r, o);
	load_events(events, r, o);
	json_object_set_new(report, "timeline", timeline(r, o));
	json_object_set_new(report, "events", sorted(events));
	json_object_set_new(report, "requests", requests(r, o));
}
