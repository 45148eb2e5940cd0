/* A small HTTP/1.1 server on libuv, for ward's own endpoints (the admin port,
 * the Kubernetes admission webhook). Requests are parsed by http-parser, never
 * by hand; every request is held to limits (header bytes, body bytes, a
 * deadline for the whole request, concurrent clients) and anything outside
 * them is answered with an error status and the connection closed. It never
 * blocks its loop and never trusts a length it did not check.
 *
 * Two layers: ward_http_parse_* turns bytes into one request at a time (no
 * I/O, so tests drive it in memory), and ward_http_server_* owns listeners and
 * client connections, optionally over TLS with wolfSSL through ward's memory
 * I/O (agent/tls.h). Everything runs on one loop's thread. */
#ifndef WARD_HTTP_H
#define WARD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <http_parser.h>
#include <uv.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/err.h"

#define WARD_HTTP_MAX_HEADERS 32

/* Every client is held to these. A request starts when the connection is
 * accepted, or with the first byte of a later request on a kept-alive one;
 * a client that is late gets 408 and the connection closed. When the server
 * is full, a newcomer takes the place of the oldest client that is only
 * waiting for its own request (idle, or a request not yet complete: nothing
 * is lost that it was promised); with none to shed, it gets 503. Loopback
 * and unix-socket clients are never limited per address and never shed to
 * make room for others. */
struct ward_http_limits {
	size_t header_bytes;	     /* request line + headers (431 past it) */
	size_t body_bytes;	     /* body after de-chunking (413 past it) */
	unsigned header_timeout_ms;  /* start of a request to the end of its head */
	unsigned request_timeout_ms; /* start to the end of the body; and to write the answer */
	unsigned idle_timeout_ms;    /* keep-alive: waiting for the next request */
	unsigned max_clients;	     /* open connections */
	unsigned max_clients_per_address; /* from one non-loopback source (lib/addr.h) */
	unsigned loopback_clients; /* of max_clients, only ever for loopback / unix clients */
	bool keep_alive;	   /* false: every response closes the connection */
};
/* 8 KiB of headers, 1 MiB of body, 10 s for each timeout, 64 clients, no
 * per-address limit or loopback reserve, keep-alive on. */
void ward_http_limits_default(struct ward_http_limits *l);

/* Wire data: pointer + length into the parser's buffers, valid until the
 * handler's response is sent. */
struct ward_http_slice {
	const char *p;
	size_t len;
};

struct ward_http_header {
	struct ward_http_slice name, value;
};

struct ward_http_request {
	enum http_method method;
	struct ward_http_slice path;  /* "/stats/connections", not decoded */
	struct ward_http_slice query; /* after '?', without it; len 0 if none */
	struct ward_http_header headers[WARD_HTTP_MAX_HEADERS];
	size_t n_headers;
	struct ward_http_slice body;
	bool keep_alive;	      /* what the client asked for */
	bool loopback;		      /* peer is 127.0.0.0/8, ::1 or a unix socket */
	struct sockaddr_storage peer; /* AF_UNSPEC for a unix socket */
};

/* True when the path is exactly s. */
bool ward_http_path_is(const struct ward_http_request *req, const char *s);
/* The value of header name (case-insensitive), or a zero slice. */
struct ward_http_slice ward_http_header_get(const struct ward_http_request *req, const char *name);
/* The value of query parameter key (not decoded), or a zero slice; *found
 * tells "absent" from "empty". */
struct ward_http_slice ward_http_query_get(const struct ward_http_request *req, const char *key,
					   bool *found);

struct ward_http_response {
	int status;
	const char *content_type; /* static string; NULL = text/plain */
	char *body;		  /* malloc'd or NULL; the server frees it */
	size_t body_len;
	const char *allow; /* static; sent as Allow: with 405 */
};

/* Fills r with status and a malloc'd text body (a newline is added). Returns
 * 0 or WARD_ERR_NOMEM, in which case r holds the status and no body. */
int ward_http_response_text(struct ward_http_response *r, int status, const char *fmt, ...)
    WARD_PRINTF(3, 4) WARD_MUST_CHECK;
/* Serialises status line, headers and body into one malloc'd block. */
int ward_http_response_format(const struct ward_http_response *r, bool keep_alive, uint8_t **out,
			      size_t *out_len) WARD_MUST_CHECK;
const char *ward_http_reason(int status);

/* --- the request parser: one request at a time, bytes in, no I/O --- */

enum ward_http_parse_state {
	WARD_HTTP_NEED_MORE, /* all input consumed, request incomplete */
	WARD_HTTP_REQUEST,   /* a complete request in p->req */
	WARD_HTTP_ERROR,     /* p->error_status says which (400, 413, 431...) */
};

struct ward_http_parser {
	http_parser hp;
	const struct ward_http_limits *limits; /* borrowed */
	struct ward_buf head;		       /* URL, header names and values, back to back */
	struct ward_buf body;
	/* offsets into head while a request is being assembled */
	size_t url_len;
	struct {
		size_t name_off, name_len, value_off, value_len;
	} hdr[WARD_HTTP_MAX_HEADERS];
	size_t n_hdr;
	bool in_value;	/* the last header callback was a value */
	bool head_done; /* the request line and headers are in */
	bool complete;
	int error_status;
	struct ward_http_request req; /* valid after WARD_HTTP_REQUEST */
};

void ward_http_parse_init(struct ward_http_parser *p, const struct ward_http_limits *l);
/* Feeds up to len bytes; *used says how many were consumed. It stops right
 * after a complete request so that pipelined bytes stay with the caller for
 * the next one (after ward_http_parse_next). */
enum ward_http_parse_state ward_http_parse_feed(struct ward_http_parser *p, const uint8_t *data,
						size_t len, size_t *used);
/* Forgets the request just handled and gets ready for the next one. */
void ward_http_parse_next(struct ward_http_parser *p);
void ward_http_parse_free(struct ward_http_parser *p);

/* --- the server --- */

struct ward_http_server;
struct ward_http_pending;

/* Answer req by filling resp and returning 0. A handler that must wait for
 * something (other threads) calls ward_http_defer() and returns 0 with resp
 * untouched; it answers later with ward_http_pending_reply(). */
typedef void (*ward_http_handler)(struct ward_http_server *srv, const struct ward_http_request *req,
				  struct ward_http_response *resp, void *arg);

int ward_http_server_new(uv_loop_t *loop, const struct ward_http_limits *limits,
			 ward_http_handler handler, void *arg,
			 struct ward_http_server **out) WARD_MUST_CHECK;
/* Listens on a TCP address (SO_REUSEADDR) or a unix socket path (replaced
 * if it exists). At most 4 listeners. */
int ward_http_server_listen_tcp(struct ward_http_server *srv,
				const struct ward_addr *addr) WARD_MUST_CHECK;
int ward_http_server_listen_unix(struct ward_http_server *srv, const char *path) WARD_MUST_CHECK;
/* Speaks HTTPS on new connections from now on with ctx (which the caller
 * built; a ref is taken, ward's memory I/O is attached per session). Each
 * connection holds its own ref, so a replaced context stays alive for the
 * connections that use it. NULL returns to plain HTTP. */
int ward_http_server_set_tls(struct ward_http_server *srv, WOLFSSL_CTX *ctx) WARD_MUST_CHECK;
/* Open client connections (for tests and metrics). */
unsigned ward_http_server_clients(const struct ward_http_server *srv);
/* Clients dropped by the limits, since the server started. */
enum ward_http_drop {
	WARD_HTTP_DROP_TIMEOUT,	      /* a request not complete in time (408) */
	WARD_HTTP_DROP_ADDRESS_LIMIT, /* shed: its address held max_clients_per_address */
	WARD_HTTP_DROP_FULL,	      /* shed, or refused (503): the server was full */
	WARD_HTTP_DROPS
};
void ward_http_server_drops(const struct ward_http_server *srv, uint64_t out[WARD_HTTP_DROPS]);
/* Closes listeners and every connection; the memory is released once libuv
 * has closed the handles (run the loop) and every deferred request has been
 * replied to (the reply to a closed client is dropped). */
void ward_http_server_free(struct ward_http_server *srv);

/* Called from inside a handler: the response will come later. The token stays
 * valid until ward_http_pending_reply(), even if the client goes away. */
struct ward_http_pending *ward_http_defer(struct ward_http_server *srv,
					  const struct ward_http_request *req);
/* Sends resp (taking its body) if the client is still there, and releases
 * the token. */
void ward_http_pending_reply(struct ward_http_pending *pending, struct ward_http_response *resp);

#endif
