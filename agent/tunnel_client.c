/* The outbound side of tunnels: choosing or opening a pooled connection for
 * an app connection's stream, the connect to the peer's tunnel port, the
 * server's identity against outbound policy, and the fallback to direct mTLS
 * for destinations without a tunnel (tunnel.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "agent/policy.h"
#include "agent/tunnel_impl.h"
#include "lib/log.h"
#include "lib/sockopt.h"

/* Handshake and connect failures that say "no tunnel listener there" (a
 * peer without ward's tunnel, or something else on the port), as opposed
 * to "a tunnel, but not one we may use" (identity, policy). */
static const char *const fallback_reasons[] = {
    "connect_refused",	"connect_timeout",  "not_tls", "peer_reset",
    "protocol_version", "no_shared_cipher", "no_alpn", "timeout",
};

bool tunnel_client_fallback_reason(const char *reason)
{
	for (size_t i = 0; reason && i < sizeof(fallback_reasons) / sizeof(fallback_reasons[0]);
	     i++)
		if (!strcmp(reason, fallback_reasons[i]))
			return true;
	return false;
}

/* The pool key's policy: the server identity policy of this config (a
 * config never changes under a running agent; a new one is a new key). */
static uint64_t policy_id(const struct ward_config *cfg)
{
	return (uint64_t)(uintptr_t)cfg;
}

static void apply_sockopts(struct ward_tunnel *t)
{
	static _Thread_local bool warned;

	if (ward_sockopt_apply(ward_stream_fd(&t->sock), &t->worker->cfg->tcp, true) < 0 &&
	    !warned) {
		warned = true; /* same cause for every connection: say it once */
		ward_log(WARD_LOG_WARN, "sockopt_failed", "{s:s}", "reason", ward_err_msg());
	}
}

static struct ward_tunnel *tunnel_connect(struct ward_worker *w, const struct sockaddr *dst,
					  const struct ward_pool_key *key)
{
	const struct ward_config *cfg = w->cfg;
	struct ward_tunnel *t = tunnel_new(w, WARD_DIR_OUTBOUND);
	uint16_t port = htons(ward_addr_port(&cfg->inbound.tunnel_listen));
	int rc;

	if (!t)
		return NULL;
	/* The peer's tunnel listens where ours does (15008 by convention). */
	memcpy(&t->peer, dst,
	       dst->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					  : sizeof(struct sockaddr_in));
	if (t->peer.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&t->peer)->sin6_port = port;
	else
		((struct sockaddr_in *)&t->peer)->sin_port = port;
	ward_pool_add(&w->pool, &t->entry, key, cfg->tunnel.max_streams_per_connection);
	t->entry.waiting = &t->waiting;
	rc = tunnel_sock_init(t, t->peer.ss_family);
	if (rc == 0 && cfg->tcp.fastopen)
		rc = ward_sockopt_fastopen_connect(ward_stream_fd(&t->sock));
	if (rc == 0)
		rc = ward_stream_connect(&t->sock, (const struct sockaddr *)&t->peer);
	if (rc < 0) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", ward_err_msg());
		ward_tunnel_close(t, true);
		return NULL;
	}
	tunnel_arm(t, cfg->tunnel.connect_timeout_ms);
	return t;
}

/* On t now, or in its queue until it opens. */
static int place(struct ward_tunnel *t, struct ward_h2_end *e)
{
	if (t->mux_open)
		return ward_mux_connect(&t->mux, e, e->authority,
					e->forwarded[0] ? e->forwarded : NULL);
	ward_h2_end_wait(e, &t->waiting);
	return 0;
}

int ward_tunnel_stream(struct ward_worker *w, const struct sockaddr *dst, struct ward_h2_end *e,
		       const char *forwarded, enum ward_tunnel_route *route)
{
	struct ward_metrics_worker *m = &w->stats;
	struct ward_pool_key key;
	struct ward_pool_entry *entry;
	struct ward_tunnel *t;

	*route = WARD_TUNNEL_ROUTED;
	if (w->cfg->outbound.tunnel == WARD_TUNNEL_AUTO &&
	    ward_pool_fallback_active(&w->pool, dst, uv_now(&w->loop))) {
		ward_metric_add(&m->pool[WARD_POOL_FALLBACK], 1);
		*route = WARD_TUNNEL_DIRECT;
		return 0;
	}
	ENSURE(w->tls, WARD_ERR_NOTREADY, "no identity loaded yet: refusing mesh traffic");
	ward_addr_format(dst, e->authority, sizeof(e->authority));
	snprintf(e->forwarded, sizeof(e->forwarded), "%s", forwarded ? forwarded : "");
	e->attempts++;
	ward_pool_key_init(&key, dst, policy_id(w->cfg));
	entry = ward_pool_pick(&w->pool, &key);
	if (entry) {
		ward_metric_add(&m->pool[WARD_POOL_REUSED], 1);
		return place(ward_list_entry(entry, struct ward_tunnel, entry), e);
	}
	t = tunnel_connect(w, dst, &key);
	ENSURE(t, WARD_ERR_IO, "tunnel to %s: %s", e->authority, ward_err_msg());
	ward_metric_add(&m->pool[WARD_POOL_OPENED], 1);
	return place(t, e);
}

void tunnel_client_connected(struct ward_tunnel *t, int status)
{
	struct ward_metrics_worker *m = &t->worker->stats;
	const char *reason = status == UV_ECONNREFUSED ? "connect_refused" : "connect_failed";

	if (t->state != WARD_TUNNEL_CONNECT)
		return;
	uv_timer_stop(&t->timer);
	if (status < 0) {
		tunnel_log(t, WARD_LOG_DEBUG, "tunnel_connect_failed", uv_err_name(status));
		tunnel_client_failed(t, reason);
		ward_tunnel_close(t, true);
		return;
	}
	t->t_connected = uv_hrtime();
	ward_hist_observe(&m->connect_seconds[WARD_DIR_OUTBOUND], t->t_connected - t->t_start);
	apply_sockopts(t);
	if (tunnel_begin_tls(t, WARD_TLS_CLIENT) < 0) {
		tunnel_log(t, WARD_LOG_WARN, "tunnel_failed", ward_err_msg());
		tunnel_client_failed(t, NULL);
		ward_tunnel_close(t, true);
	}
}

void tunnel_client_open(struct ward_tunnel *t)
{
	t->entry.mux = &t->mux;
	while (t->waiting.head) {
		struct ward_h2_end *e =
		    ward_list_entry(t->waiting.head, struct ward_h2_end, wait_link);

		if (place(t, e) < 0) { /* never sent: another tunnel may take it */
			e->retryable = true;
			ward_h2_end_unanswered(e, false); /* off the waiting list */
		}
	}
}

void tunnel_client_failed(struct ward_tunnel *t, const char *reason)
{
	struct ward_worker *w = t->worker;
	bool fallback =
	    w->cfg->outbound.tunnel == WARD_TUNNEL_AUTO && tunnel_client_fallback_reason(reason);
	char peer[64];

	ward_pool_remove(&w->pool, &t->entry);
	if (fallback &&
	    ward_pool_fallback_mark(&w->pool, (const struct sockaddr *)&t->peer, uv_now(&w->loop),
				    (uint64_t)w->cfg->tunnel.fallback_s * 1000))
		ward_log(WARD_LOG_INFO, "tunnel_fallback", "{s:s,s:s,s:i}", "peer",
			 ward_addr_format((const struct sockaddr *)&t->peer, peer, sizeof(peer)),
			 "reason", reason, "direct_for_s", (int)w->cfg->tunnel.fallback_s);
	while (t->waiting.head)
		ward_h2_end_unanswered(
		    ward_list_entry(t->waiting.head, struct ward_h2_end, wait_link), fallback);
}

bool tunnel_client_authorize(struct ward_tunnel *t)
{
	struct ward_worker *w = t->worker;
	unsigned long suppressed = 0;

	if (ward_policy_outbound_allowed(w->cfg, t->peer_id))
		return true;
	ward_metric_add(&w->stats.authz_denied[WARD_DIR_OUTBOUND], 1);
	if (ward_log_limit_allow(&w->deny_log, uv_now(&w->loop), &suppressed))
		tunnel_log(t, WARD_LOG_WARN, "authz_denied", "spiffe_id_denied");
	tunnel_handshake_failed(t, "spiffe_id_denied", "outbound.allowed_server_ids");
	return false;
}
