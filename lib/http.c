/* The HTTP server: listeners, one client per connection, optional TLS.
 *
 * A client reads until the parser has one complete request, stops reading,
 * hands it to the handler, writes the response, and only then parses what was
 * pipelined behind it; so one client holds at most one request plus
 * header_bytes + body_bytes of input. Errors are answered and followed by a
 * shutdown(SHUT_WR), and the socket is closed once the peer closes or a
 * short linger expires, so the answer is not lost to a reset.
 *
 * Lifetimes: the server lives until ward_http_server_free() and until its last
 * handle and client are gone; a client lives until its handles are closed and
 * no deferred reply refers to it. */
#include "lib/http.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/sockopt.h"
#include "lib/tls.h"

#define MAX_LISTENERS 4
#define LINGER_MS 1000
#define READ_CHUNK 16384

union stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

enum client_state { C_READING, C_HANDLING, C_WRITING, C_LINGER, C_CLOSED };

struct client {
	struct ward_http_server *srv;
	struct client *prev, *next;
	union stream s;
	uv_timer_t timer;
	int handles_open;
	enum client_state state;
	bool close_after_write;
	bool deferred; /* a ward_http_pending refers to us */
	bool loopback;
	struct sockaddr_storage peer;
	struct ward_buf in; /* plaintext not yet parsed */
	struct ward_http_parser parser;
	WOLFSSL_CTX *tls_ctx; /* owned ref, or NULL for plain HTTP */
	WOLFSSL *ssl;	      /* owned */
	struct ward_tls_io io;
	bool handshake_done;
	size_t queued; /* bytes in uv_write requests */
};

struct ward_http_pending {
	struct client *client;
};

struct ward_http_server {
	uv_loop_t *loop;
	struct ward_http_limits limits;
	ward_http_handler handler;
	void *arg;
	union stream listeners[MAX_LISTENERS];
	int n_listeners;
	int handles_open;
	struct client *clients;
	unsigned n_clients, n_alive; /* open connections; client structs not yet freed */
	WOLFSSL_CTX *tls_ctx;	     /* owned ref */
	struct client *current;	     /* the client whose handler is running */
	bool stopping;
};

static void client_close(struct client *c);
static void client_pump(struct client *c);
static void on_timeout(uv_timer_t *t);
static int read_start(struct client *c);

/* --- server lifetime --- */

static void server_maybe_free(struct ward_http_server *srv)
{
	if (!srv->stopping || srv->handles_open || srv->n_alive)
		return;
	if (srv->tls_ctx)
		wolfSSL_CTX_free(srv->tls_ctx);
	free(srv);
}

static void client_release(struct client *c)
{
	struct ward_http_server *srv = c->srv;

	if (c->handles_open || c->deferred)
		return;
	ward_buf_free(&c->in);
	ward_http_parse_free(&c->parser);
	if (c->ssl)
		wolfSSL_free(c->ssl);
	if (c->tls_ctx)
		wolfSSL_CTX_free(c->tls_ctx);
	ward_buf_free(&c->io.in);
	ward_buf_free(&c->io.out);
	free(c);
	srv->n_alive--;
	server_maybe_free(srv);
}

static void on_client_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	c->handles_open--;
	client_release(c);
}

static void client_close(struct client *c)
{
	struct ward_http_server *srv = c->srv;

	if (c->state == C_CLOSED)
		return;
	c->state = C_CLOSED;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_clients--;
	uv_close(&c->s.handle, on_client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_client_handle_closed);
}

/* --- writing --- */

struct write_req {
	uv_write_t req;
	struct client *c;
	uint8_t *data; /* owned */
	size_t len;
};

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req); /* the linger timer or the peer's EOF closes the client */
}

static void start_linger(struct client *c)
{
	uv_shutdown_t *req = malloc(sizeof(*req));

	c->state = C_LINGER;
	uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
	/* read (and drop) until the peer's EOF, which closes us early */
	if (!req || uv_shutdown(req, &c->s.stream, on_shutdown) < 0 || read_start(c) < 0) {
		free(req);
		client_close(c);
	}
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct client *c = wr->c;

	c->queued -= wr->len;
	free(wr->data);
	free(wr);
	if (c->state != C_WRITING || c->queued)
		return;
	if (status < 0 || c->close_after_write) {
		if (status < 0)
			client_close(c);
		else
			start_linger(c);
		return;
	}
	c->state = C_READING;
	ward_http_parse_next(&c->parser);
	client_pump(c); /* what was pipelined behind the request */
}

static int write_raw(struct client *c, uint8_t *data, size_t len)
{
	struct write_req *wr = malloc(sizeof(*wr));
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	int rc;

	if (!wr) {
		free(data);
		return ward_err_set(WARD_ERR_NOMEM, "http write");
	}
	*wr = (struct write_req){.c = c, .data = data, .len = len};
	rc = uv_write(&wr->req, &c->s.stream, &b, 1, on_write);
	if (rc < 0) {
		free(data);
		free(wr);
		return ward_err_set(WARD_ERR_IO, "http write: %s", uv_strerror(rc));
	}
	c->queued += len;
	return 0;
}

/* Whatever wolfSSL produced goes out on the socket. */
static int flush_tls(struct client *c)
{
	size_t len;
	uint8_t *data = ward_buf_detach(&c->io.out, &len);

	return data ? write_raw(c, data, len) : 0;
}

static int write_bytes(struct client *c, uint8_t *data, size_t len)
{
	size_t off = 0;

	if (!c->ssl)
		return write_raw(c, data, len);
	while (off < len) {
		int chunk = len - off > READ_CHUNK ? READ_CHUNK : (int)(len - off);
		int n = wolfSSL_write(c->ssl, data + off, chunk);

		if (n <= 0) {
			free(data);
			return ward_err_set(WARD_ERR_TLS, "https write failed");
		}
		off += (size_t)n;
		if (flush_tls(c) < 0) {
			free(data);
			return ward_err_set(WARD_ERR_IO, "https write failed");
		}
	}
	free(data);
	return 0;
}

/* A HEAD answer has the GET's headers, Content-Length included, and no
 * body (RFC 9110 §9.3.2). */
static void send_response(struct client *c, struct ward_http_response *r, bool keep_alive,
			  bool head)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = ward_http_response_format(r, keep_alive, &data, &len);

	if (rc == 0 && head)
		len -= r->body_len; /* the body is the block's tail */
	free(r->body);
	r->body = NULL;
	c->state = C_WRITING;
	c->close_after_write = !keep_alive;
	uv_timer_stop(&c->timer);
	if (rc == 0)
		rc = write_bytes(c, data, len);
	if (rc < 0)
		client_close(c);
	else if (c->queued == 0) /* nothing went out (cannot happen with a body) */
		client_close(c);
}

static void send_error(struct client *c, int status, const char *why)
{
	struct ward_http_response r = {0};

	uv_read_stop(&c->s.stream);
	if (ward_http_response_text(&r, status, "%s", why) < 0) {
		client_close(c);
		return;
	}
	send_response(c, &r, false, false);
}

/* --- reading and dispatch --- */

static void dispatch(struct client *c)
{
	struct ward_http_server *srv = c->srv;
	struct ward_http_request *req = &c->parser.req;
	struct ward_http_response r = {0};

	req->loopback = c->loopback;
	req->peer = c->peer;
	c->state = C_HANDLING;
	uv_read_stop(&c->s.stream);
	uv_timer_stop(&c->timer);
	srv->current = c;
	srv->handler(srv, req, &r, srv->arg);
	srv->current = NULL;
	if (c->deferred && c->state == C_HANDLING && r.status == 0)
		return; /* ward_http_pending_reply() answers */
	if (r.status == 0 && ward_http_response_text(&r, 500, "no response") < 0) {
		client_close(c);
		return;
	}
	send_response(c, &r, req->keep_alive, req->method == HTTP_HEAD);
}

static void on_timeout(uv_timer_t *t)
{
	struct client *c = t->data;

	if (c->state == C_READING)
		send_error(c, 408, "request not received in time");
	else if (c->state == C_LINGER)
		client_close(c);
}

/* Parses buffered plaintext: dispatches one complete request, or waits for
 * more bytes under the request deadline. */
static void client_pump(struct client *c)
{
	size_t used = 0;
	enum ward_http_parse_state st;

	if (c->state != C_READING)
		return;
	st = ward_http_parse_feed(&c->parser, c->in.data ? c->in.data + c->in.rd : NULL,
				  ward_buf_len(&c->in), &used);
	c->in.rd += used;
	if (ward_buf_len(&c->in) == 0)
		ward_buf_free(&c->in);
	switch (st) {
	case WARD_HTTP_REQUEST:
		dispatch(c);
		return;
	case WARD_HTTP_ERROR:
		send_error(c, c->parser.error_status, "malformed or oversized request");
		return;
	case WARD_HTTP_NEED_MORE:
		break;
	}
	if (!uv_is_active((uv_handle_t *)&c->timer))
		uv_timer_start(&c->timer, on_timeout, c->srv->limits.request_timeout_ms, 0);
	if (read_start(c) < 0)
		client_close(c);
}

/* Room for one full request plus a read's worth of what follows it. */
static size_t in_limit(const struct ward_http_limits *l)
{
	return l->header_bytes + l->body_bytes + READ_CHUNK;
}

static int plain_input(struct client *c, const uint8_t *data, size_t len)
{
	if (ward_buf_append(&c->in, data, len) < 0) {
		send_error(c, 413, "request too large");
		return -1;
	}
	return 0;
}

/* Ciphertext in: finish the handshake, then decrypt into c->in. */
static int tls_input(struct client *c, const uint8_t *data, size_t len)
{
	uint8_t plain[READ_CHUNK];
	int wolf_err = 0, n;

	if (ward_buf_append(&c->io.in, data, len) < 0)
		return -1;
	if (!c->handshake_done) {
		int rc = ward_tls_handshake(c->ssl, &wolf_err);

		if (flush_tls(c) < 0 || (rc < 0 && rc != WARD_ERR_AGAIN))
			return -1;
		if (rc == WARD_ERR_AGAIN)
			return 0;
		c->handshake_done = true;
	}
	while ((n = wolfSSL_read(c->ssl, plain, sizeof(plain))) > 0)
		if (plain_input(c, plain, (size_t)n) < 0)
			return 1;
	wolf_err = wolfSSL_get_error(c->ssl, n);
	if (wolf_err != WOLFSSL_ERROR_WANT_READ && wolf_err != WOLFSSL_ERROR_ZERO_RETURN)
		return -1;
	return flush_tls(c) < 0 ? -1 : 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = malloc(READ_CHUNK);
	buf->len = buf->base ? READ_CHUNK : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = s->data;
	int rc;

	if (nread <= 0 || c->state == C_LINGER || c->state == C_CLOSED) {
		free(buf->base);
		if (nread < 0)
			client_close(c);
		return;
	}
	rc = c->ssl ? tls_input(c, (uint8_t *)buf->base, (size_t)nread)
		    : plain_input(c, (uint8_t *)buf->base, (size_t)nread);
	free(buf->base);
	if (rc < 0)
		client_close(c);
	else if (rc == 0 && c->state == C_READING)
		client_pump(c);
}

static int read_start(struct client *c)
{
	int rc = uv_read_start(&c->s.stream, alloc_cb, on_read);

	return rc == 0 || rc == UV_EALREADY ? 0 : ward_err_set(WARD_ERR_IO, "http read");
}

/* --- accepting --- */

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static int client_tls_start(struct client *c, WOLFSSL_CTX *ctx)
{
	ENSURE(wolfSSL_CTX_up_ref(ctx) == WOLFSSL_SUCCESS, WARD_ERR_TLS, "https context ref");
	c->tls_ctx = ctx;
	return ward_tls_session_attach(ctx, &c->io, &c->ssl);
}

static int client_init(struct ward_http_server *srv, struct client *c, uv_stream_t *listener)
{
	int len = sizeof(c->peer);

	c->srv = srv;
	ward_buf_init(&c->in, in_limit(&srv->limits));
	ward_http_parse_init(&c->parser, &srv->limits);
	ward_tls_io_init(&c->io);
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 2;
	if (listener->type == UV_TCP)
		uv_tcp_init(srv->loop, &c->s.tcp);
	else
		uv_pipe_init(srv->loop, &c->s.pipe, 0);
	c->s.handle.data = c;
	c->next = srv->clients;
	if (srv->clients)
		srv->clients->prev = c;
	srv->clients = c;
	srv->n_clients++;
	srv->n_alive++;
	ENSURE(uv_accept(listener, &c->s.stream) == 0, WARD_ERR_IO, "http accept");
	if (listener->type == UV_TCP) {
		uv_tcp_getpeername(&c->s.tcp, (struct sockaddr *)&c->peer, &len);
		c->loopback = is_loopback(&c->peer);
	} else {
		c->loopback = true; /* a unix socket is reachable from this host only */
	}
	if (srv->tls_ctx)
		GUARD(client_tls_start(c, srv->tls_ctx));
	return 0;
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct ward_http_server *srv = listener->data;
	struct client *c;
	bool full = srv->n_clients >= srv->limits.max_clients;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	if (client_init(srv, c, listener) < 0) {
		client_close(c);
		return;
	}
	if (full) {
		/* Over TLS the 503 could only follow a handshake we will not do. */
		if (c->ssl)
			client_close(c);
		else
			send_error(c, 503, "too many admin clients");
		return;
	}
	c->state = C_READING;
	client_pump(c);
}

int ward_http_server_new(uv_loop_t *loop, const struct ward_http_limits *limits,
			 ward_http_handler handler, void *arg, struct ward_http_server **out)
{
	struct ward_http_server *srv;

	ENSURE(limits->header_bytes >= 256 && limits->max_clients > 0 &&
		   limits->request_timeout_ms > 0,
	       WARD_ERR_INVALID, "http server: limits too small");
	srv = calloc(1, sizeof(*srv));
	ENSURE(srv, WARD_ERR_NOMEM, "http server");
	srv->loop = loop;
	srv->limits = *limits;
	srv->handler = handler;
	srv->arg = arg;
	*out = srv;
	return 0;
}

static union stream *next_listener(struct ward_http_server *srv)
{
	if (srv->n_listeners == MAX_LISTENERS)
		return NULL;
	return &srv->listeners[srv->n_listeners];
}

static void on_listener_closed(uv_handle_t *h)
{
	struct ward_http_server *srv = h->data;

	srv->handles_open--;
	server_maybe_free(srv);
}

static int listen_on(struct ward_http_server *srv, union stream *l, const char *what)
{
	int rc;

	l->handle.data = srv;
	srv->n_listeners++;
	srv->handles_open++;
	rc = uv_listen(&l->stream, 128, on_connection);
	ENSURE(rc == 0, WARD_ERR_IO, "http listen on %s: %s", what, uv_strerror(rc));
	return 0;
}

int ward_http_server_listen_tcp(struct ward_http_server *srv, const struct ward_addr *addr)
{
	union stream *l = next_listener(srv);
	char text[64];
	int fd, rc;

	ENSURE(l, WARD_ERR_RANGE, "http server: too many listeners");
	ward_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text));
	fd = ward_sockopt_listen(addr, false, 128);
	if (fd < 0)
		return ward_err_prefix(fd, "http listen on %s", text);
	uv_tcp_init(srv->loop, &l->tcp);
	rc = uv_tcp_open(&l->tcp, fd);
	if (rc < 0) {
		close(fd);
		l->handle.data = srv;
		srv->n_listeners++;
		srv->handles_open++;
		return ward_err_set(WARD_ERR_IO, "http listen on %s: %s", text, uv_strerror(rc));
	}
	return listen_on(srv, l, text);
}

int ward_http_server_listen_unix(struct ward_http_server *srv, const char *path)
{
	union stream *l = next_listener(srv);
	int rc;

	ENSURE(l, WARD_ERR_RANGE, "http server: too many listeners");
	uv_pipe_init(srv->loop, &l->pipe, 0);
	unlink(path);
	rc = uv_pipe_bind(&l->pipe, path);
	if (rc < 0) {
		l->handle.data = srv;
		srv->n_listeners++;
		srv->handles_open++;
		return ward_err_set(WARD_ERR_IO, "http listen on %s: %s", path, uv_strerror(rc));
	}
	return listen_on(srv, l, path);
}

int ward_http_server_set_tls(struct ward_http_server *srv, WOLFSSL_CTX *ctx)
{
	if (ctx)
		ENSURE(wolfSSL_CTX_up_ref(ctx) == WOLFSSL_SUCCESS, WARD_ERR_TLS,
		       "https context ref");
	if (srv->tls_ctx)
		wolfSSL_CTX_free(srv->tls_ctx); /* connections hold their own refs */
	srv->tls_ctx = ctx;
	return 0;
}

unsigned ward_http_server_clients(const struct ward_http_server *srv)
{
	return srv->n_clients;
}

void ward_http_server_free(struct ward_http_server *srv)
{
	if (!srv)
		return;
	srv->stopping = true;
	for (int i = 0; i < srv->n_listeners; i++)
		uv_close(&srv->listeners[i].handle, on_listener_closed);
	srv->n_listeners = 0;
	while (srv->clients)
		client_close(srv->clients);
	server_maybe_free(srv);
}

/* --- deferred replies --- */

struct ward_http_pending *ward_http_defer(struct ward_http_server *srv,
					  const struct ward_http_request *req)
{
	struct client *c = srv->current;
	struct ward_http_pending *p;

	if (!c || req != &c->parser.req || c->deferred)
		return NULL;
	p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	p->client = c;
	c->deferred = true;
	return p;
}

void ward_http_pending_reply(struct ward_http_pending *p, struct ward_http_response *resp)
{
	struct client *c = p->client;

	free(p);
	c->deferred = false;
	if (c->state != C_HANDLING) { /* the client went away meanwhile */
		free(resp->body);
		resp->body = NULL;
		client_release(c);
		return;
	}
	send_response(c, resp, c->parser.req.keep_alive, c->parser.req.method == HTTP_HEAD);
}
