/* TLS 1.3 glue on wolfSSL. wolfSSL never touches a socket: its I/O callbacks
 * read ciphertext from a session's input buffer and append ciphertext to an
 * output buffer, and the connection moves those bytes with libuv. This is what
 * keeps a slow peer from blocking a loop, and what lets unit tests run a whole
 * mTLS handshake in memory. The SVID contexts the sidecar builds on top of
 * this are in agent/tls_ctx.h. */
#ifndef WARD_TLS_H
#define WARD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/tls_profile.h"

int ward_tls_global_init(void) WARD_MUST_CHECK;
void ward_tls_global_cleanup(void);

/* Cipher suites, groups and signature algorithms of policy on c. */
int ward_tls_policy_apply(WOLFSSL_CTX *c, const struct ward_tls_policy *policy) WARD_MUST_CHECK;
/* The policy's key shares on a client session's ClientHello (call before its
 * first handshake step). wolfSSL alone sends one, for the first group, and a
 * server that lacks it answers with a HelloRetryRequest. */
int ward_tls_policy_key_shares(WOLFSSL *ssl, const struct ward_tls_policy *policy) WARD_MUST_CHECK;

/* One TLS session over memory buffers: ciphertext from the socket goes in
 * with ward_tls_session_feed, ciphertext to send comes out of
 * ward_tls_session_output, plaintext goes through read and write. This is
 * the one loop that drives wolfSSL, for the proxy's TLS ends, the HTTPS
 * server and the in-memory handshakes of the self-check and the tests. */
struct ward_tls_io {
	struct ward_buf in;  /* ciphertext not yet consumed by wolfSSL */
	struct ward_buf out; /* ciphertext wolfSSL produced, not yet taken */
	bool in_eof;	     /* the transport ended: report it once `in` drains */
	uint8_t first[8];    /* the peer's first bytes, to tell plaintext from TLS */
	uint8_t n_first;
};

struct ward_tls_session {
	WOLFSSL *ssl; /* owned; NULL before open and after close */
	struct ward_tls_io io;
	bool established; /* the handshake completed */
	bool notify_sent; /* our close_notify is queued */
};

enum ward_tls_role { WARD_TLS_CLIENT, WARD_TLS_SERVER };

/* A session on ctx (which needs no I/O callbacks of its own: the session's
 * buffers are attached to it). t must stay where it is until closed. */
int ward_tls_session_open(struct ward_tls_session *t, WOLFSSL_CTX *ctx) WARD_MUST_CHECK;
/* Frees the session and its buffers. Safe to call more than once. */
void ward_tls_session_close(struct ward_tls_session *t);

/* Ciphertext from the transport; block (malloc'd, cap bytes of capacity)
 * is taken over, without a copy when nothing is pending. */
int ward_tls_session_feed(struct ward_tls_session *t, uint8_t *block, size_t len,
			  size_t cap) WARD_MUST_CHECK;
/* The transport ended (FIN). */
void ward_tls_session_feed_eof(struct ward_tls_session *t);
/* Ciphertext waiting to be fed to wolfSSL. */
size_t ward_tls_session_pending(const struct ward_tls_session *t);
/* Whether a read could return anything now: ciphertext or decrypted bytes
 * are buffered, or the transport's end is still to be reported. */
bool ward_tls_session_readable(struct ward_tls_session *t);

/* Drives the handshake: 0 when done, WARD_ERR_WOULDBLOCK when it needs more
 * input, WARD_ERR_EOF when the transport ended first, WARD_ERR_TLS on
 * failure with *wolf_err set (see ward_tls_failure_reason). */
int ward_tls_session_handshake(struct ward_tls_session *t, int *wolf_err) WARD_MUST_CHECK;

/* Decrypts up to cap bytes into buf: 0 with *n > 0; WARD_ERR_WOULDBLOCK when
 * no whole record is buffered; WARD_ERR_EOF when the peer finished its
 * direction (close_notify, or the transport ended: RFC 8446 §6.1 lets each
 * direction close on its own); WARD_ERR_TLS for a broken record. */
int ward_tls_session_read(struct ward_tls_session *t, uint8_t *buf, size_t cap,
			  size_t *n) WARD_MUST_CHECK;
/* Encrypts data[0..len) into the output. */
int ward_tls_session_write(struct ward_tls_session *t, const uint8_t *data,
			   size_t len) WARD_MUST_CHECK;
/* Queues our close_notify (once); the peer's reply is not awaited. */
void ward_tls_session_notify(struct ward_tls_session *t);
/* The ciphertext produced so far as one malloc'd block for the caller to
 * send (and free), or NULL with *len 0 when there is none. */
uint8_t *ward_tls_session_output(struct ward_tls_session *t, size_t *len);

/* Runs a whole handshake between two sessions in memory, moving each one's
 * output into the other's input: 0 when both completed, otherwise the first
 * failure (WARD_ERR_TLS with *client_err or *server_err set). */
int ward_tls_session_pair(struct ward_tls_session *client, struct ward_tls_session *server,
			  int *client_err, int *server_err) WARD_MUST_CHECK;

/* A bounded metric-label reason for a failed handshake: no_client_cert,
 * bad_chain, unknown_ca, expired, protocol_version, no_shared_cipher,
 * peer_reset, not_tls, bad_svid, other. */
const char *ward_tls_failure_reason(WOLFSSL *ssl, int wolf_err);

/* Whether the peer's first bytes were no TLS record (RFC 8446 §5.1: content
 * type 20..23, legacy version 3.x): a plaintext protocol where TLS was
 * expected (wolfSSL reads an HTTP answer as a record layer version error, so
 * ask this before ward_tls_failure_reason). False until the peer has sent
 * something. */
bool ward_tls_session_peer_plaintext(const struct ward_tls_session *t);
/* The peer's first bytes for a log line: printable ASCII kept, others as
 * \xNN. */
const char *ward_tls_session_first_bytes(const struct ward_tls_session *t, char *buf, size_t len);

/* Negotiated parameters, IANA names where there are any. */
const char *ward_tls_cipher(WOLFSSL *ssl);
const char *ward_tls_group(WOLFSSL *ssl);

#endif
