/* One end of a proxied connection: where plaintext comes from and where it
 * goes. A plain end is a socket that carries plaintext (the app's side, or a
 * passthrough destination); a TLS end is a socket that carries a TLS session
 * (the other sidecar's side). The relay (relay.h) moves bytes between two
 * ends through these operations without knowing which kind either is, so a
 * further kind (a stream inside a multiplexed tunnel) is one more ops table.
 *
 * An end does not own its socket: the connection that holds both does, and
 * hands each end the bytes its socket read (ward_end_feed) and the news that
 * its socket hit EOF (ward_end_feed_eof). */
#ifndef WARD_AGENT_END_H
#define WARD_AGENT_END_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/stream.h"
#include "lib/tls.h"

struct ward_end;

struct ward_end_ops {
	/* Bytes the end's transport read (data malloc'd with cap bytes of
	 * capacity; taken over). */
	int (*feed)(struct ward_end *e, uint8_t *data, size_t len, size_t cap);
	/* The transport will deliver nothing more. */
	void (*feed_eof)(struct ward_end *e);
	/* The next plaintext the end holds, at most max bytes, as a malloc'd
	 * block the caller owns: 0, WARD_ERR_WOULDBLOCK (nothing yet),
	 * WARD_ERR_EOF (the far side finished sending), or a failure. */
	int (*take)(struct ward_end *e, size_t max, uint8_t **data, size_t *len);
	/* Plaintext to send; data (malloc'd) is taken over. WARD_ERR_RESET
	 * when the far side has reset. */
	int (*put)(struct ward_end *e, uint8_t *data, size_t len);
	/* Nothing more will be put: FIN, or close_notify then FIN. */
	int (*finish)(struct ward_end *e);
	/* Stop (true) or resume (false) reading the transport. */
	int (*pause)(struct ward_end *e, bool paused);
	/* Bytes put and not yet handed to the kernel. */
	size_t (*queued)(const struct ward_end *e);
	/* finish() was called and everything put has been written. */
	bool (*flushed)(const struct ward_end *e);
};

struct ward_end {
	const struct ward_end_ops *ops;
	bool eof; /* take() reported WARD_ERR_EOF: nothing more will come */
};

/* An end over a socket (ward_stream), plaintext or TLS. */
struct ward_sock_end {
	struct ward_end base;
	struct ward_stream *sock;     /* borrowed from the connection */
	struct ward_tls_session *tls; /* borrowed; NULL for a plain end */
	struct ward_buf held;	      /* plain end: plaintext read, not yet taken */
	bool sock_eof;		      /* plain end: the socket hit EOF */
};

/* A plain end on sock. held_limit bounds what it keeps unread. */
void ward_end_plain_init(struct ward_sock_end *e, struct ward_stream *sock, size_t held_limit);
/* A TLS end on sock: the session carries everything both ways. */
void ward_end_tls_init(struct ward_sock_end *e, struct ward_stream *sock,
		       struct ward_tls_session *tls);
/* Sends what the TLS session produced (handshake records, alerts). */
int ward_end_tls_flush(struct ward_sock_end *e) WARD_MUST_CHECK;
/* Releases what the end holds (wiped). Safe to call more than once. */
void ward_end_sock_free(struct ward_sock_end *e);

static inline int ward_end_feed(struct ward_end *e, uint8_t *data, size_t len, size_t cap)
{
	return e->ops->feed(e, data, len, cap);
}

static inline void ward_end_feed_eof(struct ward_end *e)
{
	e->ops->feed_eof(e);
}

/* Plaintext to send through the end (data malloc'd, taken over). */
static inline int ward_end_put(struct ward_end *e, uint8_t *data, size_t len)
{
	return e->ops->put(e, data, len);
}

#endif
