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

/* One TLS session's memory I/O. `in` is filled by the caller with ciphertext
 * from the socket; `out` collects ciphertext to be written to it. */
struct ward_tls_io {
	struct ward_buf in;
	struct ward_buf out;
	bool in_eof; /* the socket hit EOF: report a closed transport once `in` drains */
};

enum ward_tls_role { WARD_TLS_CLIENT, WARD_TLS_SERVER };

/* Empty buffers with ward's limits: what one session may hold unread, and what
 * one wolfSSL call may produce before the caller flushes it. */
void ward_tls_io_init(struct ward_tls_io *io);

/* A session on ctx with ward's memory I/O attached to the session, so the
 * context needs no I/O callbacks of its own. io has been initialised with
 * ward_tls_io_init (bytes already in io.in are the session's first input)
 * and must outlive the session. */
int ward_tls_session_attach(WOLFSSL_CTX *ctx, struct ward_tls_io *io,
			    WOLFSSL **out) WARD_MUST_CHECK;

/* Drives the handshake: 0 when done, WARD_ERR_AGAIN when it needs more input,
 * WARD_ERR_TLS on failure with *wolf_err set (see ward_tls_failure_reason). */
int ward_tls_handshake(WOLFSSL *ssl, int *wolf_err) WARD_MUST_CHECK;

/* A bounded metric-label reason for a failed handshake: no_client_cert,
 * bad_chain, unknown_ca, expired, protocol_version, no_shared_cipher,
 * peer_reset, not_tls, bad_svid, other. */
const char *ward_tls_failure_reason(WOLFSSL *ssl, int wolf_err);

/* Negotiated parameters, IANA names where there are any. */
const char *ward_tls_cipher(WOLFSSL *ssl);
const char *ward_tls_group(WOLFSSL *ssl);

#endif
