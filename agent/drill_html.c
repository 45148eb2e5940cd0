/* The drill's report as one self-contained HTML page: inline CSS, an inline
 * SVG timeline, tables; no script and nothing fetched, so it opens anywhere,
 * offline, and a browser has nothing to complain about. Every string from
 * the report is escaped. The timeline has four lanes sharing one time axis:
 * requests a second and failures per 100 ms, latency (new connections and
 * the agents' TLS handshakes), long-lived connections alive, and the
 * rotations: a line per rotation, and per agent a circle when it served the
 * new SVID, a diamond when it trusted the new CA, a red cross where
 * --max-propagation ran out for an agent it never reached. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agent/drill.h"

#define W 1100.0 /* the SVG's width */
#define LEFT 130.0
#define RIGHT 20.0
#define LANE 110.0 /* a chart lane's height */
#define GAP 26.0

static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
				      "#8c564b", "#e377c2", "#17becf", "#bcbd22"};

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static double num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* The time axis: ms to x. */
struct axis {
	double t_end, x0, w;
};

static double x_of(const struct axis *ax, double t_ms)
{
	return ax->x0 + ax->w * (ax->t_end > 0 ? fmin(t_ms, ax->t_end) / ax->t_end : 0);
}

static double max_of(const json_t *a, double scale)
{
	double m = 0;
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) if (json_is_number(v)) m =
	    fmax(m, json_number_value(v) * scale);
	return m;
}

/* A nice round top for a lane's y scale. */
static double round_up(double v)
{
	double p = pow(10, floor(log10(fmax(v, 1))));

	for (double m = 1; m <= 10; m += m < 2 ? 1 : m < 5 ? 3 : 5)
		if (v <= m * p)
			return m * p;
	return 10 * p;
}

static void lane_frame(FILE *f, double y, const char *title, double top, const char *unit)
{
	fprintf(f,
		"<g class=\"lane\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"class=\"frame\"/>\n<text x=\"%.1f\" y=\"%.1f\" class=\"title\">",
		LEFT, y, W - LEFT - RIGHT, LANE, LEFT + 4, y - 6);
	esc(f, title);
	fputs("</text>", f);
	if (top > 0)
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g%s</text>"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">0</text>",
			LEFT - 4, y + 10, top, unit, LEFT - 4, y + LANE);
	fputs("</g>\n", f);
}

/* A grey band across the chart while ward server was down (a fault). */
static void fault_bands(FILE *f, const struct axis *ax, const json_t *report, double top,
			double bottom)
{
	const json_t *rot;
	size_t i;

	json_array_foreach(json_object_get(report, "rotations"), i, rot)
	{
		double t = num(rot, "trigger_ms"), x0, x1;

		if (!json_is_number(json_object_get(rot, "down_ms")) ||
		    !json_is_number(json_object_get(rot, "up_ms")))
			continue;
		x0 = x_of(ax, t + num(rot, "down_ms"));
		x1 = x_of(ax, t + num(rot, "up_ms"));
		fprintf(f,
			"<rect class=\"fault\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"><title>ward server down %.1f s</title></rect>\n",
			x0, top, fmax(x1 - x0, 1), bottom - top,
			(num(rot, "up_ms") - num(rot, "down_ms")) / 1000);
	}
}

/* One series as a polyline (gaps where the report has null). */
static void line(FILE *f, const struct axis *ax, const json_t *a, double scale, double top,
		 double y, const char *cls, bool steps)
{
	bool open = false;
	double prev_y = 0;
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		double x = x_of(ax, (double)(i + 1) * WARD_DRILL_BUCKET_MS), yy;

		if (!json_is_number(v)) {
			if (open)
				fputs("\"/>\n", f);
			open = false;
			continue;
		}
		yy = y + LANE - LANE * fmin(json_number_value(v) * scale / top, 1);
		if (!open)
			fprintf(f, "<polyline class=\"%s\" points=\"", cls);
		else if (steps)
			fprintf(f, "%.1f,%.1f ", x - ax->w * WARD_DRILL_BUCKET_MS / ax->t_end,
				prev_y);
		fprintf(f, "%.1f,%.1f ", x, yy);
		open = true;
		prev_y = yy;
	}
	if (open)
		fputs("\"/>\n", f);
}

/* Bars for the buckets with failures. */
static void bars(FILE *f, const struct axis *ax, const json_t *a, double top, double y,
		 const char *cls)
{
	double bw = fmax(ax->w * WARD_DRILL_BUCKET_MS / fmax(ax->t_end, 1), 1.5);
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		double n = json_number_value(v), h;

		if (n <= 0)
			continue;
		h = fmax(LANE * fmin(n / top, 1), 2);
		fprintf(f,
			"<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
			"<title>%.0f at %.1f s</title></rect>\n",
			cls, x_of(ax, (double)i * WARD_DRILL_BUCKET_MS), y + LANE - h, bw, h, n,
			(double)i * WARD_DRILL_BUCKET_MS / 1000);
	}
}

static void time_axis(FILE *f, const struct axis *ax, double y)
{
	double step = round_up(ax->t_end / 1000 / 10);

	for (double s = 0; s * 1000 <= ax->t_end + 1; s += step)
		fprintf(f,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">%gs</text>\n",
			x_of(ax, s * 1000), x_of(ax, s * 1000), y, x_of(ax, s * 1000), y + 14, s);
}

static void agent_marker(FILE *f, double x, double y, const char *colour, bool diamond,
			 const char *agent, int rotation, double at_ms)
{
	if (diamond)
		fprintf(f,
			"<path class=\"marker agent-ca\" data-rotation=\"%d\" fill=\"%s\" "
			"d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\"><title>",
			rotation, colour, x, y - 5);
	else
		fprintf(f,
			"<circle class=\"marker agent-svid\" data-rotation=\"%d\" fill=\"%s\" "
			"cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"><title>",
			rotation, colour, x, y);
	esc(f, agent);
	fprintf(f, " %s +%.1f ms</title></%s>\n",
		diamond ? "trusted the new CA" : "served the new SVID", at_ms,
		diamond ? "path" : "circle");
}

/* The agent was not reached: no new SVID, or (a CA rotation) no new CA. A
 * step the server refused reached nobody, and is marked failed elsewhere. */
static bool missed(const json_t *rot, const json_t *svid, const json_t *ca)
{
	bool wants_svid = strcmp(str(rot, "kind"), "bundle") != 0;

	if (json_is_false(json_object_get(rot, "ok")))
		return false;
	return (wants_svid && !json_is_number(svid)) ||
	       (json_object_get(rot, "new_ca") && !json_is_number(ca));
}

/* A red cross where --max-propagation ran out. */
static void missed_marker(FILE *f, double x, double y, const char *agent, int rotation)
{
	fprintf(f,
		"<path class=\"marker agent-missed\" data-rotation=\"%d\" "
		"d=\"M%.1f %.1fl8 8m0 -8l-8 8\"><title>",
		rotation, x - 4, y - 4);
	esc(f, agent);
	fputs(" was not reached</title></path>\n", f);
}

/* The rotations lane: one line per rotation across the whole chart, and
 * per agent (one row each) its markers. */
static void rotations(FILE *f, const struct axis *ax, const json_t *report, double y,
		      double chart_top)
{
	const json_t *agents = json_object_get(report, "agents"), *rot, *a;
	size_t i, k, n_agents = json_array_size(agents);
	double row = LANE / (double)(n_agents + 1),
	       limit = json_number_value(ward_drill_get(report, "options.max_propagation_ms"));

	json_array_foreach(agents, k, a)
	{
		fprintf(f,
			"<text class=\"tick agent-name\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\" "
			"text-anchor=\"end\">",
			LEFT - 4, y + row * (double)(k + 1) + 4, colours[k % 8]);
		esc(f, str(a, "addr"));
		fputs("</text>\n", f);
	}
	json_array_foreach(json_object_get(report, "rotations"), i, rot)
	{
		double t = num(rot, "trigger_ms"), x = x_of(ax, t);
		int index = (int)num(rot, "index");

		fprintf(f,
			"<line class=\"marker rotation\" data-rotation=\"%d\" x1=\"%.1f\" "
			"y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"><title>rotation %d: ",
			index, x, chart_top, x, y + LANE, index);
		esc(f, str(rot, "kind"));
		fprintf(f,
			" at +%.1f s</title></line>\n<text class=\"rot-label\" x=\"%.1f\" "
			"y=\"%.1f\">#%d ",
			t / 1000, x + 2, y + 9, index);
		esc(f, str(rot, "kind"));
		fputs("</text>\n", f);
		json_array_foreach(json_object_get(rot, "agents"), k, a)
		{
			size_t ai = 0;
			const json_t *s = json_object_get(a, "svid_ms"),
				     *b = json_object_get(a, "bundle_ms");

			while (ai < n_agents &&
			       strcmp(str(json_array_get(agents, ai), "addr"), str(a, "addr")))
				ai++;
			if (json_is_number(b))
				agent_marker(f, x_of(ax, t + json_number_value(b)),
					     y + row * (double)(ai + 1), colours[ai % 8], true,
					     str(a, "addr"), index, json_number_value(b));
			if (json_is_number(s))
				agent_marker(f, x_of(ax, t + json_number_value(s)),
					     y + row * (double)(ai + 1), colours[ai % 8], false,
					     str(a, "addr"), index, json_number_value(s));
			if (missed(rot, s, b))
				missed_marker(f, x_of(ax, t + limit), y + row * (double)(ai + 1),
					      str(a, "addr"), index);
		}
	}
}

static void svg(FILE *f, const json_t *report)
{
	const json_t *tl = json_object_get(report, "timeline");
	struct axis ax = {num(report, "duration_ms"), LEFT, W - LEFT - RIGHT};
	double y0 = 30, rps = round_up(max_of(json_object_get(tl, "ok"), 10)),
	       fails = round_up(fmax(max_of(json_object_get(tl, "failed"), 1),
				     max_of(json_object_get(tl, "handshake_failures"), 1))),
	       lat = round_up(fmax(max_of(json_object_get(tl, "latency_ms"), 1),
				   max_of(json_object_get(tl, "handshake_ms"), 1))),
	       alive = round_up(fmax(max_of(json_object_get(tl, "alive"), 1), 1));
	double h = y0 + 4 * (LANE + GAP) + 20;

	fprintf(
	    f,
	    "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
	    "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"drill timeline\">\n",
	    W, h, W, h);
	lane_frame(f, y0, "new connections a second (line) and failures per 100 ms (bars)", rps,
		   "/s");
	line(f, &ax, json_object_get(tl, "ok"), 10, rps, y0, "s-ok", false);
	bars(f, &ax, json_object_get(tl, "failed"), fails, y0, "s-failed");
	bars(f, &ax, json_object_get(tl, "handshake_failures"), fails, y0, "s-hsfail");
	y0 += LANE + GAP;
	lane_frame(f, y0, "latency: new connection (blue), agents' TLS handshake (orange)", lat,
		   " ms");
	line(f, &ax, json_object_get(tl, "latency_ms"), 1, lat, y0, "s-lat", false);
	line(f, &ax, json_object_get(tl, "handshake_ms"), 1, lat, y0, "s-hs", false);
	y0 += LANE + GAP;
	lane_frame(f, y0, "long-lived connections alive", alive, "");
	line(f, &ax, json_object_get(tl, "alive"), 1, alive, y0, "s-alive", true);
	y0 += LANE + GAP;
	lane_frame(f, y0,
		   "rotations: per agent, circle = new SVID served, diamond = new CA trusted, "
		   "cross = not reached",
		   0, "");
	fault_bands(f, &ax, report, 30, y0 + LANE);
	rotations(f, &ax, report, y0, 30);
	time_axis(f, &ax, y0 + LANE);
	fputs("</svg>\n", f);
}

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}"
    "h1{font-size:22px}.pass{color:#fff;background:#2a7d2a;padding:2px 10px;border-radius:4px}"
    ".fail{color:#fff;background:#b22;padding:2px 10px;border-radius:4px}"
    "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}"
    ".frame{fill:#fafafa;stroke:#bbb}.title{font-size:12px;fill:#333}.tick{font-size:11px;fill:#"
    "555}"
    ".grid{stroke:#e4e4e4}.s-ok{fill:none;stroke:#1f77b4;stroke-width:1.2}"
    ".s-lat{fill:none;stroke:#1f77b4}.s-hs{fill:none;stroke:#ff7f0e}"
    ".s-alive{fill:none;stroke:#2ca02c;stroke-width:1.5}.s-failed{fill:#d62728}"
    ".s-hsfail{fill:#9b1c1c}.rotation{stroke:#555;stroke-dasharray:4 3}"
    ".rot-label{font-size:11px;fill:#333}code{font-size:12px}"
    ".fault{fill:#999;fill-opacity:.18}.agent-missed{stroke:#d62728;stroke-width:2.5}";

static double at(const json_t *report, const char *path)
{
	return json_number_value(ward_drill_get(report, path));
}

static void verdict(FILE *f, const json_t *report)
{
	const json_t *s;
	bool pass = ward_drill_report_passed(report);
	size_t i;

	fprintf(f, "<h1>ward drill <span id=\"verdict\" class=\"%s\">%s</span></h1>\n",
		pass ? "pass" : "fail", pass ? "PASS" : "FAIL");
	fprintf(f, "<p>Started ");
	esc(f, str(report, "started_at"));
	fprintf(f, ", ran %.1f s, %s. ", num(report, "duration_ms") / 1000, str(report, "mode"));
	fprintf(f,
		"%.0f new connections (%.0f failed), %.0f long-lived opened (%.0f dropped), "
		"%.0f TLS handshake failures at the agents.</p>\n",
		at(report, "totals.requests.ok") + at(report, "totals.requests.failed"),
		at(report, "totals.requests.failed"), at(report, "totals.long.opened"),
		at(report, "totals.long.dropped"), at(report, "totals.handshake_failures_total"));
	if (pass)
		return;
	fputs("<ul id=\"failures\">\n", f);
	json_array_foreach(ward_drill_get(report, "verdict.failures"), i, s)
	{
		fputs("<li>", f);
		esc(f, json_string_value(s));
		fputs("</li>\n", f);
	}
	fputs("</ul>\n", f);
}

static void cell_ms(FILE *f, const json_t *v)
{
	if (json_is_number(v))
		fprintf(f, "<td>%.1f ms</td>", json_number_value(v));
	else
		fputs("<td>-</td>", f);
}

static void rotation_rows(FILE *f, const json_t *report)
{
	const json_t *rot, *a;
	size_t i, k;

	fputs(
	    "<h2>Rotations</h2>\n<table id=\"rotations\"><tr><th>#</th><th>kind</th>"
	    "<th>trigger</th><th>per agent: new SVID / new CA</th><th>propagation</th>"
	    "<th>requests ok / failed</th><th>dropped</th><th>p50 / p99 before, during, after</th>"
	    "<th>server</th></tr>\n",
	    f);
	json_array_foreach(json_object_get(report, "rotations"), i, rot)
	{
		const json_t *lat = json_object_get(rot, "latency_ms");
		static const char *const ph[] = {"before", "during", "after"};

		fprintf(f, "<tr><td>%.0f</td><td>", num(rot, "index"));
		esc(f, str(rot, "kind"));
		fprintf(f, "</td><td>+%.1f s</td><td>", num(rot, "trigger_ms") / 1000);
		json_array_foreach(json_object_get(rot, "agents"), k, a)
		{
			esc(f, str(a, "addr"));
			fputs(": ", f);
			if (json_is_number(json_object_get(a, "svid_ms")))
				fprintf(f, "%.0f ms", num(a, "svid_ms"));
			else
				fputs("-", f);
			fputs(" / ", f);
			if (json_is_number(json_object_get(a, "bundle_ms")))
				fprintf(f, "%.0f ms", num(a, "bundle_ms"));
			else
				fputs("-", f);
			fputs("<br>", f);
		}
		fputs("</td>", f);
		cell_ms(f, json_object_get(rot, "propagation_ms"));
		fprintf(f, "<td>%.0f / %.0f</td><td>%.0f</td><td>",
			num(json_object_get(rot, "requests"), "ok"),
			num(json_object_get(rot, "requests"), "failed"), num(rot, "long_dropped"));
		for (size_t p = 0; p < 3; p++) {
			const json_t *x = json_object_get(lat, ph[p]);

			fprintf(f, "%s%s ", p ? "<br>" : "", ph[p]);
			if (json_is_number(json_object_get(x, "p50")))
				fprintf(f, "%.1f / %.1f ms", num(x, "p50"), num(x, "p99"));
			else
				fputs("-", f);
		}
		fputs("</td><td>", f);
		esc(f,
		    str(rot, json_is_string(json_object_get(rot, "error")) ? "error" : "server"));
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void agent_rows(FILE *f, const json_t *report)
{
	const json_t *a;
	size_t i;

	fputs("<h2>Agents</h2>\n<table id=\"agents\"><tr><th>admin</th><th>SPIFFE ID</th>"
	      "<th>SVIDs served</th><th>bundles</th><th>looks (failed)</th><th>longest blind "
	      "spell</th>"
	      "<th>last error</th></tr>\n",
	      f);
	json_array_foreach(json_object_get(report, "agents"), i, a)
	{
		fprintf(f, "<tr><td style=\"color:%s\">", colours[i % 8]);
		esc(f, str(a, "addr"));
		fputs("</td><td>", f);
		esc(f, str(a, "spiffe_id"));
		fprintf(f, "</td><td>%zu</td><td>%zu</td><td>%.0f (%.0f)</td><td>%.1f s</td><td>",
			json_array_size(json_object_get(a, "svids")),
			json_array_size(json_object_get(a, "bundles")), num(a, "looks"),
			num(a, "failed_looks"), num(a, "longest_gap_ms") / 1000);
		esc(f, str(a, "last_error"));
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

int ward_drill_html(const json_t *report, FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n<title>ward drill: ",
	      f);
	fputs(ward_drill_report_passed(report) ? "PASS" : "FAIL", f);
	fprintf(f, "</title>\n<style>%s</style></head><body>\n", style);
	verdict(f, report);
	svg(f, report);
	rotation_rows(f, report);
	agent_rows(f, report);
	fputs("<p>Made by <code>ward drill</code>; every figure and event is in its "
	      "<code>--json</code> report.</p>\n</body></html>\n",
	      f);
	ENSURE(!ferror(f), WARD_ERR_IO, "writing the HTML report failed");
	return 0;
}
