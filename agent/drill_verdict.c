/* The drill's verdict: PASS only if no new connection failed, no long-lived
 * connection dropped, no TLS handshake failed at any agent, every rotation
 * reached every agent within --max-propagation (and, for a CA or root
 * rotation, every agent trusted the new CA before any served an SVID from
 * it), no agent ever served an expired SVID, and the drill could do and see
 * all it meant to (every forced step succeeded, every agent was watched
 * throughout, the load ran). Each broken condition is one sentence that
 * names what broke. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/drill_report.h"

__attribute__((format(printf, 2, 3))) static void fail(struct ward_drill_verdict *v,
						       const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(v->failures, json_string(text));
}

/* "2 reset, 1 connect_refused" from {"reset": 2, ...}. */
static const char *counts_text(const json_t *by, char *out, size_t len)
{
	const char *key;
	json_t *n;
	size_t o = 0;

	out[0] = '\0';
	json_object_foreach((json_t *)by, key, n)
	{
		int w = snprintf(out + o, len - o, "%s%lld %s", o ? ", " : "",
				 (long long)json_integer_value(n), key);

		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
	return out;
}

static double number(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

void ward_drill_verdict_agent(struct ward_drill_verdict *v, const char *addr,
			      const char *last_error, double gap_ms, double gap_limit_ms,
			      const json_t *expired)
{
	const json_t *first = json_array_get(expired, 0);

	if (gap_ms > gap_limit_ms && last_error[0])
		fail(v, "agent %s could not be watched for %.1f s (last error: %s)", addr,
		     gap_ms / 1000, last_error);
	else if (gap_ms > gap_limit_ms)
		fail(v, "agent %s could not be watched for %.1f s", addr, gap_ms / 1000);
	if (first)
		fail(v, "agent %s served an expired SVID (serial %s, not after %lld) at +%.1f s%s",
		     addr, json_string_value(json_object_get(first, "serial")),
		     (long long)json_integer_value(json_object_get(first, "not_after")),
		     number(first, "t_ms") / 1000,
		     json_array_size(expired) > 1 ? ", and again later" : "");
}

/* The agents a rotation did not reach in time, as "a (svid 6.1 s), b (never
 * trusted the new CA)". */
static void late_agents(const json_t *rot, double limit_ms, char *out, size_t len)
{
	size_t i, o = 0;
	json_t *a;

	out[0] = '\0';
	json_array_foreach(json_object_get(rot, "agents"), i, a)
	{
		const json_t *s = json_object_get(a, "svid_ms"),
			     *b = json_object_get(a, "bundle_ms");
		bool wants_svid = strcmp(json_string_value(json_object_get(rot, "kind")), "bundle");
		bool wants_ca = json_object_get(rot, "new_ca") != NULL;
		char why[96] = "";
		int w;

		if (wants_svid && !json_is_number(s) && wants_ca && !json_is_number(b))
			snprintf(why, sizeof(why),
				 "never trusted the new CA nor served a new SVID");
		else if (wants_svid && !json_is_number(s))
			snprintf(why, sizeof(why), "never served a new SVID");
		else if (wants_ca && !json_is_number(b))
			snprintf(why, sizeof(why), "never trusted the new CA");
		else if (wants_svid && json_number_value(s) > limit_ms)
			snprintf(why, sizeof(why), "new SVID after %.1f s",
				 json_number_value(s) / 1000);
		else if (wants_ca && json_number_value(b) > limit_ms)
			snprintf(why, sizeof(why), "trusted the new CA after %.1f s",
				 json_number_value(b) / 1000);
		if (!why[0])
			continue;
		w = snprintf(out + o, len - o, "%s%s %s", o ? "; " : "",
			     json_string_value(json_object_get(a, "addr")), why);
		if (w < 0 || (size_t)w >= len - o)
			return;
		o += (size_t)w;
	}
}

void ward_drill_verdict_rotation(struct ward_drill_verdict *v, const json_t *rot,
				 uint64_t max_propagation_ms)
{
	const char *kind = json_string_value(json_object_get(rot, "kind"));
	int index = (int)json_integer_value(json_object_get(rot, "index"));
	const json_t *ok = json_object_get(rot, "ok"), *first_by;
	char late[400];

	if (ok && !json_is_true(ok)) {
		fail(v, "step %d (%s) failed: %s", index, kind,
		     json_string_value(json_object_get(rot, "error")));
		return;
	}
	if (!json_object_get(rot, "propagation_ms"))
		return; /* a fault: what it did to the load is counted with the load */
	late_agents(rot, (double)max_propagation_ms, late, sizeof(late));
	if (late[0])
		fail(v, "rotation %d (%s) did not reach every agent within %.1f s: %s", index, kind,
		     (double)max_propagation_ms / 1000, late);
	first_by = json_object_get(rot, "bundle_first_by_ms");
	if (json_is_number(first_by) && json_number_value(first_by) <= 0)
		fail(v,
		     "rotation %d (%s) left a window: an agent may have served an SVID from the "
		     "new CA %.0f ms before every agent trusted it",
		     index, kind, -json_number_value(first_by));
}

void ward_drill_verdict_load(struct ward_drill_verdict *v, const struct ward_drill_record *r,
			     const struct ward_drill_opts *o, const json_t *totals)
{
	const json_t *req = json_object_get(totals, "requests"),
		     *lng = json_object_get(totals, "long");
	double failed = number(req, "failed"), ok = number(req, "ok"),
	       dropped = number(lng, "dropped"), hs = number(totals, "handshake_failures_total");
	char by[300];

	if (failed > 0)
		fail(v, "%.0f of %.0f new connections failed (%s)", failed, failed + ok,
		     counts_text(json_object_get(req, "by_reason"), by, sizeof(by)));
	if (o->rate > 0 && ok + failed == 0)
		fail(v, "no new connection was made: the load never ran");
	if (dropped > 0)
		fail(v, "%.0f long-lived connection%s dropped (%s)", dropped,
		     dropped > 1 ? "s" : "",
		     counts_text(json_object_get(lng, "by_reason"), by, sizeof(by)));
	if (o->n_long > 0 && r->long_opened == 0)
		fail(v, "no long-lived connection was ever established");
	if (hs > 0)
		fail(v, "%.0f TLS handshake%s failed at the agents (%s)", hs, hs > 1 ? "s" : "",
		     counts_text(json_object_get(totals, "handshake_failures"), by, sizeof(by)));
	if (r->interrupted)
		fail(v, "the drill was interrupted at +%.1f s", r->t_end / 1000);
}

void ward_drill_rotation_action(json_t *j, const struct ward_drill_record *r,
				const struct ward_drill_action *a)
{
	const char *summary;

	if (!a)
		return;
	json_object_set_new(j, "done_ms", ward_drill_ms(a->t_done - a->t_trigger));
	json_object_set_new(j, "ok", json_boolean(a->ok));
	if (a->error[0])
		json_object_set_new(j, "error", json_string(a->error));
	summary = json_string_value(json_object_get(a->reply, "summary"));
	if (summary)
		json_object_set_new(j, "server", json_string(summary));
	if (a->kind == WARD_DRILL_API_DOWN || a->kind == WARD_DRILL_RESTART) {
		json_object_set_new(j, "down_ms",
				    ward_drill_ms(a->t_down ? a->t_down - a->t_trigger : NAN));
		json_object_set_new(j, "up_ms",
				    ward_drill_ms(a->t_up ? a->t_up - a->t_trigger : NAN));
	}
	(void)r;
}
