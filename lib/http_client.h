/* The client side of HTTP/1.1 without I/O: the request line of a GET, and
 * responses parsed by http-parser (never by hand), one at a time, held to a
 * body limit. `ward drill` uses it for its HTTP load and to watch agents'
 * admin endpoints. */
#ifndef WARD_HTTP_CLIENT_H
#define WARD_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "lib/buf.h"
#include "lib/err.h"

struct ward_http_reply {
	http_parser hp;
	struct ward_buf body; /* de-chunked */
	int status;	      /* once the headers are in */
	bool complete;	      /* the whole response is in */
	bool keep_alive;      /* the connection may carry the next request */
	bool too_big;
};

void ward_http_reply_init(struct ward_http_reply *r, size_t body_limit);
/* Feeds len bytes (len 0: the peer closed, which ends a body delimited by
 * the close). *used is what was consumed; bytes after a complete response
 * stay with the caller. Returns 0 once r->complete, WARD_ERR_WOULDBLOCK when
 * more is needed, WARD_ERR_INVALID for what is not an HTTP/1.x response
 * (the reason says http-parser's), WARD_ERR_RANGE for a body over the
 * limit, WARD_ERR_EOF when the peer closed before the response ended. */
int ward_http_reply_feed(struct ward_http_reply *r, const uint8_t *data, size_t len,
			 size_t *used) WARD_MUST_CHECK;
/* Ready for the next response on the same connection. */
void ward_http_reply_next(struct ward_http_reply *r);
void ward_http_reply_free(struct ward_http_reply *r);

/* "GET path HTTP/1.1" with Host (and "Connection: close" unless
 * keep_alive), as one malloc'd block for ward_stream_write. */
int ward_http_get_format(const char *host, const char *path, bool keep_alive, uint8_t **out,
			 size_t *len) WARD_MUST_CHECK;

#endif
