/* Forced rotations: prepare, propagate, grace, activate; see rotation.h. */
#include "server/rotation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "server/server.h"

/* How often delivery is looked at while waiting. Asking the Workload API
 * server (rather than having it call back from inside nghttp2's callbacks)
 * keeps the CA's state changes out of a session that is sending. */
#define POLL_MS 5

enum what { SVIDS, CA, ROOT };
enum phase { PROPAGATE, GRACE, PUSH };

static const char *const names[] = {"svids", "ca", "root"};
static const char *const phase_names[] = {"propagating the new bundle", "in the grace period",
					  "pushing the new SVIDs"};

struct ward_rotation {
	struct ward_server *s;
	struct ward_ctl_req *req;
	enum what what;
	enum phase phase;
	unsigned ca_id; /* the prepared CA */
	char ca_serial[2 * WARD_SVID_SERIAL_MAX + 1];
	uint64_t gen; /* the Workload API state being delivered */
	uint64_t t0_ns, phase_ns;
	json_t *reply; /* built as the steps go */
};

/* Milliseconds since t_ns, to a tenth. */
static json_t *ms_since(uint64_t t_ns)
{
	return json_real((double)((uv_hrtime() - t_ns) / 100000) / 10.0);
}

static json_t *lagging(const struct ward_wl_delivery *d)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < d->n_lag; i++)
		json_array_append_new(a, json_pack("{s:i,s:i,s:i}", "pid", (int)d->lag[i].pid,
						   "uid", (int)d->lag[i].uid, "stream",
						   (int)d->lag[i].stream));
	return a;
}

static void finish(struct ward_rotation *r, json_t *reply)
{
	r->s->rotation = NULL;
	uv_timer_stop(&r->s->rotation_timer);
	json_decref(r->reply);
	ward_ctl_reply(r->req, reply);
	free(r);
}

static void fail(struct ward_rotation *r, const char *step)
{
	char why[512];

	snprintf(why, sizeof(why), "rotate %s: %s: %s", names[r->what], step, ward_err_msg());
	ward_log(WARD_LOG_ERROR, "rotation_failed", "{s:s,s:s}", "what", names[r->what], "reason",
		 why);
	finish(r, ward_ctl_error(why));
}

static const char *active_serial(const struct ward_server *s)
{
	const struct ward_ca_slot *a = ward_ca_manager_active(s->ca);

	return a ? a->serial_hex : "";
}

static void poll_delivery(uv_timer_t *t);

static void wait_delivery(struct ward_rotation *r, enum phase phase)
{
	r->phase = phase;
	r->phase_ns = uv_hrtime();
	r->gen = ward_wl_server_refresh(r->s->wl);
	uv_timer_start(&r->s->rotation_timer, poll_delivery, 0, POLL_MS);
}

static int count(const json_t *o, const char *key)
{
	return (int)json_integer_value(json_object_get(o, key));
}

static void summarise(struct ward_rotation *r)
{
	json_t *p = json_object_get(r->reply, "prepared"), *v = json_object_get(r->reply, "svids");
	char text[512];
	int n = 0;

	if (p)
		n = snprintf(text, sizeof(text),
			     "prepared CA %s; bundle sent to %d of %d streams in %.1f ms; "
			     "%d ms grace; activated; ",
			     r->ca_serial, count(p, "sent"), count(p, "streams"),
			     json_real_value(json_object_get(p, "ms")),
			     count(r->reply, "grace_ms"));
	snprintf(text + n, sizeof(text) - (size_t)n,
		 "SVIDs re-issued and sent to %d of %d streams in %.1f ms", count(v, "sent"),
		 count(v, "streams"), json_real_value(json_object_get(v, "ms")));
	json_object_set_new(r->reply, "summary", json_string(text));
}

/* Step 4: the CA signs from now on, every SVID is re-issued under it. */
static void activate(struct ward_rotation *r)
{
	struct ward_server *s = r->s;
	time_t now = time(NULL);

	if (r->what != SVIDS && ward_ca_manager_activate(s->ca, r->ca_id, now, r->what == ROOT) < 0)
		return fail(r, "activating the CA");
	if (ward_issuer_rotate_all(s->issuer, s->ca, now) < 0)
		return fail(r, "re-issuing the SVIDs");
	json_object_set_new(r->reply, "activated_ms", ms_since(r->t0_ns));
	json_object_set_new(r->reply, "ca_serial", json_string(active_serial(s)));
	ward_log(WARD_LOG_INFO, "rotated", "{s:s,s:s}", "what", names[r->what], "ca_serial",
		 active_serial(s));
	wait_delivery(r, PUSH);
	ward_server_tick(s); /* re-arms the schedule for the new SVIDs */
}

static void on_grace(uv_timer_t *t)
{
	activate(t->data);
}

/* A phase's delivery is done (or given up on): note it, go on. */
static void delivered(struct ward_rotation *r, const struct ward_wl_delivery *d)
{
	unsigned grace = r->s->cfg->rotation_grace_ms;

	if (d->sent < d->open)
		ward_log(WARD_LOG_WARN, "rotation_lagging", "{s:s,s:s,s:i,s:i,s:o}", "what",
			 names[r->what], "phase", phase_names[r->phase], "sent", (int)d->sent,
			 "streams", (int)d->open, "lagging", lagging(d));
	json_object_set_new(r->reply, r->phase == PROPAGATE ? "prepared" : "svids",
			    json_pack("{s:i,s:i,s:o,s:o}", "streams", (int)d->open, "sent",
				      (int)d->sent, "ms", ms_since(r->phase_ns), "lagging",
				      lagging(d)));
	uv_timer_stop(&r->s->rotation_timer);
	if (r->phase == PUSH) {
		json_object_set_new(r->reply, "ms", ms_since(r->t0_ns));
		summarise(r);
		return finish(r, json_incref(r->reply));
	}
	json_object_set_new(json_object_get(r->reply, "prepared"), "serial",
			    json_string(r->ca_serial));
	json_object_set_new(r->reply, "grace_ms", json_integer(grace));
	r->phase = GRACE;
	uv_timer_start(&r->s->rotation_timer, on_grace, grace, 0);
}

static void poll_delivery(uv_timer_t *t)
{
	struct ward_rotation *r = t->data;
	struct ward_wl_delivery d;

	ward_wl_server_delivery(r->s->wl, r->gen, &d);
	if (d.sent == d.open ||
	    uv_hrtime() - r->phase_ns >= (uint64_t)r->s->cfg->rotation_max_wait_ms * 1000000)
		delivered(r, &d);
}

/* Steps 1 and 2: the CA to come goes into every bundle first. */
static void prepare(struct ward_rotation *r)
{
	struct ward_server *s = r->s;

	const struct ward_ca_slot *slots;
	size_t n;

	if (ward_ca_manager_prepare(s->ca, time(NULL), r->what == ROOT, &r->ca_id) < 0)
		return fail(r, "preparing the CA");
	slots = ward_ca_manager_slots(s->ca, &n);
	for (size_t i = 0; i < n; i++)
		if (slots[i].id == r->ca_id)
			memcpy(r->ca_serial, slots[i].serial_hex, sizeof(r->ca_serial));
	ward_log(WARD_LOG_INFO, "rotation_prepared", "{s:s,s:s}", "what", names[r->what], "serial",
		 r->ca_serial);
	wait_delivery(r, PROPAGATE);
}

void ward_rotation_start(struct ward_server *s, const char *what, struct ward_ctl_req *req)
{
	struct ward_rotation *r;
	char why[160];
	size_t w = 0;

	while (w < 3 && strcmp(what, names[w]))
		w++;
	if (w == 3)
		return ward_ctl_reply(req,
				      ward_ctl_error("rotate: \"what\" must be svids, ca or root"));
	if (s->rotation) {
		snprintf(why, sizeof(why),
			 "rotate %s: a %s rotation is %s; try again when it is done", what,
			 names[s->rotation->what], phase_names[s->rotation->phase]);
		return ward_ctl_reply(req, ward_ctl_error(why));
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "rotated", what,
					 "previous_ca_serial", active_serial(s)))) {
		free(r);
		return ward_ctl_reply(req, ward_ctl_error("out of memory"));
	}
	r->s = s;
	r->req = req;
	r->what = (enum what)w;
	r->phase = PUSH;
	r->t0_ns = uv_hrtime();
	s->rotation = r;
	s->rotation_timer.data = r;
	if (r->what == SVIDS)
		activate(r);
	else
		prepare(r);
}

void ward_rotation_abort(struct ward_server *s)
{
	struct ward_rotation *r = s->rotation;
	char why[160];

	if (!r)
		return;
	snprintf(why, sizeof(why), "rotate %s: the server stopped while %s", names[r->what],
		 phase_names[r->phase]);
	finish(r, ward_ctl_error(why));
}
