/* The HTTP server: listeners, one client per connection, optional TLS.
 *
 * A client reads until the parser has one complete request, stops reading,
 * hands it to the handler, writes the response, and only then parses what was
 * pipelined behind it; so one client holds at most one request plus
 * header_bytes + body_bytes of input. Errors (any status from 400 up) are
 * answered and followed by a shutdown(SHUT_WR), and the socket is closed once
 * the peer closes or a short linger expires, so the answer is not lost to a
 * reset.
 *
 * One timer per client holds whichever deadline applies: the request's head,
 * then its body (both counted from the request's start), the answer's write,
 * the keep-alive idle time, the linger. Admission (make_room) keeps a slow or
 * silent client from holding a place a newcomer needs.
 *
 * Connections are ward_streams (lib/stream.h); HTTPS goes through a
 * ward_tls_session (lib/tls.h).
 *
 * Lifetimes: the server lives until ward_http_server_free() and until its last
 * handle and client are gone; a client lives until its handles are closed and
 * no deferred reply refers to it. */
#include "lib/http.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/list.h"
#include "lib/stream.h"
#include "lib/tls.h"

#define MAX_LISTENERS 4
#define LINGER_MS 1000
#define READ_CHUNK 16384
#define UNIX_SOCKET_MODE 0600

union listener {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

enum client_state { C_READING, C_HANDLING, C_WRITING, C_LINGER, C_CLOSED };

struct client {
	struct ward_http_server *srv;
	struct ward_list_node link; /* in srv->clients */
	struct ward_stream s;
	uv_timer_t timer;
	int handles_open;
	enum client_state state;
	bool close_after_write;
	bool deferred;	     /* a ward_http_pending refers to us */
	bool in_request;     /* a request has started: accepted, or a byte of the next one */
	uint64_t started_ms; /* uv_now() when it started */
	bool loopback;
	struct sockaddr_storage peer;
	uint8_t source[WARD_ADDR_SOURCE_KEY];
	struct ward_buf in; /* plaintext not yet parsed */
	struct ward_http_parser parser;
	WOLFSSL_CTX *tls_ctx;	     /* owned ref, or NULL for plain HTTP */
	struct ward_tls_session tls; /* tls.ssl NULL for plain HTTP */
};

struct ward_http_pending {
	struct client *client;
};

struct ward_http_server {
	uv_loop_t *loop;
	struct ward_http_limits limits;
	ward_http_handler handler;
	void *arg;
	union listener listeners[MAX_LISTENERS];
	int n_listeners;
	int handles_open;
	struct ward_list clients; /* open connections */
	unsigned n_alive;	  /* client structs not yet freed */
	WOLFSSL_CTX *tls_ctx;	  /* owned ref */
	struct client *current;	  /* the client whose handler is running */
	bool stopping;
	uint64_t drops[WARD_HTTP_DROPS];
};

static void client_close(struct client *c);
static void client_pump(struct client *c);
static void on_timeout(uv_timer_t *t);
static const struct ward_stream_ops client_ops;

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
	ward_tls_session_close(&c->tls);
	if (c->tls_ctx)
		wolfSSL_CTX_free(c->tls_ctx);
	free(c);
	srv->n_alive--;
	server_maybe_free(srv);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	c->handles_open--;
	client_release(c);
}

static void on_stream_closed(struct ward_stream *s)
{
	struct client *c = s->owner;

	c->handles_open--;
	client_release(c);
}

static void client_close(struct client *c)
{
	if (c->state == C_CLOSED)
		return;
	c->state = C_CLOSED;
	ward_list_remove(&c->srv->clients, &c->link);
	ward_stream_close(&c->s, false);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* --- writing --- */

static void start_linger(struct client *c)
{
	c->state = C_LINGER;
	uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
	/* read (and drop) until the peer's EOF, which closes us early */
	if (ward_stream_shutdown(&c->s) < 0 || ward_stream_read_start(&c->s) < 0)
		client_close(c);
}

/* The response is out: linger and close, or read the next request. */
static void response_sent(struct client *c)
{
	if (c->close_after_write) {
		start_linger(c);
		return;
	}
	c->state = C_READING;
	c->in_request = false;
	ward_http_parse_next(&c->parser);
	client_pump(c); /* what was pipelined behind the request */
}

static void on_drained(struct ward_stream *s)
{
	struct client *c = s->owner;

	if (c->state == C_WRITING && s->queued == 0)
		response_sent(c);
}

/* Whatever wolfSSL produced goes out on the socket. */
static int flush_tls(struct client *c)
{
	size_t len;
	uint8_t *data = ward_tls_session_output(&c->tls, &len);

	return data ? ward_stream_write(&c->s, data, len) : 0;
}

static int write_bytes(struct client *c, uint8_t *data, size_t len)
{
	int rc;

	if (!c->tls.ssl)
		return ward_stream_write(&c->s, data, len);
	rc = ward_tls_session_write(&c->tls, data, len);
	free(data);
	if (rc == 0)
		rc = flush_tls(c);
	return rc < 0 ? ward_err_set(rc, "https write failed") : 0;
}

/* A HEAD answer has the GET's headers, Content-Length included, and no
 * body (RFC 9110 §9.3.2). An error answer closes the connection. */
static void send_response(struct client *c, struct ward_http_response *r, bool keep_alive,
			  bool head)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	keep_alive = keep_alive && r->status < 400;
	rc = ward_http_response_format(r, keep_alive, &data, &len);

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
	else /* all written now: go on from the next loop turn; else give it time */
		uv_timer_start(&c->timer, on_timeout,
			       c->s.queued == 0 ? 0 : c->srv->limits.request_timeout_ms, 0);
}

static void send_error(struct client *c, int status, const char *why)
{
	struct ward_http_response r = {0};

	ward_stream_read_stop(&c->s);
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
	ward_stream_read_stop(&c->s);
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

	if (c->state == C_READING && c->in_request) {
		c->srv->drops[WARD_HTTP_DROP_TIMEOUT]++;
		send_error(c, 408, "request not received in time");
	} else if (c->state == C_WRITING && c->s.queued == 0) {
		response_sent(c);
	} else if (c->state != C_HANDLING) {
		client_close(c); /* idle, lingered, or not reading its answer */
	}
}

/* The deadline that applies while a request is read: its head, then its
 * body, both from its start; or, between requests, the idle time. */
static void arm_read_timer(struct client *c)
{
	const struct ward_http_limits *l = &c->srv->limits;
	uint64_t now = uv_now(c->srv->loop), end;

	if (!c->in_request) {
		uv_timer_start(&c->timer, on_timeout, l->idle_timeout_ms, 0);
		return;
	}
	end = c->started_ms + (c->parser.head_done ? l->request_timeout_ms : l->header_timeout_ms);
	uv_timer_start(&c->timer, on_timeout, end > now ? end - now : 0, 0);
}

/* Parses buffered plaintext: dispatches one complete request, or waits for
 * more bytes under the request deadline. */
static void client_pump(struct client *c)
{
	size_t used = 0;
	enum ward_http_parse_state st;

	if (c->state != C_READING)
		return;
	if (!c->in_request && ward_buf_len(&c->in) > 0) {
		c->in_request = true;
		c->started_ms = uv_now(c->srv->loop);
	}
	st = ward_http_parse_feed(&c->parser, ward_buf_peek(&c->in), ward_buf_len(&c->in), &used);
	if (ward_buf_consume(&c->in, used) < 0 || ward_buf_len(&c->in) == 0)
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
	arm_read_timer(c);
	if (ward_stream_read_start(&c->s) < 0)
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
		return WARD_ERR_RANGE;
	}
	return 0;
}

/* Ciphertext in: finish the handshake, then decrypt into c->in. */
static int tls_input(struct client *c, uint8_t *data, size_t len)
{
	uint8_t plain[READ_CHUNK];
	size_t n;
	int wolf_err = 0, rc;

	GUARD(ward_tls_session_feed(&c->tls, data, len, c->s.read_size));
	if (!c->tls.established) {
		rc = ward_tls_session_handshake(&c->tls, &wolf_err);
		GUARD(flush_tls(c));
		if (rc == WARD_ERR_WOULDBLOCK)
			return 0;
		GUARD(rc);
	}
	while ((rc = ward_tls_session_read(&c->tls, plain, sizeof(plain), &n)) == 0)
		GUARD(plain_input(c, plain, n));
	explicit_bzero(plain, sizeof(plain));
	if (rc != WARD_ERR_WOULDBLOCK && rc != WARD_ERR_EOF)
		return rc;
	return flush_tls(c);
}

static void on_read(struct ward_stream *s, uint8_t *data, size_t len)
{
	struct client *c = s->owner;
	int rc;

	if (c->state == C_LINGER || c->state == C_CLOSED) {
		free(data);
		return;
	}
	if (c->tls.ssl) {
		rc = tls_input(c, data, len); /* takes data */
	} else {
		rc = plain_input(c, data, len);
		ward_stream_wipe_free(data, len);
	}
	if (rc == WARD_ERR_RANGE)
		return; /* answered 413 */
	if (rc < 0)
		client_close(c);
	else if (c->state == C_READING)
		client_pump(c);
}

static void on_end(struct ward_stream *s)
{
	client_close(s->owner);
}

static void on_error(struct ward_stream *s, int status)
{
	(void)status;
	client_close(s->owner);
}

static const struct ward_stream_ops client_ops = {
    .read = on_read,
    .eof = on_end,
    .error = on_error,
    .drained = on_drained,
    .closed = on_stream_closed,
};

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
	return ward_tls_session_open(&c->tls, ctx);
}

static int client_init(struct ward_http_server *srv, struct client *c, uv_stream_t *listener)
{
	enum ward_stream_kind kind = listener->type == UV_TCP ? WARD_STREAM_TCP : WARD_STREAM_PIPE;
	int len = sizeof(c->peer);

	c->srv = srv;
	ward_buf_init(&c->in, in_limit(&srv->limits));
	ward_http_parse_init(&c->parser, &srv->limits);
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 1;
	ward_list_add(&srv->clients, &c->link);
	srv->n_alive++;
	GUARD(ward_stream_init(&c->s, srv->loop, kind, AF_UNSPEC, &client_ops, c));
	c->handles_open++;
	c->s.read_size = READ_CHUNK;
	c->s.wipe = true; /* responses may carry what the handler considers private */
	GUARD(ward_stream_accept(&c->s, listener));
	if (kind == WARD_STREAM_TCP) {
		uv_tcp_getpeername(&c->s.h.tcp, (struct sockaddr *)&c->peer, &len);
		c->loopback = is_loopback(&c->peer);
		ward_addr_source_key(&c->peer, c->source);
	} else {
		c->loopback = true; /* a unix socket is reachable from this host only */
	}
	if (srv->tls_ctx)
		GUARD(client_tls_start(c, srv->tls_ctx));
	return 0;
}

/* --- admission --- */

/* Only waiting for its own request: nothing it was promised is lost if it
 * goes. A client being answered (or waiting for a deferred answer) stays. */
static bool sheddable(const struct client *c)
{
	return c->state == C_READING || c->state == C_LINGER;
}

/* The other clients: all, non-loopback, and from newcomer's source. */
static void census(const struct ward_http_server *srv, const struct client *newcomer,
		   unsigned *total, unsigned *general, unsigned *same)
{
	struct ward_list_node *n, *next;

	*total = *general = *same = 0;
	ward_list_each(&srv->clients, n, next)
	{
		const struct client *c = ward_list_entry(n, struct client, link);

		if (c == newcomer)
			continue;
		(*total)++;
		*general += !c->loopback;
		*same += !c->loopback && !memcmp(c->source, newcomer->source, sizeof(c->source));
	}
}

/* The oldest sheddable client from newcomer's source (same), or of all
 * non-loopback ones, or (loopback) of any. The list runs newest first. */
static struct client *oldest_sheddable(struct ward_http_server *srv, const struct client *newcomer,
				       bool same, bool loopback)
{
	struct ward_list_node *n, *next;
	struct client *oldest = NULL;

	ward_list_each(&srv->clients, n, next)
	{
		struct client *c = ward_list_entry(n, struct client, link);

		if (c == newcomer || !sheddable(c) || (c->loopback && !loopback))
			continue;
		if (same && memcmp(c->source, newcomer->source, sizeof(c->source)))
			continue;
		oldest = c;
	}
	return oldest;
}

static bool shed_one(struct ward_http_server *srv, struct client *victim, enum ward_http_drop why)
{
	srv->drops[why]++;
	if (!victim)
		return false;
	client_close(victim);
	return true;
}

/* Room for c within max_clients (less the loopback reserve, for others) and
 * max_clients_per_address: the oldest sheddable client makes way, or c is
 * refused. */
static bool make_room(struct ward_http_server *srv, struct client *c)
{
	const struct ward_http_limits *l = &srv->limits;
	unsigned total, general, same;
	struct client *victim;

	census(srv, c, &total, &general, &same);
	if (!c->loopback && same >= l->max_clients_per_address) {
		if (!shed_one(srv, oldest_sheddable(srv, c, true, false),
			      WARD_HTTP_DROP_ADDRESS_LIMIT))
			return false;
		census(srv, c, &total, &general, &same);
	}
	if (total < l->max_clients &&
	    (c->loopback || general < l->max_clients - l->loopback_clients))
		return true;
	victim = oldest_sheddable(srv, c, false, false);
	if (!victim && c->loopback)
		victim = oldest_sheddable(srv, c, false, true);
	return shed_one(srv, victim, WARD_HTTP_DROP_FULL);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct ward_http_server *srv = listener->data;
	struct client *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	if (client_init(srv, c, listener) < 0) {
		client_close(c);
		return;
	}
	if (!make_room(srv, c)) {
		/* Over TLS the 503 could only follow a handshake we will not do. */
		if (c->tls.ssl)
			client_close(c);
		else
			send_error(c, 503, "too many clients");
		return;
	}
	c->state = C_READING;
	c->in_request = true; /* a new connection owes us a request at once */
	c->started_ms = uv_now(srv->loop);
	client_pump(c);
}

int ward_http_server_new(uv_loop_t *loop, const struct ward_http_limits *limits,
			 ward_http_handler handler, void *arg, struct ward_http_server **out)
{
	struct ward_http_server *srv;

	ENSURE(limits->header_bytes >= 256 && limits->max_clients > limits->loopback_clients &&
		   limits->max_clients_per_address > 0 && limits->header_timeout_ms > 0 &&
		   limits->request_timeout_ms > 0 && limits->idle_timeout_ms > 0,
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

static void on_listener_closed(uv_handle_t *h)
{
	struct ward_http_server *srv = h->data;

	srv->handles_open--;
	server_maybe_free(srv);
}

/* The next listener slot; counted as open whatever the outcome, because the
 * listen helpers initialise the handle first and it must be closed. */
static union listener *next_listener(struct ward_http_server *srv)
{
	if (srv->n_listeners == MAX_LISTENERS)
		return NULL;
	srv->handles_open++;
	return &srv->listeners[srv->n_listeners++];
}

int ward_http_server_listen_tcp(struct ward_http_server *srv, const struct ward_addr *addr)
{
	union listener *l = next_listener(srv);
	int rc;

	ENSURE(l, WARD_ERR_RANGE, "http server: too many listeners");
	rc = ward_listen_tcp(srv->loop, &l->tcp, addr, false, 128, on_connection, srv);
	return rc < 0 ? ward_err_prefix(rc, "http") : 0;
}

int ward_http_server_listen_unix(struct ward_http_server *srv, const char *path)
{
	union listener *l = next_listener(srv);
	int rc;

	ENSURE(l, WARD_ERR_RANGE, "http server: too many listeners");
	rc = ward_listen_unix(srv->loop, &l->pipe, path, UNIX_SOCKET_MODE, 128, on_connection, srv);
	return rc < 0 ? ward_err_prefix(rc, "http listen") : 0;
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
	return (unsigned)srv->clients.n;
}

void ward_http_server_drops(const struct ward_http_server *srv, uint64_t out[WARD_HTTP_DROPS])
{
	memcpy(out, srv->drops, sizeof(srv->drops));
}

void ward_http_server_free(struct ward_http_server *srv)
{
	if (!srv)
		return;
	srv->stopping = true;
	for (int i = 0; i < srv->n_listeners; i++)
		uv_close(&srv->listeners[i].handle, on_listener_closed);
	srv->n_listeners = 0;
	while (srv->clients.head)
		client_close(ward_list_entry(srv->clients.head, struct client, link));
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
