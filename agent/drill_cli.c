/* `ward drill` on the command line: the flags (drill_opts.c), a check that
 * every agent and the admin socket answer, the drill itself on one loop
 * (watch, load, actions), a live line on a terminal, then the outputs and
 * the exit status. See drill.h. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "agent/cli.h"
#include "agent/drill.h"
#include "agent/drill_act.h"
#include "agent/drill_load.h"
#include "agent/drill_watch.h"
#include "lib/file.h"

#define PREFLIGHT_MS 3000
#define PROGRESS_MS 250
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

enum stage { PREFLIGHT, RUNNING, STOPPING, STOPPED };

struct drill {
	uv_loop_t loop;
	struct ward_drill_opts o;
	struct ward_drill_record rec;
	uint64_t t0_ns;
	enum stage stage;
	struct ward_drill_watch *watch;
	struct ward_drill_load *load;
	struct ward_drill_act *act;
	uv_timer_t timer;
	uv_signal_t sig_int, sig_term;
	bool seen[WARD_DRILL_MAX_AGENTS]; /* an answer with an SVID came */
	bool act_checked, act_ok;
	char act_error[300];
	double end_ms; /* 0: not known yet (steps under way) */
	int stopping;  /* pieces not yet stopped */
	bool progress;
	double progress_ms; /* when the line was last drawn */
	int exit_code;
};

static double now_ms(const struct drill *d)
{
	return (double)(uv_hrtime() - d->t0_ns) / 1e6;
}

static void stop(struct drill *d);

/* ---- preflight -------------------------------------------------------------- */

static void on_sample(void *arg, size_t agent, const struct ward_drill_sample *s)
{
	struct drill *d = arg;

	if (s->ok && s->has_svid)
		d->seen[agent] = true;
}

static void on_act_checked(void *arg, bool ok)
{
	struct drill *d = arg;

	d->act_checked = true;
	d->act_ok = ok;
	if (!ok)
		snprintf(d->act_error, sizeof(d->act_error), "%s", ward_err_msg());
}

static void fail_preflight(struct drill *d, const char *why)
{
	fprintf(stderr, "ward drill: %s\n", why);
	d->exit_code = EXIT_USAGE;
	stop(d);
}

static void on_finished(void *arg);

/* Every agent answered with an SVID and the steps can be taken: go. */
static void begin(struct drill *d)
{
	double first;

	d->stage = RUNNING;
	if (ward_drill_load_start(&d->loop, &d->o, &d->rec, d->t0_ns, &d->load) < 0) {
		fprintf(stderr, "ward drill: %s\n", ward_err_msg());
		d->exit_code = EXIT_FAIL;
		return stop(d);
	}
	first = now_ms(d) + (double)d->o.warmup_ms;
	if (!d->o.server_admin)
		first = fmax(first, (double)d->o.duration_ms / 2);
	if (d->o.n_steps == 0)
		d->end_ms = fmax((double)d->o.duration_ms, now_ms(d) + (double)d->o.warmup_ms);
	else
		ward_drill_act_run(d->act, first, on_finished, d);
}

static void preflight(struct drill *d)
{
	char why[512];
	bool all = true;

	for (size_t i = 0; i < d->o.n_agents; i++)
		all &= d->seen[i];
	if (d->act_checked && !d->act_ok)
		return fail_preflight(d, d->act_error);
	if (all && d->act_checked)
		return begin(d);
	if (now_ms(d) < PREFLIGHT_MS)
		return;
	for (size_t i = 0; i < d->o.n_agents; i++) {
		if (d->seen[i])
			continue;
		if (d->rec.agent_error[i][0])
			snprintf(why, sizeof(why),
				 "agent %s does not answer: %s (is it running? --agent takes its "
				 "admin.listen address)",
				 d->o.agent_text[i], d->rec.agent_error[i]);
		else
			snprintf(why, sizeof(why), "agent %s has no SVID loaded yet",
				 d->o.agent_text[i]);
		return fail_preflight(d, why);
	}
	fail_preflight(d, "--server-admin: no answer within 3 s");
}

/* ---- running ---------------------------------------------------------------- */

/* The last step is done: the drill ends after the cool-down, and never
 * before every rotation had --max-propagation to reach every agent. */
static void on_finished(void *arg)
{
	struct drill *d = arg;
	double last = d->rec.n_actions ? d->rec.actions[d->rec.n_actions - 1].t_trigger : 0;

	d->end_ms = fmax(now_ms(d) + (double)d->o.cooldown_ms, (double)d->o.duration_ms);
	d->end_ms = fmax(d->end_ms, last + (double)d->o.max_propagation_ms + 200);
}

static void progress(struct drill *d, bool last)
{
	struct ward_drill_load_counts c = {0};
	unsigned seen = 0;

	if (!d->progress || d->stage == PREFLIGHT ||
	    (!last && now_ms(d) - d->progress_ms < PROGRESS_MS))
		return;
	d->progress_ms = now_ms(d);
	if (d->load)
		ward_drill_load_counts(d->load, &c);
	for (size_t i = 0; i < d->o.n_agents; i++) {
		size_t n = d->rec.n_samples[i];

		seen += n && d->rec.samples[i][n - 1].ok;
	}
	fprintf(stderr,
		"\r\033[K[%6.1fs] new %llu ok %llu failed | long %u/%u alive, %llu dropped "
		"| agents %u/%zu | %s",
		now_ms(d) / 1000, c.ok, c.failed, c.alive, c.n_long, c.dropped, seen, d->o.n_agents,
		d->act ? ward_drill_act_status(d->act) : "");
	if (last)
		fputc('\n', stderr);
}

static void on_timer(uv_timer_t *t)
{
	struct drill *d = t->data;

	if (d->stage == PREFLIGHT)
		return preflight(d);
	if (d->stage == RUNNING) {
		progress(d, false);
		if (d->end_ms > 0 && now_ms(d) >= d->end_ms)
			stop(d);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct drill *d = s->data;

	if (d->stage == RUNNING || d->stage == PREFLIGHT) {
		d->rec.interrupted = d->stage == RUNNING;
		if (d->stage == PREFLIGHT)
			d->exit_code = EXIT_USAGE;
		stop(d);
	}
}

/* ---- stopping ---------------------------------------------------------------- */

static void stopped_one(void *arg)
{
	struct drill *d = arg;

	if (--d->stopping > 0)
		return;
	d->stage = STOPPED;
	uv_close((uv_handle_t *)&d->timer, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
}

/* The load goes first (its last connections finish), then the actions and
 * the watch: the record's end is when the load stopped. */
static void load_stopped(void *arg)
{
	struct drill *d = arg;

	d->rec.t_end = now_ms(d);
	d->load = NULL;
	if (d->act)
		ward_drill_act_stop(d->act, stopped_one, d);
	if (d->watch)
		ward_drill_watch_stop(d->watch, stopped_one, d);
	d->act = NULL;
	d->watch = NULL;
	stopped_one(d);
}

static void stop(struct drill *d)
{
	if (d->stage == STOPPING || d->stage == STOPPED)
		return;
	progress(d, true);
	d->stage = STOPPING;
	d->stopping = 1 + (d->act != NULL) + (d->watch != NULL);
	if (d->load)
		ward_drill_load_stop(d->load, load_stopped, d);
	else
		load_stopped(d);
}

/* ---- outputs ------------------------------------------------------------------ */

static int write_file(const char *path, const char *data, size_t len)
{
	if (ward_file_write_atomic(path, data, len, 0644) < 0) {
		fprintf(stderr, "ward drill: %s: %s\n", path, ward_err_msg());
		return -1;
	}
	return 0;
}

static int outputs(const struct drill *d, const json_t *report)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 0;

	ward_drill_text(report, stdout);
	fflush(stdout);
	if (d->o.json_path) {
		text = json_dumps(report, JSON_COMPACT);
		rc |= text ? write_file(d->o.json_path, text, strlen(text)) : -1;
		free(text);
	}
	if (d->o.html_path) {
		f = open_memstream(&text, &len);
		rc |= f && ward_drill_html(report, f) == 0 && fflush(f) == 0 ? 0 : -1;
		if (f)
			fclose(f);
		rc |= rc == 0 ? write_file(d->o.html_path, text, len) : -1;
		free(text);
		if (rc == 0)
			printf("  html       %s\n", d->o.html_path);
	}
	if (d->o.json_path && rc == 0)
		printf("  json       %s\n", d->o.json_path);
	return rc;
}

static int finish(struct drill *d)
{
	json_t *report;

	if (d->exit_code == EXIT_USAGE)
		return EXIT_USAGE;
	report = ward_drill_report(&d->rec, &d->o);
	if (!report) {
		fprintf(stderr, "ward drill: out of memory building the report\n");
		return EXIT_FAIL;
	}
	if (outputs(d, report) < 0)
		d->exit_code = EXIT_FAIL;
	else if (d->exit_code == EXIT_PASS && !ward_drill_report_passed(report))
		d->exit_code = EXIT_FAIL;
	json_decref(report);
	return d->exit_code;
}

static void signal_start(struct drill *d, uv_signal_t *s, int signum)
{
	uv_signal_init(&d->loop, s);
	s->data = d;
	uv_signal_start(s, on_signal, signum);
}

static int run(struct drill *d)
{
	struct timespec ts;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&d->loop);
	ward_drill_record_init(&d->rec);
	clock_gettime(CLOCK_REALTIME, &ts);
	d->rec.wall_start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	d->t0_ns = uv_hrtime();
	d->progress = d->o.progress == 1 || (d->o.progress == -1 && isatty(STDERR_FILENO));
	uv_timer_init(&d->loop, &d->timer);
	d->timer.data = d;
	signal_start(d, &d->sig_int, SIGINT);
	signal_start(d, &d->sig_term, SIGTERM);
	rc = ward_drill_watch_start(&d->loop, &d->o, &d->rec, d->t0_ns, on_sample, d, &d->watch);
	if (rc == 0)
		rc = ward_drill_act_new(&d->loop, &d->o, &d->rec, d->t0_ns, on_act_checked, d,
					&d->act);
	if (rc < 0) {
		fprintf(stderr, "ward drill: %s\n", ward_err_msg());
		d->exit_code = EXIT_USAGE;
		stop(d);
	} else {
		uv_timer_start(&d->timer, on_timer, 50, 50);
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
	rc = finish(d);
	ward_drill_record_free(&d->rec);
	return rc;
}

int ward_drill_main(int argc, char **argv)
{
	struct drill *d = calloc(1, sizeof(*d));
	bool help;
	int rc;

	if (!d) {
		fprintf(stderr, "ward drill: out of memory\n");
		return EXIT_FAIL;
	}
	if (ward_drill_opts_parse(argc, argv, &d->o, &help) < 0) {
		fprintf(stderr, "ward drill: %s\n(ward drill --help lists the options)\n",
			ward_err_msg());
		free(d);
		return EXIT_USAGE;
	}
	if (help) {
		ward_drill_usage(stdout);
		free(d);
		return EXIT_PASS;
	}
	rc = run(d);
	free(d);
	return rc;
}
