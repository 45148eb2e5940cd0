/* One libuv stream connection (a TCP socket or a unix socket), the one way
 * ward reads, writes, shuts down and closes a connection: the proxy's two
 * sides, the HTTP server's clients, the Workload API's and the admin
 * socket's connections all sit on it.
 *
 * Reads arrive as malloc'd chunks of read_size bytes whose ownership passes to
 * the owner. Writes take ownership of a malloc'd block: it goes straight to
 * the kernel when nothing is queued ahead of it and the socket takes it all,
 * otherwise the rest waits behind a uv_write and counts in `queued`, which is
 * what owners compare with their limit for backpressure. A stream marked
 * `wipe` zeroes every block before it frees it (plaintext, key material).
 *
 * Lifetime: ward_stream_close is idempotent; the owner is told once, through
 * ops->closed, when libuv has closed the handle, and frees the stream then
 * and not before. No callback but `closed` comes after close. Callbacks never
 * run from inside the call that caused them, except the synchronous return of
 * an error code. */
#ifndef WARD_STREAM_H
#define WARD_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "lib/addr.h"
#include "lib/err.h"

struct ward_stream;

/* The owner's callbacks. Any may be NULL except read and closed. */
struct ward_stream_ops {
	/* len > 0 bytes read into data (malloc'd, s->read_size bytes of
	 * capacity), which the owner now owns. */
	void (*read)(struct ward_stream *s, uint8_t *data, size_t len);
	/* The peer finished sending (FIN); reading has stopped. */
	void (*eof)(struct ward_stream *s);
	/* A read or a queued write failed with libuv's status (UV_ECONNRESET
	 * and UV_EPIPE: the peer reset); reading has stopped. */
	void (*error)(struct ward_stream *s, int status);
	/* A queued write completed: `queued` fell. */
	void (*drained)(struct ward_stream *s);
	/* An upstream connect finished: status 0 or libuv's error. */
	void (*connected)(struct ward_stream *s, int status);
	/* Our shutdown(SHUT_WR) completed (or the peer was already gone). */
	void (*shut)(struct ward_stream *s);
	/* The handle is closed: the owner may free s. */
	void (*closed)(struct ward_stream *s);
};

enum ward_stream_kind { WARD_STREAM_TCP, WARD_STREAM_PIPE };

struct ward_stream {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	const struct ward_stream_ops *ops;
	void *owner;	      /* borrowed: the object the callbacks serve */
	size_t read_size;     /* bytes per read chunk */
	size_t queued;	      /* bytes handed to uv_write and not yet written */
	uv_connect_t connect; /* an upstream connect in flight */
	bool open;	      /* initialised and not yet closed */
	bool reading;
	bool eof;	/* the peer sent FIN */
	bool shut;	/* we asked for shutdown(SHUT_WR) */
	bool shut_done; /* ... and it completed */
	bool wipe;	/* zero written blocks before freeing them */
};

/* Initialises s on loop. For TCP, family AF_INET/AF_INET6 creates the socket
 * now (so options can be set before connect); AF_UNSPEC leaves it to accept. */
int ward_stream_init(struct ward_stream *s, uv_loop_t *loop, enum ward_stream_kind kind, int family,
		     const struct ward_stream_ops *ops, void *owner) WARD_MUST_CHECK;
/* Accepts a pending connection of listener into s (initialised, AF_UNSPEC). */
int ward_stream_accept(struct ward_stream *s, uv_stream_t *listener) WARD_MUST_CHECK;
/* Adopts an open socket (a socketpair end, in tests) into s. */
int ward_stream_open(struct ward_stream *s, int fd) WARD_MUST_CHECK;
/* Connects a TCP stream; ops->connected reports the outcome. */
int ward_stream_connect(struct ward_stream *s, const struct sockaddr *to) WARD_MUST_CHECK;
/* Connects a unix stream (WARD_STREAM_PIPE) to the socket at path; likewise
 * ops->connected reports the outcome, a path too long or absent included. */
int ward_stream_connect_unix(struct ward_stream *s, const char *path) WARD_MUST_CHECK;

int ward_stream_read_start(struct ward_stream *s) WARD_MUST_CHECK;
void ward_stream_read_stop(struct ward_stream *s);

/* Writes data[0..len) and takes ownership of data (freed on every path).
 * WARD_ERR_RESET when the peer has reset the connection, WARD_ERR_IO for
 * other failures. len 0 frees data and succeeds. */
int ward_stream_write(struct ward_stream *s, uint8_t *data, size_t len) WARD_MUST_CHECK;
/* The same for bytes the caller keeps: they are copied. */
int ward_stream_write_copy(struct ward_stream *s, const void *data, size_t len) WARD_MUST_CHECK;

/* shutdown(SHUT_WR) once the queued writes are out; ops->shut follows.
 * Safe to call more than once. */
int ward_stream_shutdown(struct ward_stream *s) WARD_MUST_CHECK;

/* Closes the handle (with reset: the peer sees an RST rather than a FIN,
 * TCP only). Safe to call more than once and on a stream never opened. */
void ward_stream_close(struct ward_stream *s, bool reset);

/* The socket's descriptor, -1 when closed. */
int ward_stream_fd(const struct ward_stream *s);

/* Frees a block that held plaintext or key material: zeroed first. */
void ward_stream_wipe_free(void *p, size_t len);

/* Listeners. A TCP listener gets SO_REUSEADDR and SO_REUSEPORT (and
 * TCP_FASTOPEN when asked). A unix listener replaces a socket file an earlier
 * run left at path (anything else there is refused) and is created with mode
 * from the start, never briefly wider. l->data = data. */
int ward_listen_tcp(uv_loop_t *loop, uv_tcp_t *l, const struct ward_addr *addr, bool fastopen,
		    int backlog, uv_connection_cb cb, void *data) WARD_MUST_CHECK;
int ward_listen_unix(uv_loop_t *loop, uv_pipe_t *l, const char *path, mode_t mode, int backlog,
		     uv_connection_cb cb, void *data) WARD_MUST_CHECK;

/* A unix-socket listener that owns its socket file: a server's front door.
 * pipe.data is the owner (for the connection callback); `closed` runs once
 * the handle is closed, after start failed or stop was called. */
struct ward_unix_listener {
	uv_pipe_t pipe;
	char *path; /* owned */
	bool open;  /* the handle needs closing */
	bool bound; /* the socket file is ours to remove */
	void (*closed)(struct ward_unix_listener *l);
};

/* Listens as ward_listen_unix does. On failure the listener is already
 * stopping: `closed` follows once the loop runs. */
int ward_unix_listener_start(struct ward_unix_listener *l, uv_loop_t *loop, const char *path,
			     mode_t mode, int backlog, uv_connection_cb cb, void *owner,
			     void (*closed)(struct ward_unix_listener *l)) WARD_MUST_CHECK;
/* Removes the socket file and closes the handle. Safe to call more than once. */
void ward_unix_listener_stop(struct ward_unix_listener *l);

#endif
