/* Identity from the SPIFFE Workload API: the agent's side of the
 * FetchX509SVID stream (agent/wlclient.h). Each message is the full current
 * state; its default (first) SVID becomes a new TLS context handed to
 * on_update, after the same checks as a file identity (an X509-SVID of our
 * trust domain whose key matches, whose chain verifies against the bundle
 * and which is valid now). Rules from the Workload API standard:
 *  - an identical push changes nothing (nothing is rebuilt);
 *  - a message that fails validation is reported and skipped, the current
 *    identity stays;
 *  - a message without SVIDs is a redaction: the identity is dropped
 *    (on_update(NULL)) and mesh traffic is refused until a new one arrives;
 *  - while the stream is down the current SVID keeps serving until it
 *    expires, when it is dropped the same way;
 *  - federated_bundles become per-trust-domain anchors (agent/federation.h). */
#ifndef WARD_WLIDENTITY_H
#define WARD_WLIDENTITY_H

#include <uv.h>

#include "config/config.h"
#include "lib/tls_profile.h"
#include "agent/identity.h"
#include "spiffe/workload_msg.h"

struct ward_wlidentity;

/* Dials cfg->identity.workload_api on loop; contexts (or NULL for "none")
 * arrive through on_update, never synchronously from here. */
int ward_wlidentity_start(uv_loop_t *loop, const struct ward_config *cfg,
			  const struct ward_tls_policy *policy, ward_identity_cb on_update,
			  void *arg, struct ward_wlidentity **out) WARD_MUST_CHECK;
/* Reconnects now (SIGHUP), also after a status the client does not retry. */
void ward_wlidentity_restart(struct ward_wlidentity *id);
/* Stops the stream; freed once the handles have closed (run the loop). Safe
 * to call more than once before then. */
void ward_wlidentity_stop(struct ward_wlidentity *id);

/* Fetches one SVID on a private loop and builds its context, as the calling
 * uid (the uid the server attests), or fails naming why after timeout_ms
 * (`ward agent --check`, `ward doctor`). Needs curl_global_init. */
int ward_wlidentity_fetch_once(const struct ward_config *cfg, const struct ward_tls_policy *policy,
			       unsigned timeout_ms, struct ward_tls_ctx **out) WARD_MUST_CHECK;

/* Builds a context from one Workload API SVID and the federated bundles
 * sent with it (exposed for tests and for `ward agent --check`). */
int ward_wlidentity_build(const struct ward_wl_svid *svid, const struct ward_wl_bundle *federated,
			  size_t n_federated, const struct ward_config *cfg,
			  const struct ward_tls_policy *policy,
			  struct ward_tls_ctx **out) WARD_MUST_CHECK;

#endif
