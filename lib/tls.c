#include "lib/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfio.h>

#define TLS_OUT_LIMIT (4u << 20) /* ciphertext produced by one call, flushed after it */
#define TLS_IN_LIMIT (1u << 20)	 /* unread ciphertext held for one session */

int ward_tls_global_init(void)
{
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		return ward_err_set(WARD_ERR_TLS, "wolfSSL_Init failed");
	return 0;
}

void ward_tls_global_cleanup(void)
{
	wolfSSL_Cleanup();
}

/* wolfSSL asks for sz bytes; hand it what the socket has delivered so far. */
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct ward_tls_io *io = arg;
	size_t n;

	(void)ssl;
	if (ward_buf_len(&io->in) == 0)
		return io->in_eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
	n = ward_buf_read(&io->in, buf, (size_t)sz);
	for (size_t i = 0; i < n && io->n_first < sizeof(io->first); i++)
		io->first[io->n_first++] = (uint8_t)buf[i];
	return (int)n;
}

/* Everything wolfSSL writes is queued; the caller flushes `out` to the socket
 * after each wolfSSL call, so wolfSSL never sees a partial write. */
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct ward_tls_io *io = arg;

	(void)ssl;
	if (ward_buf_append(&io->out, buf, (size_t)sz) < 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	return sz;
}

int ward_tls_policy_apply(WOLFSSL_CTX *c, const struct ward_tls_policy *p)
{
	ENSURE(wolfSSL_CTX_set_cipher_list(c, p->cipher_list) == WOLFSSL_SUCCESS, WARD_ERR_TLS,
	       "tls: cipher list \"%s\" rejected by wolfSSL", p->cipher_list);
	ENSURE(wolfSSL_CTX_set_groups(c, (int *)p->groups, p->n_groups) == WOLFSSL_SUCCESS,
	       WARD_ERR_TLS, "tls: key-exchange groups rejected by wolfSSL");
	ENSURE(wolfSSL_CTX_set1_sigalgs_list(c, p->sigalgs) == WOLFSSL_SUCCESS, WARD_ERR_TLS,
	       "tls: signature algorithms \"%s\" rejected by wolfSSL", p->sigalgs);
	return 0;
}

int ward_tls_policy_key_shares(WOLFSSL *ssl, const struct ward_tls_policy *p)
{
	for (int i = 0; i < p->n_key_shares; i++)
		ENSURE(wolfSSL_UseKeyShare(ssl, (word16)p->key_shares[i]) == WOLFSSL_SUCCESS,
		       WARD_ERR_TLS, "tls: key share for %s rejected by wolfSSL",
		       ward_tls_group_name(p->key_shares[i]));
	return 0;
}

static void io_init(struct ward_tls_io *io)
{
	ward_buf_init(&io->in, TLS_IN_LIMIT);
	ward_buf_init(&io->out, TLS_OUT_LIMIT);
	io->in_eof = false;
	io->n_first = 0;
}

int ward_tls_session_open(struct ward_tls_session *t, WOLFSSL_CTX *ctx)
{
	memset(t, 0, sizeof(*t));
	io_init(&t->io);
	t->ssl = wolfSSL_new(ctx);
	ENSURE(t->ssl, WARD_ERR_NOMEM, "tls: wolfSSL_new failed");
	wolfSSL_SSLSetIORecv(t->ssl, io_recv);
	wolfSSL_SSLSetIOSend(t->ssl, io_send);
	wolfSSL_SetIOReadCtx(t->ssl, &t->io);
	wolfSSL_SetIOWriteCtx(t->ssl, &t->io);
	return 0;
}

void ward_tls_session_close(struct ward_tls_session *t)
{
	if (t->ssl)
		wolfSSL_free(t->ssl);
	t->ssl = NULL;
	ward_buf_drop(&t->io.in); /* ciphertext: nothing to wipe */
	ward_buf_drop(&t->io.out);
}

int ward_tls_session_feed(struct ward_tls_session *t, uint8_t *block, size_t len, size_t cap)
{
	return ward_buf_adopt(&t->io.in, block, len, cap);
}

void ward_tls_session_feed_eof(struct ward_tls_session *t)
{
	t->io.in_eof = true;
}

size_t ward_tls_session_pending(const struct ward_tls_session *t)
{
	return ward_buf_len(&t->io.in);
}

bool ward_tls_session_readable(struct ward_tls_session *t)
{
	return ward_buf_len(&t->io.in) > 0 || t->io.in_eof || wolfSSL_pending(t->ssl) > 0;
}

/* wolfSSL_get_error(), but with the library's own code where it gives an
 * OpenSSL-style one that hides it: 5.9 built with OPENSSL_EXTRA reports
 * MATCH_SUITE_ERROR and SOCKET_PEER_CLOSED_E as WOLFSSL_ERROR_SYSCALL, and
 * the failure reasons need them. wolfSSL_state() is that code on every
 * version. */
static int session_error(WOLFSSL *ssl, int rc)
{
	int err = wolfSSL_get_error(ssl, rc);

	if (err == WOLFSSL_ERROR_SYSCALL && wolfSSL_state(ssl) < 0)
		return wolfSSL_state(ssl);
	return err;
}

/* An idle session holds no input buffer. */
static void release_idle_input(struct ward_tls_session *t)
{
	if (ward_buf_len(&t->io.in) == 0)
		ward_buf_drop(&t->io.in);
}

int ward_tls_session_handshake(struct ward_tls_session *t, int *wolf_err)
{
	int rc = wolfSSL_negotiate(t->ssl);
	int err;

	release_idle_input(t); /* a handshake in progress holds no read buffer */
	if (rc == WOLFSSL_SUCCESS) {
		t->established = true;
		return 0;
	}
	err = session_error(t->ssl, rc);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
		ENSURE(!t->io.in_eof || ward_buf_len(&t->io.in) > 0, WARD_ERR_EOF,
		       "peer closed during the handshake");
		return WARD_ERR_WOULDBLOCK;
	}
	*wolf_err = err;
	return ward_err_set(WARD_ERR_TLS, "%s",
			    wolfSSL_ERR_reason_error_string((unsigned long)err));
}

int ward_tls_session_read(struct ward_tls_session *t, uint8_t *buf, size_t cap, size_t *n)
{
	int got = wolfSSL_read(t->ssl, buf, (int)cap);
	int err;

	if (got > 0) {
		*n = (size_t)got;
		return 0;
	}
	*n = 0;
	err = session_error(t->ssl, got);
	if (err == WOLFSSL_ERROR_ZERO_RETURN || err == SOCKET_PEER_CLOSED_E ||
	    (t->io.in_eof && ward_buf_len(&t->io.in) == 0)) {
		release_idle_input(t);
		return WARD_ERR_EOF; /* close_notify, or a FIN that truncated it */
	}
	if (err == WOLFSSL_ERROR_WANT_READ) {
		release_idle_input(t);
		return WARD_ERR_WOULDBLOCK;
	}
	return ward_err_set(WARD_ERR_TLS, "tls read: %s",
			    wolfSSL_ERR_reason_error_string((unsigned long)err));
}

int ward_tls_session_write(struct ward_tls_session *t, const uint8_t *data, size_t len)
{
	int rc;

	if (len == 0)
		return 0;
	rc = wolfSSL_write(t->ssl, data, (int)len);
	ENSURE(rc == (int)len, WARD_ERR_TLS, "tls write: %s",
	       wolfSSL_ERR_reason_error_string((unsigned long)wolfSSL_get_error(t->ssl, rc)));
	return 0;
}

void ward_tls_session_notify(struct ward_tls_session *t)
{
	if (t->notify_sent)
		return;
	t->notify_sent = true;
	wolfSSL_shutdown(t->ssl);
}

uint8_t *ward_tls_session_output(struct ward_tls_session *t, size_t *len)
{
	return ward_buf_detach(&t->io.out, len);
}

/* Moves what from produced into to's input. */
static int shuttle(struct ward_tls_session *from, struct ward_tls_session *to)
{
	size_t len;
	uint8_t *d = ward_tls_session_output(from, &len);
	int rc;

	if (!d)
		return 0;
	rc = ward_buf_append(&to->io.in, d, len);
	free(d);
	return rc;
}

int ward_tls_session_pair(struct ward_tls_session *client, struct ward_tls_session *server,
			  int *client_err, int *server_err)
{
	int crc = WARD_ERR_WOULDBLOCK, src = WARD_ERR_WOULDBLOCK;

	for (int round = 0; round < 10; round++) {
		if (crc == WARD_ERR_WOULDBLOCK)
			crc = ward_tls_session_handshake(client, client_err);
		GUARD(shuttle(client, server));
		if (src == WARD_ERR_WOULDBLOCK)
			src = ward_tls_session_handshake(server, server_err);
		GUARD(shuttle(server, client));
		if (crc != WARD_ERR_WOULDBLOCK && src != WARD_ERR_WOULDBLOCK)
			break;
	}
	return crc < 0 ? crc : src;
}

static const char *alert_reason(int code)
{
	switch (code) {
	case 40:
		return "no_shared_cipher"; /* handshake_failure */
	case 42:
	case 43:
		return "bad_chain"; /* bad / unsupported certificate */
	case 45:
		return "expired";
	case 48:
		return "unknown_ca";
	case 70:
		return "protocol_version";
	case 116:
		return "no_client_cert"; /* certificate_required, RFC 8446 §6.2 */
	}
	return "peer_alert";
}

const char *ward_tls_failure_reason(WOLFSSL *ssl, int wolf_err)
{
	WOLFSSL_ALERT_HISTORY h;

	switch (wolf_err) {
	case NO_PEER_CERT:
		return "no_client_cert";
	case ASN_NO_SIGNER_E:
		return "unknown_ca";
	case ASN_AFTER_DATE_E:
	case ASN_BEFORE_DATE_E:
		return "expired";
	case ASN_SIG_CONFIRM_E:
	case VERIFY_CERT_ERROR:
	case SIG_VERIFY_E:
		return "bad_chain";
	case VERSION_ERROR:
		return "protocol_version";
	case MATCH_SUITE_ERROR:
	case UNSUPPORTED_SUITE:
		return "no_shared_cipher";
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E:
		return "peer_reset";
	case UNKNOWN_RECORD_TYPE:
	case PARSE_ERROR:
	case LENGTH_ERROR:
	case BUFFER_ERROR:
		return "not_tls";
	case FATAL_ERROR:
		if (ssl && wolfSSL_get_alert_history(ssl, &h) == WOLFSSL_SUCCESS)
			return alert_reason(h.last_rx.code);
		return "peer_alert";
	}
	return "other";
}

bool ward_tls_session_peer_plaintext(const struct ward_tls_session *t)
{
	const uint8_t *b = t->io.first;
	size_t n = t->io.n_first;

	if (n >= 1 && (b[0] < 20 || b[0] > 23))
		return true;
	return n >= 2 && b[1] != 3;
}

/* The first bytes wolfSSL consumed, then (when it stopped before 8) those
 * still waiting in the input, which follow them. */
const char *ward_tls_session_first_bytes(const struct ward_tls_session *t, char *buf, size_t len)
{
	uint8_t b[sizeof(t->io.first)];
	size_t n = t->io.n_first, more = ward_buf_len(&t->io.in), o = 0;

	memcpy(b, t->io.first, n);
	if (n < sizeof(b) && more) {
		more = more < sizeof(b) - n ? more : sizeof(b) - n;
		memcpy(b + n, ward_buf_peek(&t->io.in), more);
		n += more;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n && o + 5 < len; i++)
		o += (size_t)snprintf(
		    buf + o, len - o,
		    b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' ? "%c" : "\\x%02x", b[i]);
	return buf;
}

const char *ward_tls_cipher(WOLFSSL *ssl)
{
	const char *wolf = wolfSSL_get_cipher_name(ssl);

	return wolf ? ward_tls_cipher_iana(wolf) : "none";
}

const char *ward_tls_group(WOLFSSL *ssl)
{
	const char *name = wolfSSL_get_curve_name(ssl);

	return name ? ward_tls_group_iana(name) : "none";
}
