/* The socket ends: plaintext, and TLS through a memory-I/O session (see
 * end.h). Plaintext blocks are wiped before they are freed. */
#include "agent/end.h"

#include <stdlib.h>

static struct ward_sock_end *sock_end(struct ward_end *e)
{
	return (struct ward_sock_end *)e;
}

static const struct ward_sock_end *sock_end_c(const struct ward_end *e)
{
	return (const struct ward_sock_end *)e;
}

/* --- what both kinds share: the socket --- */

static int sock_pause(struct ward_end *e, bool paused)
{
	struct ward_sock_end *s = sock_end(e);

	if (paused) {
		ward_stream_read_stop(s->sock);
		return 0;
	}
	return ward_stream_read_start(s->sock);
}

static size_t sock_queued(const struct ward_end *e)
{
	return sock_end_c(e)->sock->queued;
}

static bool sock_flushed(const struct ward_end *e)
{
	const struct ward_stream *sock = sock_end_c(e)->sock;

	return sock->shut_done && sock->queued == 0;
}

/* --- plaintext --- */

static int plain_feed(struct ward_end *e, uint8_t *data, size_t len, size_t cap)
{
	struct ward_sock_end *s = sock_end(e);
	int rc;

	if (ward_buf_len(&s->held) == 0) {
		ward_buf_free(&s->held); /* storage that held plaintext before */
		return ward_buf_adopt(&s->held, data, len, cap);
	}
	rc = ward_buf_append(&s->held, data, len);
	ward_stream_wipe_free(data, cap);
	return rc;
}

static void plain_feed_eof(struct ward_end *e)
{
	sock_end(e)->sock_eof = true;
}

static int plain_take(struct ward_end *e, size_t max, uint8_t **data, size_t *len)
{
	struct ward_sock_end *s = sock_end(e);

	(void)max; /* what the socket delivered goes on whole */
	*data = ward_buf_detach(&s->held, len);
	if (*data)
		return 0;
	return s->sock_eof ? WARD_ERR_EOF : WARD_ERR_WOULDBLOCK;
}

static int plain_put(struct ward_end *e, uint8_t *data, size_t len)
{
	return ward_stream_write(sock_end(e)->sock, data, len);
}

static int plain_finish(struct ward_end *e)
{
	return ward_stream_shutdown(sock_end(e)->sock);
}

static const struct ward_end_ops plain_ops = {
    .feed = plain_feed,
    .feed_eof = plain_feed_eof,
    .take = plain_take,
    .put = plain_put,
    .finish = plain_finish,
    .pause = sock_pause,
    .queued = sock_queued,
    .flushed = sock_flushed,
};

void ward_end_plain_init(struct ward_sock_end *e, struct ward_stream *sock, size_t held_limit)
{
	*e = (struct ward_sock_end){.base = {.ops = &plain_ops}, .sock = sock};
	ward_buf_init(&e->held, held_limit);
	sock->wipe = true; /* what it writes is plaintext */
}

/* --- TLS --- */

int ward_end_tls_flush(struct ward_sock_end *e)
{
	size_t len;
	uint8_t *data = ward_tls_session_output(e->tls, &len);

	return data ? ward_stream_write(e->sock, data, len) : 0;
}

static int tls_feed(struct ward_end *e, uint8_t *data, size_t len, size_t cap)
{
	return ward_tls_session_feed(sock_end(e)->tls, data, len, cap);
}

static void tls_feed_eof(struct ward_end *e)
{
	ward_tls_session_feed_eof(sock_end(e)->tls);
}

/* Decrypts as many whole records as fit in one block of max bytes. */
static int tls_take(struct ward_end *e, size_t max, uint8_t **data, size_t *len)
{
	struct ward_sock_end *s = sock_end(e);
	uint8_t *chunk;
	size_t got = 0, n;
	int rc = 0;

	if (!ward_tls_session_readable(s->tls))
		return WARD_ERR_WOULDBLOCK; /* an idle connection allocates nothing */
	chunk = malloc(max);
	ENSURE(chunk, WARD_ERR_NOMEM, "tls read buffer");
	while (got < max && (rc = ward_tls_session_read(s->tls, chunk + got, max - got, &n)) == 0)
		got += n;
	if (got > 0 && (rc == WARD_ERR_WOULDBLOCK || rc == WARD_ERR_EOF || rc == 0))
		rc = 0; /* the EOF shows on the next take, after these bytes */
	if (rc == 0 || rc == WARD_ERR_WOULDBLOCK || rc == WARD_ERR_EOF) {
		int frc = ward_end_tls_flush(s); /* wolfSSL may have answered something */

		if (frc < 0 && rc == 0)
			rc = frc;
	}
	if (rc < 0 || got == 0) {
		ward_stream_wipe_free(chunk, got);
		return rc;
	}
	*data = chunk;
	*len = got;
	return 0;
}

static int tls_put(struct ward_end *e, uint8_t *data, size_t len)
{
	struct ward_sock_end *s = sock_end(e);
	int rc = ward_tls_session_write(s->tls, data, len);

	ward_stream_wipe_free(data, len);
	GUARD(rc);
	return ward_end_tls_flush(s);
}

/* close_notify, then FIN (RFC 8446 §6.1). */
static int tls_finish(struct ward_end *e)
{
	struct ward_sock_end *s = sock_end(e);

	ward_tls_session_notify(s->tls);
	GUARD(ward_end_tls_flush(s));
	return ward_stream_shutdown(s->sock);
}

static const struct ward_end_ops tls_ops = {
    .feed = tls_feed,
    .feed_eof = tls_feed_eof,
    .take = tls_take,
    .put = tls_put,
    .finish = tls_finish,
    .pause = sock_pause,
    .queued = sock_queued,
    .flushed = sock_flushed,
};

void ward_end_tls_init(struct ward_sock_end *e, struct ward_stream *sock,
		       struct ward_tls_session *tls)
{
	*e = (struct ward_sock_end){.base = {.ops = &tls_ops}, .sock = sock, .tls = tls};
	ward_buf_init(&e->held, 0);
}

void ward_end_sock_free(struct ward_sock_end *e)
{
	ward_buf_free(&e->held);
}
