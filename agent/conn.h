/* A proxied connection: the socket we accepted (down) and the one we opened
 * (up), with TLS on the side that faces the other sidecar. Owns both sockets,
 * its timer, its TLS session and every buffer in flight; ward_conn_close is
 * the only way out and releases all of it once libuv has closed the handles. */
#ifndef WARD_CONN_H
#define WARD_CONN_H

#include <stdbool.h>
#include <uv.h>

#include "agent/mux.h"
#include "agent/worker.h"
#include "lib/list.h"

/* Accepts one pending connection on a listener. Never fails the listener: a
 * connection that cannot be served is refused (reset) and logged. */
void ward_conn_accept(struct ward_worker *w, uv_stream_t *listener, enum ward_dir dir);

/* A CONNECT a peer opened on a tunnel connection (the worker's on_stream):
 * checked (this pod's address, a captured port: else 403; the client's ID
 * for that port: else 401), then the app is connected as for direct
 * inbound traffic, and the answer is 200 once it is up (503 otherwise). */
void ward_conn_accept_stream(struct ward_worker *w, struct ward_h2_end *e,
			     const struct ward_mux_request *req);

/* A JSON description of a live connection for /stats/connections: addresses,
 * identities, TLS parameters, bytes, age, and TCP_INFO of the peer-facing
 * socket. Called on the worker's thread. NULL on allocation failure. */
json_t *ward_conn_describe(struct ward_conn *c, uint64_t now_ns);

/* The connection linked into a worker's list by node. */
struct ward_conn *ward_conn_of(struct ward_list_node *node);

/* Closes the connection; with reset, both peers see an RST instead of a FIN.
 * Safe to call more than once. */
void ward_conn_close(struct ward_conn *c, bool reset);

#endif
