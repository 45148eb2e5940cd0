#include "lib/tls.h"

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

void ward_tls_io_init(struct ward_tls_io *io)
{
	ward_buf_init(&io->in, TLS_IN_LIMIT);
	ward_buf_init(&io->out, TLS_OUT_LIMIT);
	io->in_eof = false;
}

int ward_tls_session_attach(WOLFSSL_CTX *ctx, struct ward_tls_io *io, WOLFSSL **out)
{
	WOLFSSL *ssl = wolfSSL_new(ctx);

	ENSURE(ssl, WARD_ERR_NOMEM, "tls: wolfSSL_new failed");
	wolfSSL_SSLSetIORecv(ssl, io_recv);
	wolfSSL_SSLSetIOSend(ssl, io_send);
	wolfSSL_SetIOReadCtx(ssl, io);
	wolfSSL_SetIOWriteCtx(ssl, io);
	*out = ssl;
	return 0;
}

int ward_tls_handshake(WOLFSSL *ssl, int *wolf_err)
{
	int rc = wolfSSL_negotiate(ssl);
	int err;

	if (rc == WOLFSSL_SUCCESS)
		return 0;
	err = wolfSSL_get_error(ssl, rc);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
		return WARD_ERR_AGAIN;
	*wolf_err = err;
	return ward_err_set(WARD_ERR_TLS, "%s",
			    wolfSSL_ERR_reason_error_string((unsigned long)err));
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
