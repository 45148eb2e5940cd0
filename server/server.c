/* `ward server`'s state and loop; see server.h. */
#include "server/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

#define MIN_TICK_MS 1000 /* a failing rotation is retried, not spun on */
/* SVIDs are first issued from a workload's stream, outside the tick, so the
 * timer may have been armed before they existed: ticking at least this often
 * keeps every rotation within a second of its half-life. */
#define MAX_TICK_MS 1000

static time_t wall_now(void)
{
	return time(NULL);
}

/* Every trust domain an entry federates with needs a bundle to send. */
static int check_federates_with(const struct ward_server *s)
{
	for (size_t i = 0; i < s->reg->n; i++) {
		const struct ward_reg_entry *e = &s->reg->entries[i];

		for (size_t j = 0; j < e->n_federates_with; j++) {
			size_t f = 0;

			while (f < s->cfg->n_federation &&
			       strcmp(s->cfg->federation[f].trust_domain, e->federates_with[j]))
				f++;
			ENSURE(f < s->cfg->n_federation, WARD_ERR_INVALID,
			       "%s: entries[%zu].federates_with[%zu]: no bundle for %s in the "
			       "config's federation",
			       s->cfg->entries, i, j, e->federates_with[j]);
		}
	}
	return 0;
}

static int load_fed_bundle(const struct ward_server_federation *f, struct ward_wl_fed_bundle *out)
{
	struct ward_pem_certs certs;
	size_t len = 0, o = 0;
	int rc;

	rc = ward_pem_certs_load_file(f->bundle_file, &certs);
	if (rc < 0)
		return ward_err_prefix(rc, "federation.\"%s\"", f->trust_domain);
	for (size_t i = 0; i < certs.count; i++)
		len += certs.certs[i].len;
	out->der.data = malloc(len);
	if (!out->der.data || asprintf(&out->td_id, WARD_SPIFFE_SCHEME "%s", f->trust_domain) < 0) {
		ward_pem_certs_free(&certs);
		return ward_err_set(WARD_ERR_NOMEM, "federation: out of memory");
	}
	for (size_t i = 0; i < certs.count; o += certs.certs[i++].len)
		memcpy(out->der.data + o, certs.certs[i].data, certs.certs[i].len);
	out->der.len = len;
	ward_pem_certs_free(&certs);
	return 0;
}

static int load_federation(struct ward_server *s)
{
	s->fed = calloc(s->cfg->n_federation + 1, sizeof(*s->fed));
	ENSURE(s->fed, WARD_ERR_NOMEM, "federation: out of memory");
	for (size_t i = 0; i < s->cfg->n_federation; i++)
		GUARD(load_fed_bundle(&s->cfg->federation[i], &s->fed[i]));
	return 0;
}

static int open_ca(struct ward_server *s)
{
	const struct ward_server_config *c = s->cfg;
	struct ward_ca_manager_config cc = {
	    .trust_domain = c->trust_domain,
	    .data_dir = c->data_dir,
	    .ca_ttl_s = c->ca_ttl_s,
	    .upstream_cert = c->upstream.cert,
	    .upstream_key = c->upstream.key,
	    .upstream_bundle = c->upstream.bundle,
	    .read_only = s->check,
	};

	/* SPIRE warns likewise: SVIDs signed late in a CA's life are cut short. */
	if ((unsigned long long)c->svid_ttl_s * 6 > c->ca_ttl_s)
		ward_log(WARD_LOG_WARN, "svid_ttl_long", "{s:i,s:i}", "svid_ttl_s",
			 (int)c->svid_ttl_s, "ca_ttl_s", (int)c->ca_ttl_s);
	return ward_ca_manager_new(&cc, wall_now(), &s->ca);
}

int ward_server_init(struct ward_server *s, struct ward_server_config *cfg, bool check)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->check = check;
	GUARD(ward_registration_load_file(cfg->entries, cfg->trust_domain, &s->reg));
	GUARD(check_federates_with(s));
	GUARD(load_federation(s));
	GUARD(open_ca(s));
	GUARD(ward_issuer_new(s->reg, cfg->svid_ttl_s, &s->issuer));
	s->svc = (struct ward_wl_service){
	    .trust_domain = cfg->trust_domain,
	    .reg = s->reg,
	    .issuer = s->issuer,
	    .ca = s->ca,
	    .fed = s->fed,
	    .n_fed = cfg->n_federation,
	    .attest = {.want_sha256 = s->reg->uses_sha256, .size_limit = cfg->workload_size_limit},
	    .now = wall_now,
	};
	return 0;
}

void ward_server_uninit(struct ward_server *s)
{
	ward_issuer_free(s->issuer);
	ward_ca_manager_free(s->ca);
	for (size_t i = 0; s->fed && i < s->cfg->n_federation; i++) {
		free(s->fed[i].td_id);
		free(s->fed[i].der.data);
	}
	free(s->fed);
	ward_registration_free(s->reg);
	ward_server_config_free(s->cfg);
	memset(s, 0, sizeof(*s));
}

static void on_timer(uv_timer_t *t)
{
	ward_server_tick(t->data);
}

static void schedule(struct ward_server *s, time_t now)
{
	time_t next = ward_ca_manager_next_event(s->ca, now),
	       svid = ward_issuer_next_event(s->issuer);
	uint64_t ms;

	if (svid && svid < next)
		next = svid;
	ms = next > now ? (uint64_t)(next - now) * 1000 : 0;
	if (ms > MAX_TICK_MS)
		ms = MAX_TICK_MS;
	uv_timer_start(&s->timer, on_timer, ms < MIN_TICK_MS ? MIN_TICK_MS : ms, 0);
}

void ward_server_tick(struct ward_server *s)
{
	time_t now = wall_now();
	bool ca_changed = false, svids_changed = false;

	if (s->stopping)
		return;
	if (ward_ca_manager_tick(s->ca, now, &ca_changed) < 0)
		ward_log(WARD_LOG_ERROR, "ca_rotation_failed", "{s:s}", "reason", ward_err_msg());
	if (ward_issuer_tick(s->issuer, s->ca, now, &svids_changed) < 0)
		ward_log(WARD_LOG_ERROR, "svid_rotation_failed", "{s:s}", "reason", ward_err_msg());
	if ((ca_changed || svids_changed) && s->wl)
		ward_wl_server_refresh(s->wl);
	schedule(s, now);
}

static void stop(struct ward_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	ward_log(WARD_LOG_INFO, "stopping", NULL);
	ward_rotation_abort(s);
	ward_wl_server_stop(s->wl);
	ward_ctl_stop(s->admin);
	s->wl = NULL;
	s->admin = NULL;
	uv_close((uv_handle_t *)&s->timer, NULL);
	uv_close((uv_handle_t *)&s->rotation_timer, NULL);
	uv_close((uv_handle_t *)&s->sig_term, NULL);
	uv_close((uv_handle_t *)&s->sig_int, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	stop(sig->data);
}

static void signal_start(struct ward_server *s, uv_signal_t *sig, int signum)
{
	uv_signal_init(&s->loop, sig);
	sig->data = s;
	uv_signal_start(sig, on_signal, signum);
}

static int open_sockets(struct ward_server *s)
{
	GUARD(
	    ward_wl_server_start(&s->loop, s->cfg->socket, &ward_wl_service_ops, &s->svc, &s->wl));
	ward_wl_server_set_limits(s->wl, &s->cfg->limits);
	return ward_ctl_start(&s->loop, s->cfg->admin_socket, ward_server_admin, s, &s->admin);
}

int ward_server_run(struct ward_server *s)
{
	const struct ward_ca_slot *a;
	int rc;

	/* libuv writes to unix sockets with write(2): a caller that hung up
	 * must cost an EPIPE on its connection, not the server. */
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&s->loop);
	uv_timer_init(&s->loop, &s->timer);
	uv_timer_init(&s->loop, &s->rotation_timer);
	s->timer.data = s;
	signal_start(s, &s->sig_term, SIGTERM);
	signal_start(s, &s->sig_int, SIGINT);
	rc = open_sockets(s);
	if (rc == 0) {
		a = ward_ca_manager_active(s->ca);
		ward_log(WARD_LOG_INFO, "ready", "{s:s,s:s,s:s,s:I,s:s,s:b}", "trust_domain",
			 s->cfg->trust_domain, "socket", s->cfg->socket, "admin_socket",
			 s->cfg->admin_socket, "entries", (json_int_t)s->reg->n, "ca_serial",
			 a ? a->serial_hex : "", "upstream", ward_ca_manager_is_upstream(s->ca));
		ward_server_tick(s);
	} else {
		ward_log(WARD_LOG_ERROR, "server_failed", "{s:s}", "reason", ward_err_msg());
		stop(s);
	}
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);
	return rc;
}
