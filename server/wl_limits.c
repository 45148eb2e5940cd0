/* The Workload API's connection limits (wl_server.h, struct ward_wl_limits).
 * The socket is open to every local user: attestation, not file mode, decides
 * what a caller gets, so connections themselves must not be a resource one
 * user can take from the others. A connection is pending until a call on it
 * is granted (its caller matched an entry); pending connections live in a
 * budget (lib/budget.h) keyed by uid, the oldest shed first. Every connection
 * with no call open is closed once idle_timeout_ms have passed (that covers
 * one that never sends the HTTP/2 preface or a request), and every one whose
 * peer stopped taking its output once write_stall_ms have passed: what a
 * slow reader holds is bounded by the write queue's high-water mark and the
 * streams' two messages, and given back (lib/trim.h) when it goes. */
#include <string.h>

#include "server/wl_server_impl.h"

#define SWEEP_MS 500
#define NO_UID 0xffffffffu /* the kernel could not say: one key for all of them */
#define TRIM_MIN_DROP 32   /* connections, or 4 KiB blocks of unread output */

void ward_wl_limits_default(struct ward_wl_limits *l)
{
	*l = (struct ward_wl_limits){.max_connections = 1024,
				     .max_connections_per_uid = 512,
				     .max_pending = 128,
				     .max_pending_per_uid = 32,
				     .idle_timeout_ms = 5000,
				     .write_stall_ms = 10000};
}

static uint32_t uid_of(const struct wl_conn *c)
{
	return c->have_creds ? (uint32_t)c->creds.uid : NO_UID;
}

static void shed(struct wl_conn *c, const char *reason)
{
	struct ward_wl_server *srv = c->srv;
	unsigned long suppressed = 0;

	if (ward_log_limit_allow(&srv->shed_log, uv_now(srv->loop), &suppressed))
		ward_log(WARD_LOG_WARN, "workload_api_shed", "{s:i,s:i,s:s,s:I}", "uid",
			 (int)uid_of(c), "pid", c->have_creds ? (int)c->creds.pid : 0, "reason",
			 reason, "suppressed", (json_int_t)suppressed);
	wl_conn_close(c);
}

static void on_pending_shed(struct ward_budget_slot *s, enum ward_budget_reason why)
{
	shed(ward_list_entry(s, struct wl_conn, pending),
	     why == WARD_BUDGET_KEY_LIMIT ? "max_pending_per_uid" : "max_pending");
}

/* The oldest pending connection other than c (of uid, unless any). The
 * list runs newest first. */
static struct wl_conn *oldest_pending(struct ward_wl_server *srv, const struct wl_conn *c, bool any)
{
	struct ward_list_node *n, *next;
	struct wl_conn *oldest = NULL;

	ward_list_each(&srv->conns, n, next)
	{
		struct wl_conn *o = ward_list_entry(n, struct wl_conn, link);

		if (o != c && !o->closing && o->pending.held && (any || uid_of(o) == uid_of(c)))
			oldest = o;
	}
	return oldest;
}

/* Open connections other than c: all, and of c's uid. */
static void census(const struct ward_wl_server *srv, const struct wl_conn *c, unsigned *all,
		   unsigned *same)
{
	struct ward_list_node *n, *next;

	*all = *same = 0;
	ward_list_each(&srv->conns, n, next)
	{
		const struct wl_conn *o = ward_list_entry(n, struct wl_conn, link);

		if (o == c || o->closing)
			continue;
		(*all)++;
		*same += uid_of(o) == uid_of(c);
	}
}

/* Under limit, or the oldest pending connection (any, or of c's uid) goes. */
static bool room(struct wl_conn *c, unsigned held, unsigned limit, bool any, const char *why)
{
	struct wl_conn *victim;

	if (held < limit)
		return true;
	victim = oldest_pending(c->srv, c, any);
	if (!victim) {
		ward_log(WARD_LOG_WARN, "workload_api_refused", "{s:i,s:s}", "uid", (int)uid_of(c),
			 "reason", why);
		return false;
	}
	shed(victim, why);
	return true;
}

bool wl_limits_admit(struct wl_conn *c)
{
	struct ward_wl_server *srv = c->srv;
	uint8_t key[WARD_BUDGET_KEY] = {0};
	uint32_t uid = uid_of(c);
	unsigned all, same;

	c->idle_since_ms = uv_now(srv->loop);
	census(srv, c, &all, &same);
	if (!room(c, same, srv->limits.max_connections_per_uid, false, "max_connections_per_uid"))
		return false;
	census(srv, c, &all, &same);
	if (!room(c, all, srv->limits.max_connections, true, "max_connections"))
		return false;
	memcpy(key, &uid, sizeof(uid));
	ward_budget_take(&srv->pending, &c->pending, key, on_pending_shed);
	return true;
}

void wl_limits_granted(struct wl_conn *c)
{
	ward_budget_put(&c->srv->pending, &c->pending);
	c->calls++;
}

void wl_limits_call_ended(struct wl_conn *c)
{
	if (c->calls && --c->calls == 0)
		c->idle_since_ms = uv_now(c->srv->loop);
}

void wl_limits_wrote(struct wl_conn *c)
{
	c->wrote_ms = uv_now(c->srv->loop);
}

void wl_limits_release(struct wl_conn *c)
{
	ward_budget_put(&c->srv->pending, &c->pending);
}

/* What to close now: a connection with no call open for idle_timeout_ms, or
 * whose peer has taken none of its waiting output for write_stall_ms. */
static const char *expired(const struct wl_conn *c, uint64_t now)
{
	const struct ward_wl_limits *l = &c->srv->limits;

	if (!c->calls && now - c->idle_since_ms >= l->idle_timeout_ms)
		return "idle";
	if (c->sock.queued && now - c->wrote_ms >= l->write_stall_ms)
		return "stalled";
	return NULL;
}

static void on_sweep(uv_timer_t *t)
{
	struct ward_wl_server *srv = t->data;
	uint64_t now = uv_now(srv->loop), load = 0;
	struct ward_list_node *n, *next;
	const char *why;

	ward_list_each(&srv->conns, n, next)
	{
		struct wl_conn *c = ward_list_entry(n, struct wl_conn, link);

		if (c->closing || !(why = expired(c, now))) {
			load += 1 + c->sock.queued / 4096;
			continue;
		}
		ward_log(*why == 'i' ? WARD_LOG_DEBUG : WARD_LOG_WARN, "workload_api_closed",
			 "{s:s,s:i,s:b,s:I}", "reason", why, "uid", (int)uid_of(c), "pending",
			 c->pending.held, "unwritten", (json_int_t)c->sock.queued);
		wl_conn_close(c);
	}
	ward_trim_tick(&srv->trim, load, now);
}

void wl_limits_init(struct ward_wl_server *srv)
{
	ward_wl_limits_default(&srv->limits);
	ward_budget_init(&srv->pending, srv->limits.max_pending, srv->limits.max_pending_per_uid,
			 &srv->pending_counts);
	ward_log_limit_init(&srv->shed_log, 5, 20);
	ward_trim_init(&srv->trim, TRIM_MIN_DROP);
	uv_timer_init(srv->loop, &srv->sweep);
	srv->sweep.data = srv;
	srv->sweep_open = true;
	uv_timer_start(&srv->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
}

void ward_wl_server_set_limits(struct ward_wl_server *srv, const struct ward_wl_limits *l)
{
	srv->limits = *l;
	ward_budget_set_max(&srv->pending, l->max_pending, l->max_pending_per_uid);
}

static void on_sweep_closed(uv_handle_t *h)
{
	struct ward_wl_server *srv = h->data;

	srv->sweep_open = false;
	wl_server_maybe_free(srv);
}

void wl_limits_stop(struct ward_wl_server *srv)
{
	if (srv->sweep_open && !uv_is_closing((uv_handle_t *)&srv->sweep))
		uv_close((uv_handle_t *)&srv->sweep, on_sweep_closed);
}
