/* Forced rotations (`ward server rotate svids|ca|root`), run on the server's
 * loop and answered on the admin socket once done. A forced CA or root
 * rotation opens no window in which a workload holds an SVID from a CA that
 * a peer does not trust yet:
 *
 *   1. prepare: the new CA (or a fresh root) goes into the bundle and the
 *      bundle is pushed on every open Workload API stream;
 *   2. propagate: wait until every open stream has been sent that bundle
 *      (written to its socket, server/wl_server.h "delivery"), at most
 *      rotation.max_wait_ms; streams still behind then are logged
 *      (rotation_lagging, with the callers' pid and uid) and named in the
 *      reply, and the rotation goes on: a peer that does not read must not
 *      hold every other workload's rotation forever;
 *   3. grace: rotation.grace_ms more, for the agents to build and install
 *      the TLS contexts with the new bundle;
 *   4. activate the CA and re-issue every SVID under it; push them, and wait
 *      (bounded likewise) until they were sent, so the reply can say when.
 *
 * `rotate svids` is step 4 alone. The scheduled rotation (ca_manager.h) is
 * not this: it prepares at 1/2 of the CA's life and activates at 5/6.
 *
 * The reply: {"ok": true, "rotated", "ca_serial", "previous_ca_serial",
 * "prepared": {"serial", "streams", "sent", "ms", "lagging": [{"pid",
 * "uid", "stream"}]}, "grace_ms", "activated_ms", "svids": {"streams",
 * "sent", "ms", "lagging"}, "ms", "summary"}; "prepared" and "grace_ms" only
 * for ca and root. One rotation at a time: another request meanwhile is
 * refused with the reason. */
#ifndef WARD_SERVER_ROTATION_H
#define WARD_SERVER_ROTATION_H

#include "server/ctl.h"

struct ward_server;

/* Starts the rotation of what ("svids", "ca", "root"); replies to req. */
void ward_rotation_start(struct ward_server *s, const char *what, struct ward_ctl_req *req);
/* The server stops: a rotation under way is answered with what was done. */
void ward_rotation_abort(struct ward_server *s);

#endif
