/* The drill's watch of the agents; see drill_watch.h. */
#include "agent/drill_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/drill_conn.h"

#define LOOK_TIMEOUT_MS 2000

struct watched {
	struct ward_drill_watch *w;
	size_t index;
	struct ward_drill_conn *conn;
	bool busy;		       /* a look is under way */
	bool want_metrics;	       /* /certs is in, /metrics is next */
	struct ward_drill_sample next; /* the look being assembled */
};

struct ward_drill_watch {
	uv_loop_t *loop;
	const struct ward_drill_opts *o;
	struct ward_drill_record *rec;
	uint64_t t0_ns;
	uv_timer_t tick;
	struct watched agents[WARD_DRILL_MAX_AGENTS];
	void (*on_sample)(void *arg, size_t agent, const struct ward_drill_sample *s);
	void *arg;
	struct ward_drill_life life; /* open: connections and the timer */
};

static double now_ms(const struct ward_drill_watch *w)
{
	return (double)(uv_hrtime() - w->t0_ns) / 1e6;
}

static void put(struct ward_drill_watch *w)
{
	if (ward_drill_life_put(&w->life))
		free(w);
}

static void record(struct watched *a, bool ok, const char *why)
{
	struct ward_drill_watch *w = a->w;

	a->busy = false;
	a->next.ok = ok;
	if (!ok)
		snprintf(w->rec->agent_error[a->index], sizeof(w->rec->agent_error[0]), "%s", why);
	if (ward_drill_record_sample(w->rec, a->index, &a->next) < 0)
		fprintf(stderr, "ward drill: %s\n", ward_err_msg());
	else if (w->on_sample)
		w->on_sample(w->arg, a->index, &a->next);
}

static int get(struct watched *a, const char *path)
{
	char host[64];
	uint8_t *req;
	size_t len;

	snprintf(host, sizeof(host), "%s", a->w->o->agent_text[a->index]);
	GUARD(ward_http_get_format(host, path, true, &req, &len));
	return ward_drill_conn_exchange(a->conn, req, len, LOOK_TIMEOUT_MS);
}

static void look_done(struct ward_drill_conn *c, enum ward_drill_why why)
{
	struct watched *a = c->owner;
	struct ward_drill_record *rec = a->w->rec;
	const char *body = (const char *)ward_buf_peek(&c->reply.body);
	size_t len = ward_buf_len(&c->reply.body);
	char why_text[200];
	int rc;

	if (why != WARD_DRILL_OK) {
		a->conn = NULL; /* it closes itself: the next look opens another */
		snprintf(why_text, sizeof(why_text), "%s: %s%s%s",
			 a->want_metrics ? "/metrics" : "/certs", ward_drill_why_name(why),
			 c->detail[0] ? ": " : "", c->detail);
		return record(a, false, why_text);
	}
	if (!a->want_metrics) {
		a->next.t_seen = now_ms(a->w);
		rc = ward_drill_parse_certs(body ? body : "", len, rec, &a->next,
					    rec->agent_id[a->index], sizeof(rec->agent_id[0]));
	} else {
		rc = ward_drill_parse_metrics(body ? body : "", len, &a->next);
	}
	if (rc < 0)
		return record(a, false, ward_err_msg());
	if (a->want_metrics)
		return record(a, true, NULL);
	a->want_metrics = true;
	if (get(a, "/metrics") < 0)
		record(a, false, ward_err_msg());
}

static void look_closed(struct ward_drill_conn *c)
{
	struct watched *a = c->owner;

	if (a->conn == c)
		a->conn = NULL;
	put(a->w);
}

static const struct ward_drill_conn_ops look_ops = {look_done, look_closed};

static void look(struct watched *a)
{
	struct ward_drill_watch *w = a->w;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&a->next, 0, sizeof(a->next));
	a->next.t = now_ms(w);
	a->next.wall = ts.tv_sec;
	a->next.serial = -1;
	a->next.wl_connected = -1;
	a->busy = true;
	a->want_metrics = false;
	if (!a->conn) {
		if (ward_drill_conn_new(w->loop, &w->o->agents[a->index], true, &look_ops, a,
					&a->conn) < 0)
			return record(a, false, ward_err_msg());
		w->life.open++;
	}
	if (get(a, "/certs") < 0)
		record(a, false, ward_err_msg());
}

static void on_tick(uv_timer_t *t)
{
	struct ward_drill_watch *w = t->data;

	for (size_t i = 0; i < w->o->n_agents; i++)
		if (!w->agents[i].busy)
			look(&w->agents[i]);
}

int ward_drill_watch_start(uv_loop_t *loop, const struct ward_drill_opts *o,
			   struct ward_drill_record *rec, uint64_t t0_ns,
			   void (*on_sample)(void *arg, size_t agent,
					     const struct ward_drill_sample *s),
			   void *arg, struct ward_drill_watch **out)
{
	struct ward_drill_watch *w = calloc(1, sizeof(*w));

	ENSURE(w, WARD_ERR_NOMEM, "drill: out of memory");
	*w = (struct ward_drill_watch){.loop = loop,
				       .o = o,
				       .rec = rec,
				       .t0_ns = t0_ns,
				       .on_sample = on_sample,
				       .arg = arg,
				       .life.open = 1};
	for (size_t i = 0; i < o->n_agents; i++)
		w->agents[i] = (struct watched){.w = w, .index = i};
	uv_timer_init(loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, 0, WARD_DRILL_WATCH_MS);
	*out = w;
	return 0;
}

static void on_tick_closed(uv_handle_t *h)
{
	struct ward_drill_watch *w = h->data;

	put(w);
}

void ward_drill_watch_stop(struct ward_drill_watch *w, void (*done)(void *arg), void *arg)
{
	if (!ward_drill_life_stop(&w->life, done, arg))
		return;
	for (size_t i = 0; i < w->o->n_agents; i++)
		if (w->agents[i].conn)
			ward_drill_conn_close(w->agents[i].conn);
	uv_timer_stop(&w->tick);
	uv_close((uv_handle_t *)&w->tick, on_tick_closed);
}
