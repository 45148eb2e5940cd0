/* How the inbound side reaches the app, and what it tells it. Every inbound
 * path goes through here: a direct mTLS connection (conn.c) and, with the
 * tunnel, each CONNECT stream. A caller
 *   1. describes who called (struct ward_app_caller),
 *   2. plans the dial (ward_app_dial_init): the original destination first,
 *      i.e. the pod IP and port the caller dialled, so apps bound to the pod
 *      IP are reached; loopback first instead when this worker learned
 *      recently that the app on that port listens only there;
 *   3. prepares the socket before connect (ward_app_dial_socket): with
 *      inbound.preserve_source it is bound to the caller's address
 *      (IP_TRANSPARENT), so the app's accept() sees the real client;
 *   4. on a failed connect asks ward_app_dial_failed whether to connect again
 *      to the other address (connection refused on the pod IP: the app listens
 *      only on loopback; or the remembered loopback refused), and on success
 *      calls ward_app_dial_connected;
 *   5. on ports in inbound.proxy_protocol_ports sends ward_app_proxy_header
 *      before the first byte of the stream: a PROXY protocol v2 header with
 *      the caller's address, the dialled address, TLS version and cipher
 *      (PP2_TYPE_SSL) and the caller's SPIFFE ID (TLV 0xD0).
 * The process needs CAP_NET_ADMIN for step 3 (ward_app_check says so at
 * start). */
#ifndef WARD_AGENT_APP_H
#define WARD_AGENT_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "lib/err.h"

/* The TLV that carries the caller's SPIFFE ID: the type Istio's ztunnel
 * sends its peers' identity in, which Istio's waypoints and agentgateway
 * read (the PROXY protocol spec leaves 0xD0 unassigned). */
#define WARD_APP_TLV_SPIFFE_ID 0xD0
/* How long a worker remembers that a port's app listens only on loopback. */
#define WARD_APP_LOOPBACK_MEMORY_MS 30000u
#define WARD_APP_MEMORY_SLOTS 64

/* Per worker (one thread): ports whose app refused on the pod IP and answered
 * on loopback. A small direct-mapped table: a collision costs one refused
 * connect, never a wrong answer. */
struct ward_app_memory {
	struct {
		uint64_t until_ms; /* uv_now() deadline; 0 = empty */
		uint16_t port;
		uint8_t family;
	} slot[WARD_APP_MEMORY_SLOTS];
};

/* Who called: what the inbound side knows once the caller is accepted. */
struct ward_app_caller {
	struct sockaddr_storage src; /* the caller's address, as the inbound socket sees it */
	struct sockaddr_storage dst; /* the original destination: pod IP and port dialled */
	const char *peer_id;	     /* verified SPIFFE ID (borrowed); NULL: plaintext */
	const char *tls_version;     /* borrowed; NULL: plaintext */
	const char *tls_cipher;	     /* borrowed, IANA name; NULL: plaintext */
	bool resumed;		     /* TLS resumption: no certificate on this connection */
};

/* One inbound connection's way to the app: small, it lives in every
 * connection. */
struct ward_app_dial {
	uint8_t pod_ip[16]; /* the dialled address (4 bytes used for IPv4) */
	uint16_t port;	    /* the dialled port: the app's */
	uint8_t family;	    /* AF_INET or AF_INET6 */
	bool loopback;	    /* the next connect goes to loopback, not the pod IP */
	bool switched;	    /* a refused connect moved us to the other address */
	bool transparent;   /* bound to the caller's address (preserve_source) */
	bool proxy_header;  /* a PROXY v2 header goes before the first byte */
};

/* Plans the dial to dst, the caller's original destination, at now_ms
 * (uv_now). */
void ward_app_dial_init(struct ward_app_dial *d, const struct ward_config *cfg,
			const struct ward_app_memory *m, const struct sockaddr_storage *dst,
			uint64_t now_ms);
/* Where the next connect goes. */
void ward_app_dial_target(const struct ward_app_dial *d, struct sockaddr_storage *to);
/* Socket options on the not-yet-connected socket fd (of d->family). */
int ward_app_dial_socket(const struct ward_app_dial *d, int fd,
			 const struct ward_app_caller *caller) WARD_MUST_CHECK;
/* The connect failed with libuv's status: 0 when the target is now the
 * other address, to try with a new socket (Linux leaves a socket whose
 * connect was refused unusable for the next one); else an error whose reason
 * says why there is nothing more to try. */
int ward_app_dial_failed(struct ward_app_dial *d, struct ward_app_memory *m,
			 int status) WARD_MUST_CHECK;
/* The connect succeeded: remember a loopback-only app for a while. */
void ward_app_dial_connected(const struct ward_app_dial *d, struct ward_app_memory *m,
			     uint64_t now_ms);

/* The PROXY v2 header for caller as one malloc'd block (*data, *len). */
int ward_app_proxy_header(const struct ward_app_caller *caller, uint8_t **data,
			  size_t *len) WARD_MUST_CHECK;

/* What the app was told, for logs and /stats/connections: the address it was
 * reached at, how (pod IP or loopback, after a refused connect or not), the
 * source address its accept() returned (the local address of fd, the
 * connected socket; -1 before the connect), whether a PROXY header went
 * first. NULL on allocation failure. */
json_t *ward_app_describe(const struct ward_app_dial *d, int fd);

/* At start, once privileges are dropped: inbound.preserve_source needs
 * CAP_NET_ADMIN (IP_TRANSPARENT); an error says how to grant it. */
int ward_app_check(const struct ward_config *cfg) WARD_MUST_CHECK;

#endif
