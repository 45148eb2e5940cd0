/* Moving bytes between the two sides of a connection: plaintext straight
 * through, or through the TLS session on the side facing the other sidecar.
 * Backpressure: a side stops reading while the other side has buffer_bytes or
 * more waiting to be written, and starts again when the queue drains.
 * Half-close: FIN from the app becomes close_notify + FIN towards the peer
 * and close_notify (or FIN) from the peer becomes FIN towards the app
 * (RFC 8446 §6.1 lets each direction close on its own). */
#include "agent/conn_impl.h"

#include <stdlib.h>
#include <string.h>

#include <wolfssl/error-ssl.h>

#define READ_CHUNK (64u * 1024)
#define TLS_RECORD_MAX (16u * 1024)

struct write_req {
	uv_write_t req;
	struct conn_side *dst;
	uint8_t *data; /* owned */
	size_t len;
};

static size_t chunk_size(const struct ward_conn *c)
{
	size_t limit = c->worker->cfg->limits.buffer_bytes;

	return limit < READ_CHUNK ? limit : READ_CHUNK;
}

void relay_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn_side *s = h->data;
	size_t n = chunk_size(s->conn);

	(void)suggested;
	buf->base = malloc(n);
	buf->len = buf->base ? n : 0;
}

static void resume_source(struct ward_conn *c, struct conn_side *dst);

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct conn_side *dst = wr->dst;
	struct ward_conn *c = dst->conn;

	dst->queued -= wr->len;
	free(wr->data);
	free(wr);
	if (c->phase == PHASE_CLOSING)
		return;
	if (status == UV_ECONNRESET || status == UV_EPIPE) {
		ward_conn_close(c, true); /* the peer reset: carry it to the other side */
		return;
	}
	if (status < 0) {
		conn_fail(c, "write_failed", uv_err_name(status));
		return;
	}
	resume_source(c, dst);
	if (relay_finished(c))
		ward_conn_close(c, false);
}

/* Writes data (ownership taken) on dst: straight to the kernel when nothing is
 * queued ahead of it and the socket takes it all (the common case, with no
 * request to allocate), otherwise the rest is queued behind a uv_write. */
static int side_write(struct conn_side *dst, uint8_t *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	struct write_req *wr;
	int n, rc;

	n = dst->queued ? UV_EAGAIN : uv_try_write((uv_stream_t *)&dst->tcp, &b, 1);
	if (n == (int)len) {
		free(data);
		return 0;
	}
	if (n < 0 && n != UV_EAGAIN) {
		free(data);
		return ward_err_set(n == UV_ECONNRESET || n == UV_EPIPE ? WARD_ERR_AGAIN
									: WARD_ERR_IO,
				    "write: %s", uv_strerror(n));
	}
	if (n > 0)
		b = uv_buf_init((char *)data + n, (unsigned)(len - (size_t)n));
	wr = malloc(sizeof(*wr));
	if (!wr) {
		free(data);
		return ward_err_set(WARD_ERR_NOMEM, "write request");
	}
	wr->dst = dst;
	wr->data = data;
	wr->len = b.len;
	rc = uv_write(&wr->req, (uv_stream_t *)&dst->tcp, &b, 1, on_write);
	if (rc < 0) {
		free(data);
		free(wr);
		return ward_err_set(WARD_ERR_IO, "write: %s", uv_strerror(rc));
	}
	dst->queued += wr->len;
	return 0;
}

int relay_flush_tls(struct ward_conn *c)
{
	size_t len;
	uint8_t *data = ward_buf_detach(&c->io.out, &len);

	if (!data)
		return 0;
	return side_write(c->tls_side, data, len);
}

static bool over_limit(const struct ward_conn *c, const struct conn_side *dst)
{
	return dst->queued >= c->worker->cfg->limits.buffer_bytes;
}

static int side_read_start(struct conn_side *s)
{
	int rc;

	if (s->reading || s->eof)
		return 0;
	rc = uv_read_start((uv_stream_t *)&s->tcp, relay_alloc, relay_on_read);
	if (rc < 0)
		return ward_err_set(WARD_ERR_IO, "read start: %s", uv_strerror(rc));
	s->reading = true;
	return 0;
}

static void side_read_stop(struct conn_side *s)
{
	if (s->reading)
		uv_read_stop((uv_stream_t *)&s->tcp);
	s->reading = false;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn_side *s = req->data;
	struct ward_conn *c = s->conn;

	free(req);
	(void)status; /* a peer that already reset us has nothing left to shut */
	s->shut_done = true;
	if (c->phase != PHASE_CLOSING && relay_finished(c))
		ward_conn_close(c, false);
}

/* No more bytes will go out on s: close_notify first when s speaks TLS. */
static int side_shutdown(struct ward_conn *c, struct conn_side *s)
{
	uv_shutdown_t *req;
	int rc;

	if (s->shut)
		return 0;
	s->shut = true;
	if (s == c->tls_side && !c->notify_sent) {
		c->notify_sent = true;
		wolfSSL_shutdown(c->ssl); /* queues close_notify; the reply is not awaited */
		GUARD(relay_flush_tls(c));
	}
	req = malloc(sizeof(*req));
	ENSURE(req, WARD_ERR_NOMEM, "shutdown request");
	req->data = s;
	rc = uv_shutdown(req, (uv_stream_t *)&s->tcp, on_shutdown);
	if (rc < 0) {
		free(req);
		s->shut_done = true; /* already gone: nothing to wait for */
	}
	return 0;
}

bool relay_finished(const struct ward_conn *c)
{
	return c->phase == PHASE_RELAY && c->down.eof && c->up.eof && c->down.shut_done &&
	       c->up.shut_done && c->down.queued == 0 && c->up.queued == 0;
}

static void count_plain(struct ward_conn *c, struct conn_side *dst, size_t n)
{
	struct conn_side *app = c->dir == WARD_DIR_OUTBOUND ? &c->down : &c->up;
	enum ward_flow flow = dst == app ? WARD_FLOW_FROM_PEER : WARD_FLOW_TO_PEER;

	if (flow == WARD_FLOW_FROM_PEER)
		c->bytes_from_peer += n;
	else
		c->bytes_to_peer += n;
	ward_metric_add(&c->worker->stats.bytes[c->dir][flow], n);
}

/* Decrypts what the TLS side has buffered, in chunks, while the app side can
 * take more; turns close_notify or a FIN from the peer into our FIN. */
void relay_tls_input(struct ward_conn *c)
{
	struct conn_side *tls = c->tls_side, *dst = conn_other(c, tls);
	size_t cap = chunk_size(c) < TLS_RECORD_MAX ? TLS_RECORD_MAX : chunk_size(c);
	bool more = true;

	if (c->phase != PHASE_RELAY)
		return;
	while (more && !tls->eof && !over_limit(c, dst)) {
		uint8_t *chunk = malloc(cap);
		size_t len = 0;

		if (!chunk) {
			conn_fail(c, "relay_failed", "out of memory");
			return;
		}
		while (len < cap) {
			int n = wolfSSL_read(c->ssl, chunk + len, (int)(cap - len));
			int err;

			if (n > 0) {
				len += (size_t)n;
				continue;
			}
			err = wolfSSL_get_error(c->ssl, n);
			more = false;
			if (err == WOLFSSL_ERROR_WANT_READ)
				break;
			if (err == WOLFSSL_ERROR_ZERO_RETURN || err == SOCKET_PEER_CLOSED_E ||
			    (c->io.in_eof && ward_buf_len(&c->io.in) == 0)) {
				tls->eof = true; /* close_notify, or a FIN that truncated it */
				break;
			}
			free(chunk);
			conn_fail(c, "tls_read_failed",
				  wolfSSL_ERR_reason_error_string((unsigned long)err));
			return;
		}
		if (len == 0) {
			free(chunk);
		} else {
			count_plain(c, dst, len);
			if (side_write(dst, chunk, len) < 0) {
				conn_fail(c, "relay_failed", ward_err_msg());
				return;
			}
		}
	}
	/* The app is not keeping up: leave the rest in the peer's socket buffer
	 * (TCP flow control reaches the sender) rather than in ours. */
	if (over_limit(c, dst))
		side_read_stop(tls);
	if (relay_flush_tls(c) < 0 || (tls->eof && side_shutdown(c, dst) < 0)) {
		conn_fail(c, "relay_failed", ward_err_msg());
		return;
	}
	if (relay_finished(c))
		ward_conn_close(c, false);
}

static void resume_source(struct ward_conn *c, struct conn_side *dst)
{
	struct conn_side *src = conn_other(c, dst);

	if (c->phase != PHASE_RELAY || over_limit(c, dst))
		return;
	if (src == c->tls_side)
		relay_tls_input(c);
	if (c->phase == PHASE_RELAY && !over_limit(c, dst) && side_read_start(src) < 0)
		conn_fail(c, "relay_failed", ward_err_msg());
}

/* Plaintext read from src (ownership of data taken) goes to the other side. */
static int plain_input(struct ward_conn *c, struct conn_side *src, uint8_t *data, size_t n)
{
	struct conn_side *dst = conn_other(c, src);

	count_plain(c, dst, n);
	if (dst == c->tls_side) {
		int rc = wolfSSL_write(c->ssl, data, (int)n);

		free(data);
		ENSURE(
		    rc == (int)n, WARD_ERR_TLS, "tls write: %s",
		    wolfSSL_ERR_reason_error_string((unsigned long)wolfSSL_get_error(c->ssl, rc)));
		GUARD(relay_flush_tls(c));
	} else {
		GUARD(side_write(dst, data, n));
	}
	if (over_limit(c, dst))
		side_read_stop(src);
	return 0;
}

static void side_eof(struct ward_conn *c, struct conn_side *s)
{
	side_read_stop(s);
	if (s == c->tls_side) {
		c->io.in_eof = true;
		if (c->phase == PHASE_HANDSHAKE)
			conn_handshake_input(c);
		else
			relay_tls_input(c);
		return;
	}
	s->eof = true;
	if (c->phase != PHASE_RELAY) { /* peer gave up before we were through */
		conn_fail(c, "closed_early", "peer closed before the connection was set up");
		return;
	}
	if (side_shutdown(c, conn_other(c, s)) < 0)
		conn_fail(c, "relay_failed", ward_err_msg());
	else if (relay_finished(c))
		ward_conn_close(c, false);
}

static int tls_bytes(struct ward_conn *c, uint8_t *data, size_t n)
{
	return ward_buf_adopt(&c->io.in, data, n, chunk_size(c));
}

void relay_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn_side *s = stream->data;
	struct ward_conn *c = s->conn;
	uint8_t *data = (uint8_t *)buf->base;
	int rc;

	if (nread <= 0 || c->phase == PHASE_CLOSING) {
		free(data);
		if (nread == UV_EOF)
			side_eof(c, s);
		else if (nread < 0 && c->phase != PHASE_CLOSING)
			ward_conn_close(c, true); /* a reset is carried through as a reset */
		return;
	}
	c->last_active_ms = uv_now(&c->worker->loop);
	if (c->phase == PHASE_PEEK) {
		conn_peek_input(c, data, (size_t)nread);
		free(data);
	} else if (s == c->tls_side) {
		if (tls_bytes(c, data, (size_t)nread) < 0) {
			conn_fail(c, "relay_failed", ward_err_msg());
			return;
		}
		if (c->phase == PHASE_HANDSHAKE)
			conn_handshake_input(c);
		else
			relay_tls_input(c);
		if (ward_buf_len(&c->io.in) == 0) /* idle connections hold no buffer */
			ward_buf_drop(&c->io.in);
	} else if ((rc = plain_input(c, s, data, (size_t)nread)) < 0) {
		if (rc == WARD_ERR_AGAIN) /* the other side reset: carry it through */
			ward_conn_close(c, true);
		else
			conn_fail(c, "relay_failed", ward_err_msg());
	}
}

int relay_start(struct ward_conn *c)
{
	static const enum ward_conn_mode_label label[] = {
	    [MODE_MTLS] = WARD_MODE_MTLS,
	    [MODE_PASSTHROUGH] = WARD_MODE_PASSTHROUGH,
	    [MODE_PLAINTEXT] = WARD_MODE_PLAINTEXT,
	};

	c->phase = PHASE_RELAY;
	ward_metric_add(&c->worker->stats.proxied[c->dir][label[c->mode]], 1);
	c->last_active_ms = uv_now(&c->worker->loop);
	if (c->mode == MODE_PLAINTEXT && ward_buf_len(&c->io.in) > 0) {
		size_t len; /* what the permissive peek held back */
		uint8_t *held = ward_buf_detach(&c->io.in, &len);

		count_plain(c, &c->up, len);
		GUARD(side_write(&c->up, held, len));
	}
	GUARD(side_read_start(&c->down));
	GUARD(side_read_start(&c->up));
	if (c->tls_side)
		relay_tls_input(c); /* app data that arrived with the handshake */
	return 0;
}
