/* The admin HTTP endpoint (admin.listen, default 0.0.0.0:15020, which
 * `ward iptables` never captures). It runs on the agent's main loop, never on a
 * worker's: scrapes sum the workers' counters, /stats/connections asks each
 * worker for a bounded snapshot of its connections through its command async
 * and answers when all have replied.
 *
 *   GET  /healthz             200 while the process runs
 *   GET  /ready               200 once a TLS context is installed and the
 *                             listeners are up; 503 with the reason otherwise
 *   GET  /metrics             Prometheus text 0.0.4
 *   GET  /certs               JSON: the SVID in service, its chain, the bundle
 *   GET  /stats               JSON summary for `ward status`
 *   GET  /stats/connections   JSON: live connections with TCP_INFO (?limit=N)
 *   GET  /log/level           the current level
 *   POST /log/level?level=L   set the level (loopback only)
 *   POST /drain               drain as SIGTERM does, then exit (loopback only)
 *   POST /quitquitquit        the same (the name Envoy and Istio use)
 *   GET  /app-health/...      the app's own probes, run for the kubelet
 *                             (agent/app_probe.h) */
#ifndef WARD_ADMIN_H
#define WARD_ADMIN_H

#include <uv.h>

#include "config/config.h"
#include "lib/err.h"
#include "agent/tls_ctx.h"
#include "agent/worker.h"

struct ward_admin;
typedef void (*ward_admin_drain_cb)(void *arg);

/* Listens on cfg->admin.listen on loop. cfg is borrowed and must outlive the
 * admin. Not ready until ward_admin_set_identity and ward_admin_set_workers. */
int ward_admin_start(uv_loop_t *loop, const struct ward_config *cfg, ward_admin_drain_cb drain,
		     void *arg, struct ward_admin **out) WARD_MUST_CHECK;
/* The TLS context in service (a ref is taken; the previous one is put). */
void ward_admin_set_identity(struct ward_admin *a, struct ward_tls_ctx *ctx);
/* The started workers, listeners up (borrowed until ward_admin_free). */
void ward_admin_set_workers(struct ward_admin *a, struct ward_worker *workers, unsigned n);
struct ward_app_probes;
/* The app probes to serve under /app-health/ (owned from now on; started on
 * the admin's loop by the caller). */
void ward_admin_set_app_probes(struct ward_admin *a, struct ward_app_probes *probes);
/* /ready turns 503 ("draining") and /stats/connections is refused. */
void ward_admin_set_draining(struct ward_admin *a);
/* A worker signalled the main loop (wire ward_worker.notify here): answers
 * /stats/connections once every worker has filled its snapshot. */
void ward_admin_poll(struct ward_admin *a);
/* Closes the listener and clients (run the loop to finish). */
void ward_admin_stop(struct ward_admin *a);
/* Frees the memory, after ward_admin_stop, once the workers are joined and
 * the loop has run (workers may signal the admin until they end). */
void ward_admin_free(struct ward_admin *a);

/* Views, exposed for tests. */
json_t *ward_admin_certs_json(const struct ward_tls_ctx *ctx, time_t now);
/* NULL when ready, else why not. */
const char *ward_admin_not_ready(const struct ward_tls_ctx *ctx, bool listening, bool draining);

#endif
