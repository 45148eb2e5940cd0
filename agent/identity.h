/* Identity from PEM files (cert chain, key, bundle), as cert-manager,
 * spiffe-helper or a Kubernetes secret provide it. The files are watched
 * (their directories, so that a secret's atomic symlink swap is seen) and
 * re-read on change or on demand (SIGHUP); a new identity becomes a new TLS
 * context handed to on_update, an unchanged one is ignored, and a broken one
 * is reported while the old one stays in service. Files that do not exist yet
 * (a secret not mounted yet) are waited for: the agent runs without an
 * identity, refusing mesh traffic and not ready, until they appear. */
#ifndef WARD_IDENTITY_H
#define WARD_IDENTITY_H

#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "lib/tls_profile.h"
#include "agent/tls_ctx.h"

struct ward_identity;
/* SHA-256 of what was loaded: the SVID (chain and key) and the bundle apart,
 * so that a reload can tell a rotation from a bundle update. */
struct ward_identity_digest {
	uint8_t svid[32], bundle[32];
};
typedef void (*ward_identity_cb)(struct ward_tls_ctx *ctx, void *arg);

/* Loads the files once (failing with the reason if they are unusable) and
 * starts watching them on loop. *first gets a ref to the initial context, or
 * NULL when a file does not exist yet (on_update brings the first one). */
int ward_identity_start(uv_loop_t *loop, const struct ward_config *cfg,
			const struct ward_tls_policy *policy, ward_identity_cb on_update, void *arg,
			struct ward_identity **out, struct ward_tls_ctx **first) WARD_MUST_CHECK;
/* Re-reads the files now (SIGHUP). */
void ward_identity_reload(struct ward_identity *id);
/* Builds a context from the files without watching (ward agent --check, tests). */
int ward_identity_load(const struct ward_config *cfg, const struct ward_tls_policy *policy,
		       struct ward_tls_ctx **out,
		       struct ward_identity_digest *digest) WARD_MUST_CHECK;
/* Stops watching; freed once the handles have closed (run the loop). Safe
 * to call more than once before then. */
void ward_identity_stop(struct ward_identity *id);

#endif
