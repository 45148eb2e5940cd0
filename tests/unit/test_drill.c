/* `ward drill` without a network: the command line (durations, plans, faults,
 * targets, every usage error), what agents say (/certs, /metrics, and the
 * malformed), and the report built from records made by hand: a clean forced
 * drill passes; each broken condition fails with its sentence; observed
 * rotations under files or SPIRE; percentiles; and the summary and the HTML
 * page made from the report (escaped, self-contained, with its markers). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/drill.h"

static void must(int rc)
{
	if (rc < 0)
		fail_msg("%s (%s)", ward_err_msg(), ward_err_name(rc));
}

static void refused(int rc, const char *why)
{
	assert_int_equal(rc, WARD_ERR_INVALID);
	if (!strstr(ward_err_msg(), why))
		fail_msg("reason \"%s\" lacks \"%s\"", ward_err_msg(), why);
}

/* ---- the command line --------------------------------------------------------- */

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {{"10s", 10000}, {"500ms", 500}, {"1.5m", 90000},  {"2h", 7200000},
		    {"0s", 0},	    {"0.25s", 250}, {"24h", 86400000}};
	static const char *const bad[] = {"10",	   "s",	     "-1s", "10sec", "2d",  "25h",
					  "nan s", "1e400s", "",    " 1s",   "1s ", "inf"};
	uint64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		must(ward_drill_parse_duration(good[i].text, &ms));
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ward_drill_parse_duration(bad[i], &ms) != WARD_ERR_INVALID)
			fail_msg("\"%s\" was taken as %llu ms", bad[i], (unsigned long long)ms);
	refused(ward_drill_parse_duration("2d", &ms), "the unit must be ms, s, m or h");
	refused(ward_drill_parse_duration("25h", &ms), "at most a day");
}

static void test_plans(void **state)
{
	static const char *const bad[] = {"",	    ",",
					  "ca:",    "ca:0",
					  "ca:x",   "ca:-1",
					  "rot",    "ca,,svids",
					  "ca:1:2", "svids:300",
					  "CA",	    "ca :1",
					  "ca:1 ",  "ca:99999999999999999999"};
	struct ward_drill_step steps[WARD_DRILL_MAX_STEPS];
	size_t n;

	must(ward_drill_parse_plan("svids:5,ca:2,root:1", steps, WARD_DRILL_MAX_STEPS, &n));
	assert_int_equal(n, 8);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(steps[i].kind, WARD_DRILL_SVIDS);
	assert_int_equal(steps[5].kind, WARD_DRILL_CA);
	assert_int_equal(steps[6].kind, WARD_DRILL_CA);
	assert_int_equal(steps[7].kind, WARD_DRILL_ROOT);
	must(ward_drill_parse_plan("root,ca,root", steps, WARD_DRILL_MAX_STEPS, &n));
	assert_int_equal(n, 3);
	assert_int_equal(steps[2].kind, WARD_DRILL_ROOT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ward_drill_parse_plan(bad[i], steps, WARD_DRILL_MAX_STEPS, &n);

		if (rc >= 0)
			fail_msg("plan \"%s\" was taken", bad[i]);
	}
	refused(ward_drill_parse_plan("rot", steps, WARD_DRILL_MAX_STEPS, &n),
		"\"rot\" is not svids, ca or root");
	refused(ward_drill_parse_plan("ca:0", steps, WARD_DRILL_MAX_STEPS, &n),
		"the count must be a number from 1");
	assert_int_equal(ward_drill_parse_plan("svids:300", steps, WARD_DRILL_MAX_STEPS, &n),
			 WARD_ERR_RANGE);
}

static void test_faults_and_targets(void **state)
{
	struct ward_drill_step f;
	struct ward_drill_target t;
	static const char *const bad_targets[] = {
	    "x",      "https://10.0.0.1/", "http://",  "10.0.0.1:0", "http://10.0.0.1:80/a b",
	    "web:80", "http://web:80/",	   "10.0.0.1", "http:///x",  "10.0.0.1:70000"};

	must(ward_drill_parse_fault("workload-api-down:20s", &f));
	assert_int_equal(f.kind, WARD_DRILL_API_DOWN);
	assert_int_equal(f.down_ms, 20000);
	must(ward_drill_parse_fault("server-restart", &f));
	assert_int_equal(f.kind, WARD_DRILL_RESTART);
	refused(ward_drill_parse_fault("workload-api-down", &f), "is not workload-api-down:DUR");
	refused(ward_drill_parse_fault("workload-api-down:50ms", &f), "at least 100ms");
	refused(ward_drill_parse_fault("workload-api-down:forever", &f), "is not a duration");
	refused(ward_drill_parse_fault("reboot", &f), "or server-restart");

	must(ward_drill_parse_target("10.0.0.2:8080", &t));
	assert_false(t.http);
	assert_int_equal(ward_addr_port(&t.addr), 8080);
	must(ward_drill_parse_target("http://10.0.0.2:8080/hello?x=1", &t));
	assert_true(t.http);
	assert_string_equal(t.host, "10.0.0.2:8080");
	assert_string_equal(t.path, "/hello?x=1");
	must(ward_drill_parse_target("http://[::1]:80", &t));
	assert_string_equal(t.path, "/");
	must(ward_drill_parse_target("[fd00::2]:9000", &t));
	for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++)
		if (ward_drill_parse_target(bad_targets[i], &t) >= 0)
			fail_msg("target \"%s\" was taken", bad_targets[i]);
	refused(ward_drill_parse_target("https://10.0.0.1/", &t), "the mesh adds the TLS");
}

static int parse(struct ward_drill_opts *o, ...)
{
	char *argv[64];
	int argc = 0;
	bool help;
	va_list ap;

	argv[argc++] = "drill";
	va_start(ap, o);
	for (char *a; argc < 63 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	ward_err_clear();
	return ward_drill_opts_parse(argc, argv, o, &help);
}

#define T "--target", "10.0.0.2:8080"
#define A "--agent", "127.0.0.1:15020"

static void test_command_lines(void **state)
{
	static struct ward_drill_opts o;

	must(parse(&o, T, A, "--agent", "10.0.0.2:15020", "--server-admin", "/run/a.sock", "--plan",
		   "svids:2,ca:2", "--fault", "workload-api-down:5s", "--server-pid", "42",
		   "--interval", "3s", "--rate", "50", "--long", "8", "--json", "r.json", "--html",
		   "r.html", "--max-propagation", "2s", NULL));
	assert_int_equal(o.n_agents, 2);
	assert_int_equal(o.n_steps, 5);
	/* The fault goes in the middle of the plan. */
	assert_int_equal(o.steps[0].kind, WARD_DRILL_SVIDS);
	assert_int_equal(o.steps[1].kind, WARD_DRILL_SVIDS);
	assert_int_equal(o.steps[2].kind, WARD_DRILL_API_DOWN);
	assert_int_equal(o.steps[2].down_ms, 5000);
	assert_int_equal(o.steps[3].kind, WARD_DRILL_CA);
	assert_int_equal(o.interval_ms, 3000);
	assert_int_equal(o.max_propagation_ms, 2000);
	assert_int_equal(o.server_pid, 42);
	assert_true(o.rate == 50);
	assert_int_equal(o.n_long, 8);
	assert_int_equal(o.duration_ms, 0); /* a plan lasts as long as it takes */
	/* The default plan. */
	must(parse(&o, T, A, "--server-admin", "/s", NULL));
	assert_int_equal(o.n_steps, 3);
	assert_int_equal(o.steps[2].kind, WARD_DRILL_ROOT);
	/* Observing. */
	must(parse(&o, T, A, "--duration", "90s", NULL));
	assert_int_equal(o.n_steps, 0);
	assert_int_equal(o.duration_ms, 90000);

	refused(parse(&o, A, NULL), "--target: at least one");
	refused(parse(&o, T, NULL), "--agent: at least one");
	refused(parse(&o, T, A, "--plan", "ca", NULL),
		"--plan: forced rotations need --server-admin");
	refused(parse(&o, T, A, "--duration", "1m", "--fault", "server-restart", NULL),
		"--fault: the drill stops and starts ward server only when given its pid");
	refused(parse(&o, T, A, NULL), "--duration: how long to observe");
	refused(parse(&o, T, A, "--bogus", NULL), "unknown option --bogus");
	refused(parse(&o, T, A, "--duration", NULL), "--duration needs a value");
	refused(parse(&o, T, A, "--duration", "1m", "extra", NULL),
		"unexpected argument \"extra\"");
	refused(parse(&o, T, A, "--duration", "1m", "--rate", "-1", NULL),
		"--rate: \"-1\" must be a number from 0 to 10000");
	refused(parse(&o, T, A, "--duration", "1m", "--long", "1.5", NULL),
		"--long: \"1.5\" is not a whole number");
	refused(parse(&o, T, A, "--duration", "1m", "--rate", "0", "--long", "0", NULL),
		"the drill needs some load");
	refused(parse(&o, T, "--agent", "localhost:15020", "--duration", "1m", NULL),
		"--agent: \"localhost:15020\" is not ip:port");
	refused(parse(&o, T, A, "--server-admin", "/s", "--plan", "ca:x", NULL), "--plan: ");
	refused(parse(&o, T, A, "--server-admin", "/s", "--interval", "10", NULL),
		"--interval: \"10\": the unit must be ms, s, m or h");
	refused(parse(&o, T, A, "--server-admin", "/s", "--interval", "50ms", NULL),
		"--interval: at least 100ms");
	refused(parse(&o, "--target", "web:80", A, NULL), "--target: \"web:80\" is not ip:port");
	refused(parse(&o, T, A, "--server-admin", "/s", "--server-pid", "0", NULL),
		"--server-pid: \"0\" must be a number");
	refused(parse(&o, T, A, "--duration", "1m", "--max-propagation", "10ms", NULL),
		"--max-propagation: at least 100ms");
}

/* ---- what agents say ---------------------------------------------------------- */

static const char certs[] =
    "{\"spiffe_id\": \"spiffe://example.org/web\", \"serial\": \"aa01\", \"not_after\": 2000,"
    " \"bundles\": [{\"trust_domain\": \"example.org\", \"cas\": [{\"serial\": \"ca01\"},"
    " {\"serial\": \"ca02\"}]}]}";

static const char metrics[] =
    "# HELP ward_tls_handshake_errors_total x\n"
    "# TYPE ward_tls_handshake_errors_total counter\n"
    "ward_tls_handshake_errors_total{direction=\"outbound\",reason=\"unknown_ca\"} 2\n"
    "ward_tls_handshake_errors_total{direction=\"inbound\",reason=\"unknown_ca\"} 3\n"
    "ward_tls_handshake_errors_total{direction=\"inbound\",reason=\"expired\"} 1\n"
    "ward_tls_handshakes_total{direction=\"outbound\",result=\"success\"} 10\n"
    "ward_tls_handshakes_total{direction=\"inbound\",result=\"success\"} 7\n"
    "ward_tls_handshakes_total{direction=\"inbound\",result=\"failure\"} 4\n"
    "ward_tls_handshake_duration_seconds_sum{direction=\"outbound\"} 0.5\n"
    "ward_tls_handshake_duration_seconds_sum{direction=\"inbound\"} 0.25\n"
    "ward_tls_handshake_duration_seconds_count{direction=\"outbound\"} 10\n"
    "ward_tls_handshake_duration_seconds_count{direction=\"inbound\"} 7\n"
    "ward_workload_api_connected 1\n"
    "ward_something_else{a=\"}\"} 5\n";

static void test_agent_answers(void **state)
{
	struct ward_drill_record r;
	struct ward_drill_sample s = {0};
	char id[256];
	static const char *const bad_certs[] = {
	    "",
	    "[]",
	    "{",
	    "{\"spiffe_id\": 7}",
	    "{\"spiffe_id\": \"spiffe://x/y\"}",
	    "{\"spiffe_id\": \"spiffe://x/y\", \"serial\": 1,"
	    " \"not_after\": 1, \"bundles\": []}",
	    "{\"spiffe_id\": \"spiffe://x/y\", \"serial\": \"a\", \"not_after\": \"1\"}",
	    "{\"spiffe_id\": \"spiffe://x/y\", \"serial\": \"a\", \"not_after\": 1, \"bundles\": "
	    "{}}",
	    "{\"spiffe_id\": \"spiffe://x/y\", \"serial\": \"a\", \"not_after\": 1,"
	    " \"bundles\": [{\"cas\": [{}]}]}"};
	static const char *const bad_metrics[] = {
	    "ward_workload_api_connected\n", "ward_workload_api_connected x\n",
	    "ward_tls_handshakes_total{result=\"success\" 3\n",
	    "ward_tls_handshake_errors_total{reason=\"expired\"} 1.5.5\n"};

	ward_drill_record_init(&r);
	must(ward_drill_parse_certs(certs, strlen(certs), &r, &s, id, sizeof(id)));
	assert_true(s.has_svid);
	assert_string_equal(id, "spiffe://example.org/web");
	assert_string_equal(r.strings[s.serial], "aa01");
	assert_int_equal(s.not_after, 2000);
	assert_int_equal(s.n_bundle, 2);
	assert_string_equal(r.strings[s.bundle[1]], "ca02");
	assert_int_equal(ward_drill_intern(&r, "ca01"), s.bundle[0]); /* interned once */
	must(ward_drill_parse_certs("{\"spiffe_id\": null}", 19, &r, &s, id, sizeof(id)));
	assert_false(s.has_svid);
	for (size_t i = 0; i < sizeof(bad_certs) / sizeof(bad_certs[0]); i++)
		if (ward_drill_parse_certs(bad_certs[i], strlen(bad_certs[i]), &r, &s, id,
					   sizeof(id)) != WARD_ERR_INVALID)
			fail_msg("/certs \"%s\" was taken", bad_certs[i]);
	refused(ward_drill_parse_certs("[]", 2, &r, &s, id, sizeof(id)),
		"/certs: not a JSON object");

	must(ward_drill_parse_metrics(metrics, strlen(metrics), &s));
	assert_int_equal(s.hs_fail[ward_metrics_reason("unknown_ca")], 5);
	assert_int_equal(s.hs_fail[ward_metrics_reason("expired")], 1);
	assert_int_equal(s.hs_ok, 17);
	assert_int_equal(s.hs_count, 17);
	assert_true(fabs(s.hs_sum_s - 0.75) < 1e-9);
	assert_int_equal(s.wl_connected, 1);
	for (size_t i = 0; i < sizeof(bad_metrics) / sizeof(bad_metrics[0]); i++)
		if (ward_drill_parse_metrics(bad_metrics[i], strlen(bad_metrics[i]), &s) !=
		    WARD_ERR_INVALID)
			fail_msg("/metrics \"%s\" was taken", bad_metrics[i]);
	refused(ward_drill_parse_metrics("a 1\nward_workload_api_connected x\n", 34, &s),
		"/metrics: line 2: ward_workload_api_connected: \"x\" is not a number");
	ward_drill_record_free(&r);
}

/* ---- records made by hand --------------------------------------------------------- */

static char *render(const json_t *report, int (*fn)(const json_t *, FILE *), bool text);
static size_t count(const char *hay, const char *needle);

static struct ward_drill_opts opts;

/* Two agents (or n), a target, a forced plan unless observing. */
static void opts_for(size_t n_agents, bool forced)
{
	memset(&opts, 0, sizeof(opts));
	must(ward_drill_parse_target("10.0.0.2:8080", &opts.targets[0]));
	opts.n_targets = 1;
	opts.rate = 20;
	opts.n_long = 2;
	opts.n_agents = n_agents;
	for (size_t i = 0; i < n_agents; i++) {
		snprintf(opts.agent_text[i], sizeof(opts.agent_text[0]), "10.0.0.%zu:15020", i + 1);
		must(ward_addr_parse(opts.agent_text[i], &opts.agents[i]));
	}
	opts.server_admin = forced ? "/run/ward/server-admin.sock" : NULL;
	opts.max_propagation_ms = 5000;
	opts.interval_ms = 10000;
}

/* Looks every 100 ms for t_end ms: agent a serves serial svid[k] from
 * svid_at[k] on, trusts CA ca[k] from ca_at[k] on (besides "ca-old"). */
struct script {
	const char *svid[4];
	double svid_at[4];
	const char *ca[4];
	double ca_at[4];
	double dark_from, dark_to; /* no answer then */
	double expired_from;	   /* not_after in the past from then (0: never) */
	unsigned hs_fail_at;	   /* an unknown_ca failure counted at this look (0: none) */
};

static void looks(struct ward_drill_record *r, size_t a, const struct script *sc, double t_end)
{
	unsigned n = 0;

	for (double t = 0; t < t_end; t += 100, n++) {
		struct ward_drill_sample s = {.t = t + (double)a,
					      .t_seen = t + (double)a + 5,
					      .ok = true,
					      .has_svid = true,
					      .wall = 100000,
					      .not_after = 200000,
					      .wl_connected = 1};

		if (t >= sc->dark_from && t < sc->dark_to) {
			s.ok = false;
			snprintf(r->agent_error[a], sizeof(r->agent_error[0]),
				 "/certs: connect_refused: connection refused");
			must(ward_drill_record_sample(r, a, &s));
			continue;
		}
		for (size_t k = 0; k < 4 && sc->svid[k]; k++)
			if (t >= sc->svid_at[k])
				s.serial = ward_drill_intern(r, sc->svid[k]);
		s.bundle[s.n_bundle++] = ward_drill_intern(r, "ca-old");
		for (size_t k = 0; k < 4 && sc->ca[k]; k++)
			if (t >= sc->ca_at[k])
				s.bundle[s.n_bundle++] = ward_drill_intern(r, sc->ca[k]);
		if (sc->expired_from && t >= sc->expired_from)
			s.not_after = 99999;
		if (sc->hs_fail_at && n >= sc->hs_fail_at)
			s.hs_fail[ward_metrics_reason("unknown_ca")] = 1;
		s.hs_count = n;
		s.hs_sum_s = n * 0.001;
		must(ward_drill_record_sample(r, a, &s));
	}
	snprintf(r->agent_id[a], sizeof(r->agent_id[0]), "spiffe://example.org/agent-%zu", a);
}

/* A new connection every 50 ms, 2 ms each (3 ms at every tenth). */
static void load(struct ward_drill_record *r, double t_end)
{
	unsigned i = 0;

	for (double t = 0; t < t_end; t += 50, i++)
		must(ward_drill_record_req(r, t, t + (i % 10 == 9 ? 3 : 2), WARD_DRILL_OK, 0));
	must(ward_drill_record_alive(r, 0, 0));
	must(ward_drill_record_alive(r, 30, 2));
	r->long_opened = 2;
}

static struct ward_drill_action *act(struct ward_drill_record *r, enum ward_drill_kind kind,
				     double t, double done, const char *ca, double activated)
{
	struct ward_drill_action *a = &r->actions[r->n_actions++];

	a->kind = kind;
	a->t_trigger = t;
	a->t_done = done;
	a->ok = true;
	a->new_ca = ca ? ward_drill_intern(r, ca) : -1;
	a->reply = json_pack("{s:b,s:f,s:s}", "ok", 1, "activated_ms", activated, "summary",
			     "prepared CA; bundle sent to 2 of 2 streams in 1.0 ms; activated");
	return a;
}

static const json_t *failures(const json_t *report)
{
	return ward_drill_get(report, "verdict.failures");
}

static bool failure_with(const json_t *report, const char *text)
{
	const json_t *f;
	size_t i;

	json_array_foreach(failures(report), i,
			   f) if (strstr(json_string_value(f), text)) return true;
	return false;
}

static void expect_failure(const json_t *report, const char *text)
{
	if (!failure_with(report, text)) {
		char *dump = json_dumps(failures(report), JSON_INDENT(1));

		fail_msg("no failure with \"%s\" in %s", text, dump);
	}
}

/* A clean forced drill: svids at 1 s, a CA at 3 s whose bundle arrives at
 * 3.1 s and SVIDs (after a 500 ms grace) at 3.6 s. PASS. */
static json_t *clean_forced(struct ward_drill_record *r)
{
	struct script sc = {.svid = {"s1", "s2", "s3"},
			    .svid_at = {0, 1100, 3600},
			    .ca = {"ca-new"},
			    .ca_at = {3100}};

	opts_for(2, true);
	ward_drill_record_init(r);
	r->t_end = 6000;
	looks(r, 0, &sc, r->t_end);
	looks(r, 1, &sc, r->t_end);
	load(r, r->t_end);
	act(r, WARD_DRILL_SVIDS, 1000, 1050, NULL, 0);
	act(r, WARD_DRILL_CA, 3000, 3560, "ca-new", 550);
	return ward_drill_report(r, &opts);
}

static void test_clean_drill_passes(void **state)
{
	struct ward_drill_record r;
	json_t *report = clean_forced(&r), *rot;
	const json_t *lat;

	assert_non_null(report);
	if (!ward_drill_report_passed(report))
		fail_msg("%s", json_dumps(failures(report), 0));
	assert_int_equal(json_array_size(ward_drill_get(report, "rotations")), 2);
	rot = json_array_get(ward_drill_get(report, "rotations"), 1);
	assert_string_equal(json_string_value(json_object_get(rot, "kind")), "ca");
	assert_string_equal(json_string_value(json_object_get(rot, "new_ca")), "ca-new");
	/* Agent 1 looks 1 ms after agent 0: the slowest is 601 ms. */
	assert_true(fabs(json_real_value(json_object_get(rot, "propagation_ms")) - 601) < 0.01);
	assert_true(json_is_true(json_object_get(rot, "reached_all")));
	assert_true(fabs(json_real_value(ward_drill_get(
			     json_array_get(json_object_get(rot, "agents"), 0), "bundle_ms")) -
			 100) < 0.01);
	/* Every bundle held it by 3106 (agent 1's answer); no new SVID was served
	 * before 3505 (agent 0's last answer without one). */
	assert_true(fabs(json_real_value(json_object_get(rot, "bundle_first_by_ms")) - 399) < 0.01);
	/* The window's load: requests started in [3000, 6000). */
	assert_int_equal(json_integer_value(ward_drill_get(rot, "requests.ok")), 60);
	lat = ward_drill_get(rot, "latency_ms.before");
	/* From the end of the rotation before (agent 1 had its SVID at 1101). */
	assert_int_equal(json_integer_value(json_object_get(lat, "n")), 37);
	assert_true(fabs(json_real_value(json_object_get(lat, "p50")) - 2) < 0.01);
	assert_true(fabs(json_real_value(json_object_get(lat, "p99")) - 3) < 0.01);
	assert_int_equal(json_integer_value(ward_drill_get(report, "totals.requests.ok")), 120);
	assert_int_equal(json_array_size(ward_drill_get(report, "timeline.ok")), 60);
	assert_int_equal(json_array_size(ward_drill_get(report, "requests")), 120);
	json_decref(report);
	ward_drill_record_free(&r);
}

/* Every broken condition, each in its own sentence. */
static void test_broken_drill_fails(void **state)
{
	struct script good = {.svid = {"s1", "s2"},
			      .svid_at = {0, 3700},
			      .ca = {"ca-new"},
			      .ca_at = {3100},
			      .hs_fail_at = 35},
		      pinned = {.svid = {"p1", "p2"},
				.svid_at = {0, 3700},
				.dark_from = 4000,
				.dark_to = 7000,
				.expired_from = 8000};
	struct ward_drill_record r;
	json_t *report;
	char *html;

	opts_for(2, true);
	ward_drill_record_init(&r);
	r.t_end = 9000;
	looks(&r, 0, &good, r.t_end);
	looks(&r, 1, &pinned, r.t_end); /* never learns ca-new, then goes dark, then expires */
	load(&r, r.t_end);
	must(ward_drill_record_req(&r, 3650, 3651, WARD_DRILL_RESET, 0));
	must(ward_drill_record_req(&r, 3660, 5660, WARD_DRILL_TIMEOUT, 0));
	must(ward_drill_record_drop(&r, 3700, 1, WARD_DRILL_RESET));
	act(&r, WARD_DRILL_CA, 3000, 3560, "ca-new", 550);
	act(&r, WARD_DRILL_ROOT, 6000, 6100, NULL, 0)->ok = false;
	snprintf(r.actions[1].error, sizeof(r.actions[1].error),
		 "rotate root: the trust anchor is "
		 "the upstream CA's");
	r.interrupted = true;
	report = ward_drill_report(&r, &opts);
	assert_false(ward_drill_report_passed(report));
	expect_failure(report, "2 of 182 new connections failed (1 reset, 1 timeout)");
	expect_failure(report, "1 long-lived connection dropped (1 reset)");
	expect_failure(report, "1 TLS handshake failed at the agents (1 unknown_ca)");
	expect_failure(report,
		       "rotation 1 (ca) did not reach every agent within 5.0 s: 10.0.0.2:15020 "
		       "never trusted the new CA");
	expect_failure(report,
		       "step 2 (root) failed: rotate root: the trust anchor is the upstream");
	expect_failure(report, "agent 10.0.0.2:15020 could not be watched for 3.1 s (last error: "
			       "/certs: connect_refused: connection refused)");
	expect_failure(report, "agent 10.0.0.2:15020 served an expired SVID (serial p2, not after "
			       "99999) at +8.0 s");
	expect_failure(report, "the drill was interrupted at +9.0 s");
	assert_int_equal(json_array_size(failures(report)), 8);
	html = render(report, ward_drill_html, false);
	assert_int_equal(count(html, "class=\"marker agent-missed\""), 1);
	assert_non_null(strstr(html, "10.0.0.2:15020 was not reached"));
	free(html);
	json_decref(report);
	ward_drill_record_free(&r);

	/* A rotation that reaches everyone, too late. */
	opts_for(1, true);
	opts.max_propagation_ms = 300;
	ward_drill_record_init(&r);
	r.t_end = 4000;
	looks(&r, 0, &(struct script){.svid = {"a", "b"}, .svid_at = {0, 1500}}, r.t_end);
	load(&r, r.t_end);
	act(&r, WARD_DRILL_SVIDS, 1000, 1100, NULL, 0);
	report = ward_drill_report(&r, &opts);
	expect_failure(report, "rotation 1 (svids) did not reach every agent within 0.3 s: "
			       "10.0.0.1:15020 new SVID after 0.5 s");
	json_decref(report);
	ward_drill_record_free(&r);
}

/* A CA rotation whose new SVIDs come with the bundle (ward server before
 * forced rotations prepared first): a window, found even without the
 * server naming the CA. */
static void test_window_fails(void **state)
{
	struct script both = {
	    .svid = {"s1", "s2"}, .svid_at = {0, 3100}, .ca = {"ca-new"}, .ca_at = {3100}};
	struct ward_drill_record r;
	json_t *report, *rot;

	opts_for(2, true);
	ward_drill_record_init(&r);
	r.t_end = 5000;
	looks(&r, 0, &both, r.t_end);
	looks(&r, 1, &both, r.t_end);
	load(&r, r.t_end);
	act(&r, WARD_DRILL_CA, 3000, 3050, NULL, 0);
	report = ward_drill_report(&r, &opts);
	rot = json_array_get(ward_drill_get(report, "rotations"), 0);
	assert_string_equal(json_string_value(json_object_get(rot, "new_ca")), "ca-new");
	assert_true(json_is_true(json_object_get(rot, "reached_all")));
	expect_failure(report, "rotation 1 (ca) left a window: an agent may have served an SVID "
			       "from the new CA 101 ms before every agent trusted it");
	assert_int_equal(json_array_size(failures(report)), 1);
	json_decref(report);
	ward_drill_record_free(&r);
}

/* Nothing seen at all: a drill that cannot vouch for anything fails. */
static void test_empty_record_fails(void **state)
{
	struct ward_drill_record r;
	json_t *report;

	opts_for(1, false);
	ward_drill_record_init(&r);
	r.t_end = 2500;
	report = ward_drill_report(&r, &opts);
	assert_non_null(report);
	assert_false(ward_drill_report_passed(report));
	expect_failure(report, "agent 10.0.0.1:15020 could not be watched for 2.5 s");
	expect_failure(report, "no new connection was made");
	expect_failure(report, "no long-lived connection was ever established");
	assert_int_equal(json_array_size(ward_drill_get(report, "rotations")), 0);
	json_decref(report);
	ward_drill_record_free(&r);
}

/* Observing (files, SPIRE): each SVID change is a rotation of its agent; a
 * CA that joins the bundles must reach every agent in time. */
static void test_observed_rotations(void **state)
{
	struct ward_drill_record r;
	json_t *report, *rot;

	opts_for(2, false);
	opts.max_propagation_ms = 1000;
	ward_drill_record_init(&r);
	r.t_end = 8000;
	looks(&r, 0,
	      &(struct script){
		  .svid = {"a1", "a2"}, .svid_at = {0, 2000}, .ca = {"ca-next"}, .ca_at = {4000}},
	      r.t_end);
	looks(&r, 1,
	      &(struct script){
		  .svid = {"b1", "b2"}, .svid_at = {0, 2500}, .ca = {"ca-next"}, .ca_at = {5500}},
	      r.t_end);
	load(&r, r.t_end);
	report = ward_drill_report(&r, &opts);
	assert_int_equal(json_array_size(ward_drill_get(report, "rotations")), 3);
	rot = json_array_get(ward_drill_get(report, "rotations"), 0);
	assert_string_equal(json_string_value(json_object_get(rot, "kind")), "svid");
	assert_int_equal(json_array_size(json_object_get(rot, "agents")), 1);
	rot = json_array_get(ward_drill_get(report, "rotations"), 2);
	assert_string_equal(json_string_value(json_object_get(rot, "kind")), "bundle");
	assert_string_equal(json_string_value(json_object_get(rot, "new_ca")), "ca-next");
	assert_true(fabs(json_real_value(json_object_get(rot, "propagation_ms")) - 1501) < 0.01);
	expect_failure(report, "rotation 3 (bundle) did not reach every agent within 1.0 s: "
			       "10.0.0.2:15020 trusted the new CA after 1.5 s");
	assert_int_equal(json_array_size(failures(report)), 1);
	json_decref(report);
	ward_drill_record_free(&r);
}

/* ---- made from the report ------------------------------------------------------ */

static char *render(const json_t *report, int (*fn)(const json_t *, FILE *), bool text)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	if (text)
		ward_drill_text(report, f);
	else
		assert_int_equal(fn(report, f), 0);
	fclose(f);
	return out;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_summary_and_html(void **state)
{
	struct ward_drill_record r;
	json_t *report = clean_forced(&r);
	char *text = render(report, NULL, true), *html = render(report, ward_drill_html, false);

	assert_non_null(strstr(text, "ward drill: PASS"));
	assert_non_null(strstr(text, "120 new connections: 120 ok, 0 failed"));
	assert_non_null(strstr(text, "(bundles first by 399 ms)"));
	assert_non_null(strstr(html, "<!DOCTYPE html>"));
	assert_non_null(strstr(html, "<svg id=\"timeline\""));
	assert_non_null(strstr(html, "class=\"pass\">PASS"));
	/* A line per rotation; per rotation per agent a new-SVID marker, and a
	 * new-CA marker for the CA rotation. */
	assert_int_equal(count(html, "class=\"marker rotation\""), 2);
	assert_int_equal(count(html, "class=\"marker agent-svid\""), 4);
	assert_int_equal(count(html, "class=\"marker agent-ca\""), 2);
	/* Self-contained: no script, nothing fetched. */
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "href="));
	assert_int_equal(count(html, "http://"), 1); /* the SVG namespace, never fetched */
	free(text);
	free(html);
	json_decref(report);
	ward_drill_record_free(&r);

	/* What agents and servers say is escaped on the page. */
	opts_for(1, true);
	strcpy(opts.agent_text[0], "<script>x</script>");
	ward_drill_record_init(&r);
	r.t_end = 3000;
	looks(&r, 0, &(struct script){.svid = {"a"}, .dark_from = 0, .dark_to = 3000}, r.t_end);
	snprintf(r.agent_error[0], sizeof(r.agent_error[0]), "<img src=x onerror=alert(1)>");
	report = ward_drill_report(&r, &opts);
	html = render(report, ward_drill_html, false);
	text = render(report, NULL, true);
	assert_non_null(strstr(text, "ward drill: FAIL"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_non_null(strstr(html, "&lt;script&gt;x&lt;/script&gt;"));
	assert_non_null(strstr(html, "<ul id=\"failures\">"));
	free(text);
	free(html);
	json_decref(report);
	ward_drill_record_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),	       cmocka_unit_test(test_plans),
	    cmocka_unit_test(test_faults_and_targets), cmocka_unit_test(test_command_lines),
	    cmocka_unit_test(test_agent_answers),      cmocka_unit_test(test_clean_drill_passes),
	    cmocka_unit_test(test_broken_drill_fails), cmocka_unit_test(test_window_fails),
	    cmocka_unit_test(test_empty_record_fails), cmocka_unit_test(test_observed_rotations),
	    cmocka_unit_test(test_summary_and_html),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
