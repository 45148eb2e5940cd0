/* The app's kubelet probes, answered by the agent (README, Kubernetes:
 * "Probes of the app"). Under strict mTLS the kubelet's plain-text probes
 * would be refused on captured ports, so `ward inject` points each httpGet,
 * tcpSocket and grpc probe of an app container at the admin port, at a path
 * of its own (/app-health/<container>/<readiness|liveness|startup>), and
 * hands the original probes to the proxy in the environment variable
 * WARD_APP_PROBES, a JSON object keyed by those paths:
 *
 *   {"/app-health/web/readiness": {"httpGet": {"path": "/healthz",
 *        "port": 8080, "scheme": "HTTP", "httpHeaders": [{"name": "X",
 *        "value": "y"}]}, "timeoutSeconds": 1},
 *    "/app-health/web/liveness": {"tcpSocket": {"port": 8080}},
 *    "/app-health/web/startup": {"grpc": {"port": 9090, "service": ""}}}
 *
 * (Kubernetes' own probe fields, ports resolved to numbers.) A GET of such a
 * path makes the agent run the original probe against the app on loopback
 * and, when the connection is refused there, at the pod's own address (an
 * app bound to its pod IP alone), within the same deadline, as the kubelet
 * would: httpGet succeeds on a status 200-399 (redirects are
 * not followed; HTTPS certificates are not verified), tcpSocket when the
 * connection opens, grpc when grpc.health.v1.Health/Check answers SERVING.
 * The answer is 200 "ok" or 503 with the reason. Probes run on the admin's
 * loop through libcurl without blocking it, each bounded by its
 * timeoutSeconds (default 1, at most 60), and at most
 * WARD_APP_PROBE_MAX_INFLIGHT at once (more get 503 at once). */
#ifndef WARD_AGENT_APP_PROBE_H
#define WARD_AGENT_APP_PROBE_H

#include <stdbool.h>
#include <uv.h>

#include "config/probe.h"
#include "lib/err.h"
#include "lib/http.h"

#define WARD_APP_PROBES_ENV "WARD_APP_PROBES"
#define WARD_APP_PROBE_PREFIX "/app-health/"
#define WARD_APP_PROBE_MAX 64	       /* probes in one WARD_APP_PROBES */
#define WARD_APP_PROBE_MAX_INFLIGHT 16 /* probes running at once */

struct ward_app_probes;

/* Parses WARD_APP_PROBES (json; NULL or "" = no probes) into *out. Unknown
 * keys and bad values are errors naming the path and field. */
int ward_app_probes_parse(const char *json, struct ward_app_probes **out) WARD_MUST_CHECK;
/* How many probes were parsed. */
unsigned ward_app_probes_count(const struct ward_app_probes *p);
/* Runs probes on loop from now on. */
int ward_app_probes_start(struct ward_app_probes *p, uv_loop_t *loop) WARD_MUST_CHECK;
/* For the admin's handler: false unless req's path starts with
 * WARD_APP_PROBE_PREFIX. Otherwise the request is answered in r (404 for a
 * path no probe has, 405, 503 when too many run) or deferred until its probe
 * ends. p may be NULL (no probes: 404). */
bool ward_app_probes_serve(struct ward_app_probes *p, struct ward_http_server *srv,
			   const struct ward_http_request *req, struct ward_http_response *r);
/* Ends every probe in flight (answered 503 "shutting down") and frees p once
 * the loop has closed its handles. Safe on NULL. */
void ward_app_probes_free(struct ward_app_probes *p);

#endif
