/* The drill's rotations and faults; see drill_act.h. */
#include "agent/drill_act.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/drill_server.h"
#include "lib/jsonline.h"

#define POLL_MS 20
#define SETTLE_MS 1000	    /* after a step is done, before the next may start */
#define KILL_AFTER_MS 10000 /* a server that ignores SIGTERM this long gets SIGKILL */

enum phase { IDLE, WAITING, ROTATING, STOPPING, DOWN, STARTING, RECONNECTING, FINISHED };

struct ward_drill_act {
	uv_loop_t *loop;
	const struct ward_drill_opts *o;
	struct ward_drill_record *rec;
	uint64_t t0_ns;
	uv_timer_t timer;
	struct ward_jsonline *call; /* under way, or NULL */
	enum phase phase;
	size_t next; /* the next step */
	struct ward_drill_action *cur;
	double phase_ms;
	struct ward_drill_server server; /* the process faults stop and start */
	bool was_connected[WARD_DRILL_MAX_AGENTS];
	char status[160];
	void (*checked)(void *arg, bool ok);
	void (*finished)(void *arg);
	void *arg;
	struct ward_drill_life life; /* open: the timer and a call under way */
};

static double now_ms(const struct ward_drill_act *a)
{
	return (double)(uv_hrtime() - a->t0_ns) / 1e6;
}

static void step_next(struct ward_drill_act *a);

static void put(struct ward_drill_act *a)
{
	if (!ward_drill_life_put(&a->life))
		return;
	ward_drill_server_free(&a->server);
	free(a);
}

/* A call's answer is in (it held a reference): false when the drill is
 * stopping, and a may then be gone. */
static bool answered(struct ward_drill_act *a)
{
	bool stopping = a->life.stopping;

	a->call = NULL;
	put(a);
	return !stopping;
}

static int call(struct ward_drill_act *a, json_t *req, unsigned timeout_ms, ward_jsonline_cb cb)
{
	int rc =
	    req ? ward_jsonline_call(a->loop, a->o->server_admin, req, timeout_ms, cb, a, &a->call)
		: ward_err_set(WARD_ERR_NOMEM, "drill: out of memory");

	json_decref(req);
	return rc;
}

/* ---- steps ----------------------------------------------------------------- */

static void set_phase(struct ward_drill_act *a, enum phase p)
{
	a->phase = p;
	a->phase_ms = now_ms(a);
}

static void step_done(struct ward_drill_act *a, bool ok, const char *error)
{
	struct ward_drill_action *cur = a->cur;

	cur->t_done = now_ms(a);
	cur->ok = ok;
	if (error)
		snprintf(cur->error, sizeof(cur->error), "%s", error);
	a->cur = NULL;
	set_phase(a, IDLE);
	step_next(a);
}

static void on_rotated(void *arg, json_t *reply, const char *error)
{
	struct ward_drill_act *a = arg;
	struct ward_drill_action *cur = a->cur;
	const char *serial, *why;

	if (!answered(a) || !cur) {
		json_decref(reply);
		return;
	}
	cur->reply = reply;
	if (!reply)
		return step_done(a, false, error);
	why = json_string_value(json_object_get(reply, "error"));
	serial = json_string_value(json_object_get(json_object_get(reply, "prepared"), "serial"));
	if (serial)
		cur->new_ca = ward_drill_intern(a->rec, serial);
	if (json_is_true(json_object_get(reply, "ok")))
		return step_done(a, true, NULL);
	step_done(a, false, why ? why : "the server's reply is not ok and gives no error");
}

static void rotate(struct ward_drill_act *a)
{
	json_t *req =
	    json_pack("{s:s,s:s}", "command", "rotate", "what", ward_drill_kind_name(a->cur->kind));

	set_phase(a, ROTATING);
	if (call(a, req, WARD_DRILL_ROTATE_TIMEOUT_MS, on_rotated) < 0)
		return step_done(a, false, ward_err_msg());
	a->life.open++;
}

/* Every agent whose Workload API stream was up before the fault is up
 * again, in a sample taken after the server came back. */
static bool reconnected(const struct ward_drill_act *a, char *who, size_t len)
{
	for (size_t i = 0; i < a->o->n_agents; i++) {
		size_t n = a->rec->n_samples[i];
		const struct ward_drill_sample *s = n ? &a->rec->samples[i][n - 1] : NULL;

		if (!a->was_connected[i])
			continue;
		if (!s || s->t < a->cur->t_up || s->wl_connected != 1) {
			snprintf(who, len, "%s", a->o->agent_text[i]);
			return false;
		}
	}
	return true;
}

static void on_admin_answer(void *arg, json_t *reply, const char *error)
{
	struct ward_drill_act *a = arg;
	bool ok = reply && json_is_true(json_object_get(reply, "ok"));

	json_decref(reply);
	if (answered(a) && a->cur && ok)
		set_phase(a, RECONNECTING);
}

static void fail_wait(struct ward_drill_act *a, const char *who)
{
	char why[200];

	if (a->phase == STARTING)
		snprintf(why, sizeof(why), "ward server's admin socket did not answer within %d s",
			 WARD_DRILL_RECONNECT_MS / 1000);
	else
		snprintf(why, sizeof(why),
			 "agent %s did not reconnect to the Workload API within %d s", who,
			 WARD_DRILL_RECONNECT_MS / 1000);
	step_done(a, false, why);
}

static void poll_server(struct ward_drill_act *a)
{
	char who[80] = "";

	if (a->phase == STOPPING && ward_drill_server_gone(&a->server)) {
		a->cur->t_down = now_ms(a);
		set_phase(a, DOWN);
	} else if (a->phase == STOPPING && now_ms(a) - a->phase_ms > KILL_AFTER_MS) {
		kill(a->server.pid, SIGKILL);
	}
	if (a->phase == DOWN && (a->cur->kind == WARD_DRILL_RESTART ||
				 now_ms(a) - a->cur->t_down >= (double)a->cur->down_ms)) {
		if (ward_drill_server_start(&a->server, a->loop) < 0)
			return step_done(a, false, ward_err_msg());
		a->rec->server_pid = a->server.pid;
		a->cur->t_up = now_ms(a);
		/* Without the admin socket, the agents' reconnection tells. */
		set_phase(a, a->o->server_admin ? STARTING : RECONNECTING);
	}
	if (a->phase == STARTING && !a->call &&
	    call(a, json_pack("{s:s}", "command", "cas"), 1000, on_admin_answer) == 0)
		a->life.open++;
	if (a->phase == RECONNECTING && reconnected(a, who, sizeof(who)))
		return step_done(a, true, NULL);
	if ((a->phase == STARTING || a->phase == RECONNECTING) &&
	    now_ms(a) - a->cur->t_up > WARD_DRILL_RECONNECT_MS)
		fail_wait(a, who);
}

static void fault(struct ward_drill_act *a)
{
	for (size_t i = 0; i < a->o->n_agents; i++) {
		size_t n = a->rec->n_samples[i];

		a->was_connected[i] = n && a->rec->samples[i][n - 1].wl_connected == 1;
	}
	a->cur->down_ms = a->o->steps[a->next - 1].down_ms;
	if (kill(a->server.pid, SIGTERM) < 0 && errno != ESRCH)
		return step_done(a, false, strerror(errno));
	set_phase(a, STOPPING);
}

static void on_timer(uv_timer_t *t)
{
	struct ward_drill_act *a = t->data;

	if (a->phase == WAITING && now_ms(a) >= a->phase_ms) {
		struct ward_drill_action *cur = &a->rec->actions[a->rec->n_actions++];

		cur->kind = a->o->steps[a->next++].kind;
		cur->t_trigger = now_ms(a);
		a->cur = cur;
		if (cur->kind == WARD_DRILL_API_DOWN || cur->kind == WARD_DRILL_RESTART)
			fault(a);
		else
			rotate(a);
		return;
	}
	if (a->phase >= STOPPING && a->phase <= RECONNECTING)
		poll_server(a);
}

static void step_next(struct ward_drill_act *a)
{
	const struct ward_drill_action *prev =
	    a->rec->n_actions ? &a->rec->actions[a->rec->n_actions - 1] : NULL;
	double at = a->phase_ms;

	if (a->life.stopping)
		return;
	if (a->next >= a->o->n_steps) {
		set_phase(a, FINISHED);
		uv_timer_stop(&a->timer);
		if (a->finished)
			a->finished(a->arg);
		return;
	}
	if (prev) {
		at = prev->t_trigger + (double)a->o->interval_ms;
		if (at < prev->t_done + SETTLE_MS)
			at = prev->t_done + SETTLE_MS;
	}
	a->phase = WAITING;
	a->phase_ms = at; /* WAITING: when the step is due */
}

const char *ward_drill_act_status(const struct ward_drill_act *a)
{
	struct ward_drill_act *m = (struct ward_drill_act *)a;
	const char *kind = a->cur ? ward_drill_kind_name(a->cur->kind) : "";
	double in = now_ms(a) - a->phase_ms;

	switch (a->phase) {
	case ROTATING:
		snprintf(m->status, sizeof(m->status), "step %zu/%zu: rotating %s", a->next,
			 a->o->n_steps, kind);
		break;
	case STOPPING:
	case DOWN:
		snprintf(m->status, sizeof(m->status), "step %zu/%zu: ward server down %.1fs",
			 a->next, a->o->n_steps,
			 a->phase == DOWN ? (now_ms(a) - a->cur->t_down) / 1000 : 0.0);
		break;
	case STARTING:
	case RECONNECTING:
		snprintf(m->status, sizeof(m->status), "step %zu/%zu: waiting for agents %.1fs",
			 a->next, a->o->n_steps, in / 1000);
		break;
	case WAITING:
		snprintf(m->status, sizeof(m->status), "next: %s in %.1fs",
			 ward_drill_kind_name(a->o->steps[a->next].kind), -in / 1000);
		break;
	default:
		m->status[0] = '\0';
	}
	return a->status;
}

/* ---- life ------------------------------------------------------------------ */

static void on_checked(void *arg, json_t *reply, const char *error)
{
	struct ward_drill_act *a = arg;
	bool ok = reply && json_is_true(json_object_get(reply, "ok"));

	json_decref(reply);
	if (!answered(a))
		return;
	if (!ok)
		ward_err_set(WARD_ERR_IO, "--server-admin %s: %s", a->o->server_admin,
			     error ? error : "the server refused a listing");
	else if (a->o->server_pid && ward_drill_server_capture(&a->server, a->o->server_pid) < 0)
		ok = false;
	a->checked(a->arg, ok);
}

static void nothing(void *arg)
{
}

static void checked_later(uv_timer_t *t)
{
	struct ward_drill_act *a = t->data;
	bool ok = !a->o->server_pid || ward_drill_server_capture(&a->server, a->o->server_pid) == 0;

	uv_timer_stop(t);
	a->checked(a->arg, ok);
}

int ward_drill_act_new(uv_loop_t *loop, const struct ward_drill_opts *o,
		       struct ward_drill_record *rec, uint64_t t0_ns,
		       void (*checked)(void *arg, bool ok), void *arg, struct ward_drill_act **out)
{
	struct ward_drill_act *a = calloc(1, sizeof(*a));

	ENSURE(a, WARD_ERR_NOMEM, "drill: out of memory");
	*a = (struct ward_drill_act){.loop = loop,
				     .o = o,
				     .rec = rec,
				     .t0_ns = t0_ns,
				     .checked = checked,
				     .arg = arg,
				     .life.open = 1};
	rec->server_pid = o->server_pid;
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	*out = a;
	if (!o->server_admin) {
		uv_timer_start(&a->timer, checked_later, 0, 0);
		return 0;
	}
	if (call(a, json_pack("{s:s}", "command", "cas"), 5000, on_checked) == 0) {
		a->life.open++;
		return 0;
	}
	*out = NULL;
	ward_drill_act_stop(a, nothing, NULL); /* a goes once its timer closed */
	return ward_err_prefix(WARD_ERR_INVALID, "--server-admin");
}

void ward_drill_act_run(struct ward_drill_act *a, double first_ms, void (*finished)(void *arg),
			void *arg)
{
	a->finished = finished;
	a->arg = arg;
	a->phase_ms = first_ms;
	step_next(a);
	uv_timer_start(&a->timer, on_timer, POLL_MS, POLL_MS);
}

static void on_timer_closed(uv_handle_t *h)
{
	put(h->data);
}

void ward_drill_act_stop(struct ward_drill_act *a, void (*done)(void *arg), void *arg)
{
	if (!ward_drill_life_stop(&a->life, done, arg))
		return;
	if (a->cur) {
		a->cur->t_done = now_ms(a);
		snprintf(a->cur->error, sizeof(a->cur->error), "abandoned: the drill stopped");
		a->cur = NULL;
	}
	if (a->call)
		ward_jsonline_cancel(a->call); /* its callback puts the last reference */
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}
