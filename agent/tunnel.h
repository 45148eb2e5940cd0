/* A tunnel connection between two sidecars: one TCP connection to (or from)
 * the peer's tunnel port, mutual TLS 1.3 with the SVIDs and ALPN h2, and the
 * HTTP/2 session (mux.h) whose CONNECT streams carry app connections. So a
 * new app connection costs a stream, not a TCP and TLS handshake.
 *
 * Outbound (tunnel_client.c): ward_tunnel_stream puts an app connection's
 * stream end on a pooled connection to the destination (pool.h), opening one
 * when none has room. The server's SPIFFE ID is verified once per connection
 * against outbound.allowed_server_ids. A destination without a tunnel
 * listener (refused, silent, not TLS, no h2) makes `auto` go direct, and is
 * remembered for tunnel.fallback_s.
 * Inbound (tunnel_server.c): the listener on inbound.tunnel_listen accepts,
 * verifies the client's SVID, and hands each CONNECT to the worker's
 * on_stream (the connection layer registers it), which answers it.
 *
 * Lifetime: a connection never outlives what authenticated it. When the
 * worker's SVID context changes (a new SVID or bundle), connections made
 * with the old one drain: GOAWAY, no new streams, closed once their streams
 * end. They also drain before either certificate's not-after and at
 * tunnel.max_connection_age_s; an unused pooled connection drains after
 * tunnel.idle_timeout_s.
 *
 * Writes: every stream's frames that became ready in one loop turn leave
 * together (ward_tunnel_flush_dirty from the worker's prepare/check handles):
 * one block, one TLS write, one socket write. Reads never stop (stopping
 * both ends of a connection that sends both ways would deadlock it); what
 * a read can bring is bounded by each stream's window. */
#ifndef WARD_AGENT_TUNNEL_H
#define WARD_AGENT_TUNNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "agent/mux.h"
#include "agent/pool.h"
#include "agent/tls_ctx.h"
#include "agent/worker.h"
#include "lib/list.h"
#include "lib/stream.h"
#include "lib/tls.h"

enum ward_tunnel_state {
	WARD_TUNNEL_CONNECT,   /* client: TCP connect in flight */
	WARD_TUNNEL_HANDSHAKE, /* TLS handshake */
	WARD_TUNNEL_OPEN,      /* streams flow */
	WARD_TUNNEL_DRAINING,  /* GOAWAY: the streams it has finish, no new ones */
	WARD_TUNNEL_CLOSING,
};

struct ward_tunnel {
	struct ward_worker *worker;
	struct ward_list_node link;	  /* in worker->tunnels */
	struct ward_list_node dirty_link; /* in worker->dirty while dirty */
	bool dirty;
	enum ward_dir dir;
	enum ward_tunnel_state state;
	uint64_t id;		     /* per worker, for logs and /stats/connections */
	struct ward_stream sock;     /* owned */
	struct ward_tls_session tls; /* owned */
	struct ward_mux mux;	     /* owned once the handshake is done */
	bool mux_open;
	uv_timer_t timer; /* connect / handshake deadline, then a 1 s tick */
	/* Server: in the worker's handshake budget until the peer has proved
	 * who it is; only then counted in limits.max_connections (counted). */
	struct ward_budget_slot unauth;
	bool counted;
	int handles_open;
	struct ward_tls_ctx *tls_ctx; /* owned ref: the SVID this connection was made with */
	char *peer_id;		      /* owned: the peer's verified SPIFFE ID */
	struct sockaddr_storage peer; /* client: the destination's tunnel port */
	time_t drain_at;	      /* unix s: certificate lifetimes and max age say drain */
	uint64_t t_start, t_connected, t_tls, t_handshake; /* uv_hrtime() */
	uint64_t idle_since_ms; /* uv_now() since when no stream is open; 0: busy */
	uint64_t draining_since_ms;
	const char *drain_when_open; /* a drain asked for before the handshake ended */
	bool finishing;		     /* close_notify and FIN sent: closing when the FIN is out */
	uint64_t bad_requests;	     /* server: counted so far into the metrics */
	/* client */
	struct ward_pool_entry entry;
	struct ward_list waiting; /* struct ward_h2_end (wait_link) until open */
};

/* What a stream's connection may show of its tunnel. */
struct ward_tunnel_info {
	uint64_t id;
	const char *peer_id;	      /* valid while the tunnel lives */
	struct ward_tls_ctx *tls_ctx; /* borrowed */
	const char *version, *cipher, *group;
	double handshake_ms;
	struct sockaddr_storage peer;
};

/* Where ward_tunnel_stream sent a stream. */
enum ward_tunnel_route {
	WARD_TUNNEL_ROUTED = 0, /* on a tunnel, or waiting for one: watch its response */
	WARD_TUNNEL_DIRECT = 1, /* no tunnel at dst (remembered): go direct now */
};

/* Client: a stream for e to dst (the original destination); forwarded is
 * the app's source as "ip:port". Fails only on allocation or policy
 * errors. */
int ward_tunnel_stream(struct ward_worker *w, const struct sockaddr *dst, struct ward_h2_end *e,
		       const char *forwarded, enum ward_tunnel_route *route) WARD_MUST_CHECK;
/* Server: accepts one pending connection on the tunnel listener. */
void ward_tunnel_accept(struct ward_worker *w, uv_stream_t *listener);

/* The worker's SVID context changed: drain connections made with another. */
void ward_tunnel_rotate(struct ward_worker *w);
/* Sends what every dirty tunnel has ready (the worker's loop-turn flush). */
void ward_tunnel_flush_dirty(struct ward_worker *w);
/* Drains every tunnel (the agent is shutting down). */
void ward_tunnel_drain_all(struct ward_worker *w);
/* The one close: streams still on it are reset (or, waiting client streams,
 * told there is no answer). Frees once its handles are closed. Safe twice. */
void ward_tunnel_close(struct ward_tunnel *t, bool reset);

/* The tunnel e's stream is on (false when none). */
bool ward_tunnel_info_of(const struct ward_h2_end *e, struct ward_tunnel_info *out);
struct ward_tunnel *ward_tunnel_of(struct ward_list_node *node);
/* For /stats/connections: addresses, peer ID, TLS, state, streams, TCP. */
json_t *ward_tunnel_describe(struct ward_tunnel *t, uint64_t now_ns);

#endif
