/* The drill's summary for a person, made from the report (drill.h). */
#include <stdio.h>
#include <string.h>

#include "agent/drill.h"

const json_t *ward_drill_get(const json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_object_get(o, path);
}

static double num(const json_t *o, const char *path)
{
	return json_number_value(ward_drill_get(o, path));
}

static const char *str(const json_t *o, const char *path)
{
	const char *s = json_string_value(ward_drill_get(o, path));

	return s ? s : "";
}

static double sum(const json_t *counts)
{
	const char *key;
	json_t *v;
	double n = 0;

	json_object_foreach((json_t *)counts, key, v) n += json_number_value(v);
	return n;
}

/* "12.3 ms", or "-" when the report has null. */
static const char *ms_text(const json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return "-";
	snprintf(buf, len, "%.1f ms", json_number_value(v));
	return buf;
}

static void latency_line(const json_t *lat, FILE *out)
{
	static const char *const phases[] = {"before", "during", "after"};
	char a[24], b[24];

	for (size_t i = 0; i < 3; i++) {
		const json_t *p = json_object_get(lat, phases[i]);

		fprintf(out, "%s%s %s/%s (%lld)", i ? ", " : "", phases[i],
			ms_text(json_object_get(p, "p50"), a, sizeof(a)),
			ms_text(json_object_get(p, "p99"), b, sizeof(b)),
			(long long)json_integer_value(json_object_get(p, "n")));
	}
}

/* The steps as "svids x2, workload-api-down, ca x20": runs of a kind counted. */
static void steps_line(const json_t *steps, FILE *out)
{
	size_t n = json_array_size(steps);

	for (size_t i = 0, run; i < n; i += run) {
		const char *kind = json_string_value(json_array_get(steps, i));

		for (run = 1; i + run < n; run++)
			if (strcmp(kind, json_string_value(json_array_get(steps, i + run))))
				break;
		fprintf(out, "%s%s", i ? ", " : " (", kind);
		if (run > 1)
			fprintf(out, " x%zu", run);
	}
	if (n)
		fputc(')', out);
}

static void header(const json_t *r, FILE *out)
{
	size_t agents = json_array_size(ward_drill_get(r, "agents"));

	fprintf(out, "ward drill: %s\n", ward_drill_report_passed(r) ? "PASS" : "FAIL");
	fprintf(out, "  started    %s, ran %.1f s, %s", str(r, "started_at"),
		num(r, "duration_ms") / 1000, str(r, "mode"));
	steps_line(ward_drill_get(r, "options.steps"), out);
	fprintf(out, ", %zu agent%s\n", agents, agents == 1 ? "" : "s");
}

static void load(const json_t *r, FILE *out)
{
	const json_t *t = ward_drill_get(r, "totals");

	fprintf(out,
		"  load       %.0f new connections: %.0f ok, %.0f failed; %.0f long-lived opened, "
		"%.0f dropped\n",
		num(t, "requests.ok") + num(t, "requests.failed"), num(t, "requests.ok"),
		num(t, "requests.failed"), num(t, "long.opened"), num(t, "long.dropped"));
	fprintf(out, "  latency    p50/p99 of new connections: ");
	latency_line(ward_drill_get(t, "latency_ms"), out);
	fprintf(out, "\n");
}

static void agents(const json_t *r, FILE *out)
{
	const json_t *a;
	size_t i;

	json_array_foreach(ward_drill_get(r, "agents"), i, a)
	{
		fprintf(out,
			"  %-10s %s %s: %zu SVIDs, %zu bundles, %.0f looks (%.0f failed)%s%s\n",
			i ? "" : "agents", str(a, "addr"),
			json_is_string(ward_drill_get(a, "spiffe_id")) ? str(a, "spiffe_id")
								       : "(no SVID)",
			json_array_size(ward_drill_get(a, "svids")),
			json_array_size(ward_drill_get(a, "bundles")), num(a, "looks"),
			num(a, "failed_looks"),
			json_is_string(ward_drill_get(a, "last_error")) ? "; last error: " : "",
			str(a, "last_error"));
	}
}

static void reached(const json_t *rot, FILE *out)
{
	const json_t *a;
	char x[24], y[24];
	size_t i;

	json_array_foreach(ward_drill_get(rot, "agents"), i, a)
	{
		fprintf(out, "%s%s", i ? "; " : "       ", str(a, "addr"));
		if (!json_is_null(ward_drill_get(a, "svid_ms")))
			fprintf(out, " SVID +%s",
				ms_text(ward_drill_get(a, "svid_ms"), x, sizeof(x)));
		if (!json_is_null(ward_drill_get(a, "bundle_ms")))
			fprintf(out, " CA +%s",
				ms_text(ward_drill_get(a, "bundle_ms"), y, sizeof(y)));
		if (json_is_null(ward_drill_get(a, "svid_ms")) &&
		    json_is_null(ward_drill_get(a, "bundle_ms")))
			fprintf(out, " not reached");
	}
	if (i)
		fprintf(out, "\n");
}

static void rotation(const json_t *rot, FILE *out)
{
	char p[24];

	fprintf(out, "  %3.0f  %-17s +%7.1f s  ", num(rot, "index"), str(rot, "kind"),
		num(rot, "trigger_ms") / 1000);
	if (ward_drill_get(rot, "propagation_ms"))
		fprintf(out, "propagation %s",
			json_is_null(ward_drill_get(rot, "propagation_ms"))
			    ? "INCOMPLETE"
			    : ms_text(ward_drill_get(rot, "propagation_ms"), p, sizeof(p)));
	else
		fprintf(out, "server down %.1f s, back after %.1f s",
			(num(rot, "up_ms") - num(rot, "down_ms")) / 1000,
			num(rot, "done_ms") / 1000);
	if (json_is_number(ward_drill_get(rot, "bundle_first_by_ms")))
		fprintf(out, " (bundles first by %.0f ms)", num(rot, "bundle_first_by_ms"));
	fprintf(out, "; requests %.0f ok, %.0f failed; handshake failures %.0f; dropped %.0f\n",
		num(rot, "requests.ok"), num(rot, "requests.failed"),
		sum(ward_drill_get(rot, "handshake_failures")), num(rot, "long_dropped"));
	reached(rot, out);
	fprintf(out, "       latency ");
	latency_line(ward_drill_get(rot, "latency_ms"), out);
	fprintf(out, "\n");
	if (json_is_string(ward_drill_get(rot, "server")))
		fprintf(out, "       server: %s\n", str(rot, "server"));
	if (json_is_string(ward_drill_get(rot, "error")))
		fprintf(out, "       error: %s\n", str(rot, "error"));
}

void ward_drill_text(const json_t *r, FILE *out)
{
	const json_t *rot, *f;
	size_t i;

	header(r, out);
	load(r, out);
	agents(r, out);
	fprintf(out, "  rotations  %zu\n", json_array_size(ward_drill_get(r, "rotations")));
	json_array_foreach(ward_drill_get(r, "rotations"), i, rot) rotation(rot, out);
	if (ward_drill_report_passed(r)) {
		fprintf(out,
			"  verdict    PASS: no request failed, no long-lived connection dropped,\n"
			"             no handshake failed, every rotation reached every agent in "
			"time,\n"
			"             no expired SVID was served\n");
		return;
	}
	fprintf(out, "  verdict    FAIL:\n");
	json_array_foreach(ward_drill_get(r, "verdict.failures"), i, f)
	    fprintf(out, "    - %s\n", json_string_value(f));
}
