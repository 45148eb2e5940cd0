/* Private to tunnel.c (transport, TLS, lifetime), tunnel_client.c (the
 * pool side) and tunnel_server.c (the listener side). */
#ifndef WARD_AGENT_TUNNEL_IMPL_H
#define WARD_AGENT_TUNNEL_IMPL_H

#include "agent/tunnel.h"

#define TUNNEL_READ_SIZE (64u * 1024)
#define TUNNEL_OUT_HIGH (256u * 1024) /* socket bytes waiting that stop more output */
#define TUNNEL_HEADER_LIST (16u * 1024)

/* tunnel.c */
struct ward_tunnel *tunnel_new(struct ward_worker *w, enum ward_dir dir);
int tunnel_sock_init(struct ward_tunnel *t, int family) WARD_MUST_CHECK;
/* TLS in role (ALPN h2 offered, or required by a server), reading starts;
 * a server makes its session once the peer speaks (tunnel_server_heard). */
int tunnel_begin_tls(struct ward_tunnel *t, enum ward_tls_role role) WARD_MUST_CHECK;
/* The TLS session in role, with ALPN h2. */
int tunnel_tls_session(struct ward_tunnel *t, enum ward_tls_role role) WARD_MUST_CHECK;
/* A handshake that failed: counted, logged (rate-limited), closed. */
void tunnel_handshake_failed(struct ward_tunnel *t, const char *reason, const char *detail);
void tunnel_mark_dirty(struct ward_tunnel *t);
/* The state's deadline in ms (connect, handshake). */
void tunnel_arm(struct ward_tunnel *t, uint64_t ms);
/* Starts draining (no new streams); safe at any state and more than once. */
void tunnel_drain(struct ward_tunnel *t, const char *why);
void tunnel_log(struct ward_tunnel *t, enum ward_log_level level, const char *event,
		const char *reason);

/* tunnel_client.c: the TCP connect finished (status: libuv's). */
void tunnel_client_connected(struct ward_tunnel *t, int status);
/* tunnel_client.c: the tunnel opened (submit what waits) or will never
 * open (tell what waits: a fallback reason in auto mode sends them direct,
 * and marks the destination; NULL or another reason fails them). */
void tunnel_client_open(struct ward_tunnel *t);
void tunnel_client_failed(struct ward_tunnel *t, const char *reason);
/* The handshake failed for reason (or a connect with status): does that say
 * "no tunnel listener there" rather than "not who we want"? */
bool tunnel_client_fallback_reason(const char *reason);
/* Outbound policy on the server's ID; false (logged, counted) to refuse. */
bool tunnel_client_authorize(struct ward_tunnel *t);

/* tunnel_server.c: the peer's first bytes came: its TLS session is made
 * (< 0: failed, and the tunnel is closed). */
int tunnel_server_heard(struct ward_tunnel *t);
/* tunnel_server.c: the client authenticated: out of the handshake budget,
 * into limits.max_connections; false (refused, closed) when that is full. */
bool tunnel_server_admit(struct ward_tunnel *t);
/* tunnel_server.c: a CONNECT arrived (mux ops->request). */
void tunnel_server_request(void *owner, struct ward_h2_end *e, const struct ward_mux_request *req);

/* tunnel.c */
extern const struct ward_mux_ops tunnel_mux_ops;

#endif
