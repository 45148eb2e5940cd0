/* The drill's load; see drill_load.h. */
#include "agent/drill_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/drill_conn.h"

#define TICK_MS 10
#define LONG_EVERY_MS 100

/* A long-lived connection's slot: the connection it holds now, if any. */
struct slot {
	struct ward_drill_load *l;
	unsigned index;
	struct ward_drill_conn *conn;
	bool healthy;	/* established: an exchange has succeeded */
	double next_ms; /* when to send (or reconnect) */
	double sent_ms; /* the exchange under way started then */
	unsigned long long seq;
};

/* A new connection under way. */
struct probe {
	struct ward_drill_load *l;
	double t0;
	unsigned target;
};

struct ward_drill_load {
	uv_loop_t *loop;
	const struct ward_drill_opts *o;
	struct ward_drill_record *rec;
	uint64_t t0_ns;
	uv_timer_t tick;
	double credit, last_tick_ms;
	unsigned next_target;
	unsigned long long seq;
	struct slot *slots;
	unsigned alive;
	struct ward_drill_life life; /* open: connections and the timer */
	struct ward_drill_load_counts counts;
};

static double now_ms(const struct ward_drill_load *l)
{
	return (double)(uv_hrtime() - l->t0_ns) / 1e6;
}

static void put(struct ward_drill_load *l)
{
	if (!ward_drill_life_put(&l->life))
		return;
	free(l->slots);
	free(l);
}

/* A failure to record is a drill that cannot vouch for its report: it says
 * so on stderr rather than silently losing an event. */
static void recorded(int rc)
{
	if (rc < 0)
		fprintf(stderr, "ward drill: %s\n", ward_err_msg());
}

/* The request of one exchange with target t. */
static int request(struct ward_drill_load *l, const struct ward_drill_target *t, bool keep_alive,
		   uint8_t **out, size_t *len)
{
	char *text;
	int n;

	if (t->http)
		return ward_http_get_format(t->host, t->path, keep_alive, out, len);
	n = asprintf(&text, "ward-drill %llu %.3f\n", ++l->seq, now_ms(l));
	ENSURE(n > 0, WARD_ERR_NOMEM, "drill: out of memory");
	*out = (uint8_t *)text;
	*len = (size_t)n;
	return 0;
}

/* ---- new connections ----------------------------------------------------------- */

static void probe_done(struct ward_drill_conn *c, enum ward_drill_why why)
{
	struct probe *p = c->owner;
	struct ward_drill_load *l = p->l;

	recorded(ward_drill_record_req(l->rec, p->t0, now_ms(l), why, p->target));
	if (why == WARD_DRILL_OK)
		l->counts.ok++;
	else
		l->counts.failed++;
	ward_drill_conn_close(c);
}

static void probe_closed(struct ward_drill_conn *c)
{
	struct probe *p = c->owner;
	struct ward_drill_load *l = p->l;

	free(p);
	put(l);
}

static const struct ward_drill_conn_ops probe_ops = {probe_done, probe_closed};

static void probe_start(struct ward_drill_load *l)
{
	unsigned ti = l->next_target++ % (unsigned)l->o->n_targets;
	const struct ward_drill_target *t = &l->o->targets[ti];
	struct probe *p = calloc(1, sizeof(*p));
	struct ward_drill_conn *c;
	uint8_t *req;
	size_t len;

	if (!p) {
		recorded(ward_drill_record_req(l->rec, now_ms(l), now_ms(l), WARD_DRILL_IO, ti));
		return;
	}
	*p = (struct probe){l, now_ms(l), ti};
	if (ward_drill_conn_new(l->loop, &t->addr, t->http, &probe_ops, p, &c) < 0) {
		recorded(ward_drill_record_req(l->rec, p->t0, p->t0, WARD_DRILL_IO, ti));
		l->counts.failed++;
		free(p);
		return;
	}
	l->life.open++;
	if (request(l, t, false, &req, &len) < 0 ||
	    ward_drill_conn_exchange(c, req, len, WARD_DRILL_TIMEOUT_MS) < 0)
		ward_drill_conn_close(c); /* closed without an outcome: not counted */
}

/* ---- long-lived connections ------------------------------------------------- */

static void set_alive(struct ward_drill_load *l, unsigned alive)
{
	l->alive = alive;
	l->counts.alive = alive;
	recorded(ward_drill_record_alive(l->rec, now_ms(l), alive));
}

static void slot_done(struct ward_drill_conn *c, enum ward_drill_why why)
{
	struct slot *s = c->owner;
	struct ward_drill_load *l = s->l;
	double now = now_ms(l);

	s->next_ms = s->sent_ms + LONG_EVERY_MS;
	if (why == WARD_DRILL_OK) {
		if (!s->healthy) {
			s->healthy = true;
			l->rec->long_opened++;
			set_alive(l, l->alive + 1);
		}
		return;
	}
	if (s->healthy) {
		s->healthy = false;
		l->counts.dropped++;
		recorded(ward_drill_record_drop(l->rec, now, s->index, why));
		set_alive(l, l->alive - 1);
	} else { /* it never worked: a failed connection, like a new one */
		recorded(ward_drill_record_req(l->rec, s->sent_ms, now, why,
					       s->index % (unsigned)l->o->n_targets));
		l->counts.failed++;
	}
	s->next_ms = now + LONG_EVERY_MS;
	ward_drill_conn_close(c);
}

static void slot_closed(struct ward_drill_conn *c)
{
	struct slot *s = c->owner;
	struct ward_drill_load *l = s->l;

	if (s->conn == c)
		s->conn = NULL;
	if (s->healthy && !l->life.stopping) { /* the peer closed it between messages */
		s->healthy = false;
		l->counts.dropped++;
		recorded(ward_drill_record_drop(l->rec, now_ms(l), s->index, WARD_DRILL_CLOSED));
		set_alive(l, l->alive - 1);
		s->next_ms = now_ms(l) + LONG_EVERY_MS;
	}
	put(l);
}

static const struct ward_drill_conn_ops slot_ops = {slot_done, slot_closed};

static void slot_send(struct ward_drill_load *l, struct slot *s, double now)
{
	const struct ward_drill_target *t = &l->o->targets[s->index % l->o->n_targets];
	uint8_t *req;
	size_t len;

	if (!s->conn) {
		if (ward_drill_conn_new(l->loop, &t->addr, t->http, &slot_ops, s, &s->conn) < 0) {
			s->next_ms = now + LONG_EVERY_MS;
			return;
		}
		l->life.open++;
	}
	s->sent_ms = now;
	s->seq++;
	if (request(l, t, true, &req, &len) < 0 ||
	    ward_drill_conn_exchange(s->conn, req, len, WARD_DRILL_TIMEOUT_MS) < 0)
		s->next_ms = now + LONG_EVERY_MS;
}

/* ---- the pace ---------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	struct ward_drill_load *l = t->data;
	double now = now_ms(l);

	l->credit += l->o->rate * (now - l->last_tick_ms) / 1000.0;
	l->last_tick_ms = now;
	for (; l->credit >= 1.0; l->credit -= 1.0)
		probe_start(l);
	for (unsigned i = 0; i < l->o->n_long; i++) {
		struct slot *s = &l->slots[i];

		if (now >= s->next_ms && !(s->conn && s->conn->busy))
			slot_send(l, s, now);
	}
}

int ward_drill_load_start(uv_loop_t *loop, const struct ward_drill_opts *o,
			  struct ward_drill_record *rec, uint64_t t0_ns,
			  struct ward_drill_load **out)
{
	struct ward_drill_load *l = calloc(1, sizeof(*l));

	ENSURE(l, WARD_ERR_NOMEM, "drill: out of memory");
	l->slots = calloc(o->n_long + 1, sizeof(*l->slots));
	if (!l->slots) {
		free(l);
		return ward_err_set(WARD_ERR_NOMEM, "drill: out of memory");
	}
	l->loop = loop;
	l->o = o;
	l->rec = rec;
	l->t0_ns = t0_ns;
	l->last_tick_ms = now_ms(l);
	l->counts.n_long = o->n_long;
	for (unsigned i = 0; i < o->n_long; i++)
		l->slots[i] = (struct slot){.l = l, .index = i, .next_ms = i * 7.0};
	uv_timer_init(loop, &l->tick);
	l->tick.data = l;
	l->life.open = 1;
	uv_timer_start(&l->tick, on_tick, 0, TICK_MS);
	recorded(ward_drill_record_alive(rec, now_ms(l), 0));
	*out = l;
	return 0;
}

void ward_drill_load_counts(const struct ward_drill_load *l, struct ward_drill_load_counts *c)
{
	*c = l->counts;
}

static void on_tick_closed(uv_handle_t *h)
{
	struct ward_drill_load *l = h->data;

	put(l);
}

void ward_drill_load_stop(struct ward_drill_load *l, void (*done)(void *arg), void *arg)
{
	if (!ward_drill_life_stop(&l->life, done, arg))
		return;
	for (unsigned i = 0; i < l->o->n_long; i++)
		if (l->slots[i].conn)
			ward_drill_conn_close(l->slots[i].conn); /* ours: not a drop */
	recorded(ward_drill_record_alive(l->rec, now_ms(l), 0));
	uv_timer_stop(&l->tick);
	uv_close((uv_handle_t *)&l->tick, on_tick_closed);
}
