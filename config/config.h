/* ward configuration: the JSON file's shape (see README "Configuration"), parsed
 * into a fresh struct ward_config, validated, then handed to the agent. A
 * config is immutable once loaded; reload builds a new one. */
#ifndef WARD_CONFIG_H
#define WARD_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/capture.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/sockopt.h"
#include "lib/tls_profile.h"

#define WARD_CONFIG_MAX_LIST 256 /* entries in any list (CIDRs, ports, IDs) */

/* One `allowed_client_ids` entry: port 0 means "*" (any local port). */
struct ward_port_ids {
	uint16_t port;
	char **ids; /* owned; SPIFFE ID patterns, validated */
	size_t n_ids;
};

enum ward_inbound_mode { WARD_INBOUND_STRICT, WARD_INBOUND_PERMISSIVE };

/* outbound.tunnel: how mesh traffic reaches a peer. */
enum ward_tunnel_mode {
	WARD_TUNNEL_AUTO,   /* the tunnel, falling back to direct mTLS where there is none */
	WARD_TUNNEL_ALWAYS, /* the tunnel only */
	WARD_TUNNEL_NEVER,  /* one direct mTLS connection per app connection */
};

struct ward_config {
	char *trust_domain; /* owned; validated SPIFFE trust domain name */

	struct {
		char *workload_api; /* owned or NULL: "unix:///path" */
		char *cert_file;    /* owned or NULL: PEM chain, leaf first */
		char *key_file;	    /* owned or NULL: PEM private key */
		char *bundle_file;  /* owned or NULL: PEM trust bundle */
	} identity;

	struct {
		uint32_t uid;	  /* the proxy's uid, excluded from capture */
		uint32_t gid;	  /* the proxy's gid (default: same as uid) */
		unsigned workers; /* 0 = one per CPU */
	} proxy;

	struct {
		struct ward_addr listen;
		struct ward_cidr *mesh_cidrs;
		size_t n_mesh_cidrs; /* owned */
		uint16_t *passthrough_ports;
		size_t n_passthrough_ports; /* owned */
		char **allowed_server_ids;
		size_t n_allowed_server_ids; /* owned */
		enum ward_tunnel_mode tunnel;
		uint16_t *tunnel_exclude_ports;
		size_t n_tunnel_exclude_ports; /* owned: destination ports never tunnelled */
	} outbound;

	struct {
		struct ward_addr listen;
		enum ward_inbound_mode mode;
		struct ward_port_ids *allowed_client_ids;
		size_t n_allowed_client_ids; /* owned */
		uint16_t *proxy_protocol_ports;
		size_t n_proxy_protocol_ports; /* owned: the app gets a PROXY v2 header */
		bool preserve_source;	       /* the app sees the caller's address */
		bool tunnel;		       /* listen on tunnel_listen */
		struct ward_addr tunnel_listen;
		/* What `ward iptables` captures inbound (its --include-inbound-ports
		 * and --exclude-inbound-ports): the only ports a tunnel stream may
		 * ask for. */
		struct ward_capture_ports include_ports, exclude_ports;
	} inbound;

	struct {
		unsigned max_streams_per_connection;
		size_t stream_window_bytes;    /* what a stream may receive ahead of its app */
		unsigned idle_timeout_s;       /* an unused pooled connection closes */
		unsigned max_connection_age_s; /* any tunnel connection drains */
		unsigned fallback_s;	       /* a peer without a tunnel goes direct this long */
		/* A tunnel port that does not answer sooner is taken as none (a
		 * Service's ClusterIP has no port 15008): the wait before going direct. */
		unsigned connect_timeout_ms;
	} tunnel;

	struct {
		char *profile; /* owned: "modern" or "fips" */
		char **cipher_suites;
		size_t n_cipher_suites; /* owned; IANA names, override profile */
		char **groups;
		size_t n_groups; /* owned; override profile */
		char **signature_algorithms;
		size_t n_signature_algorithms; /* owned; RFC 8446 names, override profile */
		unsigned handshake_timeout_ms;
	} tls;

	struct ward_tcp_opts tcp; /* congestion owned */

	struct {
		unsigned max_connections;	    /* authenticated and outbound connections */
		unsigned max_handshakes;	    /* unauthenticated inbound, per worker */
		unsigned max_handshakes_per_source; /* ... per source address, per worker */
		size_t buffer_bytes;		    /* per direction per connection */
		unsigned connect_timeout_ms;
		unsigned idle_timeout_s;
		unsigned drain_timeout_s;
	} limits;

	struct {
		struct ward_addr listen;
		unsigned header_timeout_ms;	  /* a request's head must arrive within */
		unsigned max_clients;		  /* open connections */
		unsigned max_clients_per_address; /* from one non-loopback address */
		unsigned loopback_clients;	  /* of max_clients, kept for loopback */
	} admin;

	struct {
		char *level; /* owned: "debug" | "info" | "warn" | "error" */
	} log;
};

/* Fills cfg with every default (README documents each). trust_domain stays
 * NULL and the allowed_* lists empty: their defaults derive from the trust
 * domain and are filled by the load functions. Release the members of a
 * struct filled this way with ward_config_uninit(). */
int ward_config_init_defaults(struct ward_config *cfg) WARD_MUST_CHECK;
/* Frees every member and zeroes cfg; safe to call twice. */
void ward_config_uninit(struct ward_config *cfg);
/* Parses and validates a JSON text / file into a fresh config. On error, the
 * reason names the key path (e.g. "limits.buffer_bytes: must be >= 4096") and
 * *out is untouched. Relative identity file paths resolve against the config
 * file's directory. */
int ward_config_load_file(const char *path, struct ward_config **out) WARD_MUST_CHECK;
int ward_config_load_string(const char *json, const char *base_dir,
			    struct ward_config **out) WARD_MUST_CHECK;
/* Frees a config from ward_config_load_*(); NULL is fine. */
void ward_config_free(struct ward_config *cfg);

/* Resolves cfg->tls (profile and explicit lists) into what wolfSSL takes;
 * see lib/tls_profile.h. */
int ward_tls_policy_resolve(const struct ward_config *cfg,
			    struct ward_tls_policy *out) WARD_MUST_CHECK;

/* Lookups used on the data path. */
bool ward_config_in_mesh(const struct ward_config *cfg, const struct sockaddr *dst);
bool ward_config_is_passthrough_port(const struct ward_config *cfg, uint16_t port);
bool ward_config_is_proxy_protocol_port(const struct ward_config *cfg, uint16_t port);
/* Outbound traffic to this destination port never takes the tunnel. */
bool ward_config_tunnel_excluded(const struct ward_config *cfg, uint16_t port);
/* Inbound traffic to this local port is captured (would reach the inbound
 * listener): included, not excluded, and none of ward's own ports. */
bool ward_config_inbound_captured(const struct ward_config *cfg, uint16_t port);

#endif
