/* A tunnel's HTTP/2 session: nghttp2's callbacks, the CONNECT requests and
 * responses, drain, and the dispatch of what the callbacks noted (mux.h). */
#include "agent/mux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "lib/addr.h"
#include "lib/h2.h"

#define CONN_WINDOW_MIN (16u << 20) /* the connection window: many streams' worth */
#define DRAIN_PING "ward-drn"	    /* 8 bytes of PING opaque data */
#define EV_REQUEST 16u		    /* server: a request to hand to the owner */
#define STAGING_SLACK (32u * 1024)  /* a frame past out_high, header and all */
#define IN_RESERVE (64u * 1024)	    /* a stream's receive buffer starts this big */
/* What one TLS write and one socket write carry at most: enough to batch
 * every stream ready in a loop turn, small enough that the kernel takes it
 * whole (a write it cannot take costs a queue and a POLLOUT round trip). */
#define FLUSH_BLOCK (64u * 1024)

static struct ward_h2_end *end_of(nghttp2_session *h2, int32_t id)
{
	return id > 0 ? nghttp2_session_get_stream_user_data(h2, id) : NULL;
}

/* --- request headers (server) --- */

/* "ip:port" or "[ipv6]:port", numeric: an address, never a name to look up. */
static bool parse_authority(const uint8_t *v, size_t len, struct ward_mux_request *req)
{
	struct ward_addr a;

	if (len == 0 || len >= sizeof(req->authority_text) || memchr(v, '\0', len))
		return false;
	memcpy(req->authority_text, v, len);
	req->authority_text[len] = '\0';
	if (ward_addr_parse(req->authority_text, &a) < 0 || ward_addr_port(&a) == 0)
		return false;
	req->authority = a.ss;
	return true;
}

/* The first for= of a Forwarded header (RFC 7239 §4-6): for="ip:port",
 * for="[v6]:port", or a bare IPv4 address. Anything else is ignored: the
 * value is only logged. */
bool ward_mux_parse_forwarded(const uint8_t *v, size_t len, struct sockaddr_storage *out)
{
	char text[WARD_MUX_AUTHORITY_MAX], with_port[WARD_MUX_AUTHORITY_MAX + 3];
	struct ward_addr a;
	size_t i = 0, n = 0;

	while (i + 4 <= len && strncasecmp((const char *)v + i, "for=", 4))
		i++;
	if (i + 4 > len)
		return false;
	i += 4;
	if (i < len && v[i] == '"')
		i++;
	while (i < len && v[i] != '"' && v[i] != ';' && v[i] != ',' && n + 1 < sizeof(text))
		text[n++] = (char)v[i++];
	text[n] = '\0';
	if (n == 0 || memchr(text, '\0', n))
		return false;
	if (ward_addr_parse(text, &a) < 0) {
		snprintf(with_port, sizeof(with_port), "%s:0", text);
		if (ward_addr_parse(with_port, &a) < 0)
			return false;
	}
	*out = a.ss;
	return true;
}

static void request_header(struct ward_h2_end *e, const uint8_t *name, size_t namelen,
			   const uint8_t *value, size_t valuelen)
{
	if (ward_h2_is(name, namelen, ":method")) {
		e->is_connect = ward_h2_is(value, valuelen, "CONNECT");
	} else if (ward_h2_is(name, namelen, ":authority")) {
		e->has_authority = parse_authority(value, valuelen, &e->req);
	} else if (ward_h2_is(name, namelen, ":protocol")) {
		e->bad_request = true; /* extended CONNECT (RFC 8441) is not HBONE */
	} else if (ward_h2_is(name, namelen, "forwarded") && !e->req.has_forwarded) {
		e->req.has_forwarded =
		    ward_mux_parse_forwarded(value, valuelen, &e->req.forwarded_for);
	}
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ward_mux *m = user;
	struct ward_h2_end *e;

	if (!m->header_since)
		m->header_since = uv_hrtime();
	if (m->role != WARD_MUX_SERVER || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	e = ward_h2_end_new(m->lim.buffer_bytes, NULL, NULL);
	if (e)
		ward_buf_init(&e->in, m->lim.stream_window);
	if (!e)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets just this stream */
	e->id = f->hd.stream_id;
	e->mux = m;
	e->t_open = uv_hrtime();
	ward_list_add(&m->streams, &e->link);
	m->n_open++;
	m->streams_total++;
	nghttp2_session_set_stream_user_data(h2, e->id, e);
	return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct ward_mux *m = user;
	struct ward_h2_end *e = end_of(h2, f->hd.stream_id);
	char code[4];

	(void)flags;
	if (!e || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	/* RFC 9113 §6.5.2: a header field is its name, value and 32 bytes. */
	e->header_bytes += (uint32_t)(namelen + valuelen + 32);
	if (e->header_bytes > m->lim.max_header_list)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (m->role == WARD_MUX_SERVER && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		request_header(e, name, namelen, value, valuelen);
	} else if (m->role == WARD_MUX_CLIENT && ward_h2_is(name, namelen, ":status") &&
		   valuelen == 3 && e->status < 200) { /* a final status after any 1xx */
		memcpy(code, value, 3);
		code[3] = '\0';
		e->status = atoi(code);
	}
	return 0;
}

static void request_done(struct ward_mux *m, struct ward_h2_end *e)
{
	if (!e->is_connect || !e->has_authority || e->bad_request) {
		m->bad_requests++;
		if (ward_h2_end_respond(e, 400) < 0)
			nghttp2_submit_rst_stream(m->h2, NGHTTP2_FLAG_NONE, e->id,
						  NGHTTP2_INTERNAL_ERROR);
		return;
	}
	ward_h2_end_event(e, EV_REQUEST);
}

static void headers_done(struct ward_mux *m, struct ward_h2_end *e, const nghttp2_frame *f)
{
	m->header_since = 0;
	if (!e)
		return;
	if (m->role == WARD_MUX_SERVER && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		request_done(m, e);
	} else if (m->role == WARD_MUX_CLIENT && e->status >= 200 && !e->responded) {
		e->responded = true; /* the final response, once */
		ward_h2_end_event(e, WARD_H2_EV_RESPONSE);
	}
}

/* --- frames and data --- */

static void ping_ack(struct ward_mux *m, const nghttp2_frame *f)
{
	if (!m->drain_ping || !(f->hd.flags & NGHTTP2_FLAG_ACK) ||
	    memcmp(f->ping.opaque_data, DRAIN_PING, 8))
		return;
	/* A round trip after the announcement: streams the client opened
	 * before it saw it have arrived (RFC 9113 §6.8). */
	m->drain_ping = false;
	nghttp2_submit_goaway(m->h2, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(m->h2), NGHTTP2_NO_ERROR,
			      NULL, 0);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ward_mux *m = user;
	struct ward_h2_end *e = end_of(h2, f->hd.stream_id);

	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		headers_done(m, e, f);
		break;
	case NGHTTP2_GOAWAY:
		m->goaway_received = m->ev_goaway = true;
		break;
	case NGHTTP2_PING:
		ping_ack(m, f);
		break;
	}
	if (e && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		e->in_eof = true;
		ward_h2_end_event(e, WARD_H2_EV_READABLE);
	}
	return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *user)
{
	struct ward_h2_end *e = end_of(h2, id);

	(void)flags;
	(void)user;
	/* Early data (before our 200) waits with the rest; data for a stream
	 * refused, reset or let go is nobody's. */
	if (!e || e->released || e->reset || (e->responded && e->status != 200)) {
		nghttp2_session_consume(h2, id, len);
		return 0;
	}
	/* The peer keeps within the window we gave (nghttp2 checks), and the
	 * window is the buffer's limit: room for a window at once, rather than
	 * growing (copying) frame by frame. */
	if (ward_buf_len(&e->in) == 0 && ward_buf_reserve(&e->in, IN_RESERVE) < 0)
		ward_err_clear(); /* the append says whether it fits */
	if (ward_buf_append(&e->in, data, len) < 0) {
		nghttp2_session_consume(h2, id, len);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	ward_h2_end_event(e, WARD_H2_EV_READABLE);
	return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ward_mux *m = user;
	struct ward_h2_end *e = end_of(h2, f->hd.stream_id);

	if (!e)
		return 0;
	if (f->hd.type == NGHTTP2_DATA && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		e->eos_sent = true;
		ward_h2_end_event(e, WARD_H2_EV_DRAINED);
	}
	/* A refusal is a complete response; the request is not wanted either
	 * (RFC 9113 §8.1), and the stream is closed once the client knows. */
	if (m->role == WARD_MUX_SERVER && f->hd.type == NGHTTP2_HEADERS && e->responded &&
	    e->status != 200)
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, e->id, NGHTTP2_NO_ERROR);
	return 0;
}

static int on_frame_not_send(nghttp2_session *h2, const nghttp2_frame *f, int err, void *user)
{
	struct ward_h2_end *e = end_of(h2, f->hd.stream_id);

	(void)err;
	(void)user;
	/* A request that never left (the peer's GOAWAY came first) is safe to
	 * send on another tunnel. */
	if (e && f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		e->retryable = true;
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
	struct ward_h2_end *e = end_of(h2, id);

	struct ward_mux *m = user;

	m->header_since = 0; /* a header block cut short ends with its stream */
	if (e) {
		nghttp2_session_set_stream_user_data(h2, id, NULL);
		ward_h2_end_closed(e, error_code);
	}
	return 0;
}

/* --- the session --- */

static nghttp2_session_callbacks *callbacks(void)
{
	nghttp2_session_callbacks *cb;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return NULL;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, on_frame_not_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_send_data_callback(cb, ward_h2_end_send_data);
	return cb;
}

/* Large enough that every stream may fill its own window at once: a slow
 * stream never holds up the others at the connection level. */
static uint32_t conn_window(const struct ward_mux_limits *lim)
{
	uint64_t w = (uint64_t)lim->max_streams * lim->stream_window;

	if (w < CONN_WINDOW_MIN)
		w = CONN_WINDOW_MIN;
	return w > NGHTTP2_MAX_WINDOW_SIZE ? NGHTTP2_MAX_WINDOW_SIZE : (uint32_t)w;
}

int ward_mux_init(struct ward_mux *m, enum ward_mux_role role, const struct ward_mux_limits *lim,
		  const struct ward_mux_ops *ops, void *owner)
{
	struct ward_h2_settings s = {
	    .max_concurrent_streams = lim->max_streams,
	    .max_header_list = lim->max_header_list,
	    .stream_window = (uint32_t)lim->stream_window,
	    .conn_window = conn_window(lim),
	    .manual_window = true,
	    .no_push = role == WARD_MUX_CLIENT,
	    /* Streams waiting for a new tunnel go out as soon as it is up, before
	     * the server's SETTINGS: assume it allows what we do (a lower limit
	     * it announces then only queues the rest inside nghttp2). */
	    .peer_max_streams = lim->max_streams,
	};
	nghttp2_session_callbacks *cb = callbacks();
	int rc;

	memset(m, 0, sizeof(*m));
	ENSURE(cb, WARD_ERR_NOMEM, "tunnel: out of memory");
	m->role = role;
	m->ops = ops;
	m->owner = owner;
	m->lim = *lim;
	rc = ward_h2_session_new(&m->h2, role == WARD_MUX_SERVER, cb, m, &s);
	nghttp2_session_callbacks_del(cb);
	if (rc == 0)
		ops->dirty(owner);
	return rc;
}

int ward_mux_recv(struct ward_mux *m, const uint8_t *data, size_t len)
{
	int rc;

	if (m->failed || !m->h2)
		return ward_err_set(WARD_ERR_INVALID, "tunnel: session closed");
	m->in_session = true;
	rc = ward_h2_recv(m->h2, data, len);
	m->in_session = false;
	if (rc < 0)
		m->failed = true; /* nghttp2 queued its GOAWAY: flush, then close */
	m->ops->dirty(m->owner);
	ward_mux_dispatch(m);
	return rc;
}

/* Where a flush gathers frames: one per thread (a worker flushes one tunnel
 * at a time), kept between flushes, so gathering allocates nothing. Room
 * for one whole frame past out_high (the same for every tunnel of a worker:
 * another size makes a new one). */
static _Thread_local struct ward_buf staging;

static struct ward_buf *staging_buf(const struct ward_mux *m)
{
	size_t limit = m->lim.out_high + STAGING_SLACK;

	if (ward_buf_limit(&staging) != limit) {
		ward_buf_free(&staging);
		ward_buf_init(&staging, limit);
	}
	return &staging;
}

/* Collects and sends, without telling anyone (no dispatch). */
static int push(struct ward_mux *m)
{
	struct ward_buf *out;
	size_t len;
	int rc = 0;

	if (m->in_session)
		return 0; /* nghttp2 is running: its caller flushes after */
	while (m->h2 && !m->failed && m->ops->queued(m->owner) < m->lim.out_high) {
		out = staging_buf(m);
		m->staging = out;
		m->in_session = true;
		rc = ward_h2_collect(m->h2, out, FLUSH_BLOCK);
		m->in_session = false;
		m->staging = NULL;
		len = ward_buf_len(out);
		if (rc == 0 && len)
			rc = m->ops->send(m->owner, ward_buf_peek(out), len);
		if (len) { /* plaintext: gone from here once sent */
			explicit_bzero((uint8_t *)ward_buf_peek(out), len);
			ward_buf_truncate(out, 0);
		}
		if (rc < 0 || !len)
			break;
	}
	if (rc < 0)
		m->failed = true;
	return rc;
}

int ward_mux_flush(struct ward_mux *m)
{
	int rc = push(m);

	ward_mux_dispatch(m);
	return rc;
}

void ward_mux_push(struct ward_mux *m)
{
	if (push(m) < 0)
		m->ops->dirty(m->owner); /* the flush at the end of the turn reports it */
}

static void deliver_request(struct ward_mux *m, struct ward_h2_end *e)
{
	m->ops->request(m->owner, e, &e->req);
	if (!e->owner && !e->responded && ward_h2_end_respond(e, 503) < 0)
		nghttp2_submit_rst_stream(m->h2, NGHTTP2_FLAG_NONE, e->id, NGHTTP2_INTERNAL_ERROR);
}

/* One end's news, in the order a connection needs them. Each callback may
 * release the end (its memory waits for the dispatch to end). */
static void deliver(struct ward_mux *m, struct ward_h2_end *e, unsigned ev)
{
	if (ev & EV_REQUEST)
		deliver_request(m, e);
	if ((ev & WARD_H2_EV_RESPONSE) && e->owner)
		e->ev->response(e->owner, e, e->status);
	if ((ev & WARD_H2_EV_READABLE) && e->owner)
		e->ev->readable(e->owner, e);
	if ((ev & WARD_H2_EV_DRAINED) && e->owner)
		e->ev->drained(e->owner, e);
	if ((ev & WARD_H2_EV_RESET) && e->owner)
		e->ev->reset(e->owner, e);
}

void ward_mux_dispatch(struct ward_mux *m)
{
	if (m->dispatching)
		return;
	m->dispatching = true;
	ward_h2_dispatch_enter();
	if (m->ev_goaway) {
		m->ev_goaway = false;
		if (m->ops->goaway)
			m->ops->goaway(m->owner);
	}
	while (m->events.head) {
		struct ward_h2_end *e =
		    ward_list_entry(m->events.head, struct ward_h2_end, ev_link);
		unsigned ev = e->pending;

		ward_list_remove(&m->events, &e->ev_link);
		e->pending = 0;
		deliver(m, e, ev);
	}
	m->dispatching = false;
	ward_h2_dispatch_leave();
}

void ward_mux_drain(struct ward_mux *m)
{
	if (m->draining || !m->h2)
		return;
	m->draining = true;
	if (m->role == WARD_MUX_SERVER) {
		/* GOAWAY with the highest id first, then the real last id once a
		 * PING has made the round trip (RFC 9113 §6.8). */
		nghttp2_submit_shutdown_notice(m->h2);
		m->drain_ping = true;
		nghttp2_submit_ping(m->h2, NGHTTP2_FLAG_NONE, (const uint8_t *)DRAIN_PING);
	} else {
		nghttp2_submit_goaway(m->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
	}
	m->ops->dirty(m->owner);
}

size_t ward_mux_streams(const struct ward_mux *m)
{
	return m->n_open;
}

bool ward_mux_can_open(const struct ward_mux *m)
{
	uint32_t peer_max;

	if (!m->h2 || m->failed || m->draining || m->goaway_received || m->role != WARD_MUX_CLIENT)
		return false;
	peer_max =
	    nghttp2_session_get_remote_settings(m->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
	/* Stream ids are 31 bits (RFC 9113 §5.1.1): a long-lived tunnel runs out. */
	if (nghttp2_session_get_next_stream_id(m->h2) > (1u << 31) - 1000)
		return false;
	return m->n_open < m->lim.max_streams && m->n_open < peer_max;
}

bool ward_mux_finished(const struct ward_mux *m)
{
	return !m->h2 || m->failed || ward_h2_finished(m->h2);
}

void ward_mux_close(struct ward_mux *m)
{
	ward_h2_dispatch_enter();
	while (m->streams.head) {
		struct ward_h2_end *e = ward_list_entry(m->streams.head, struct ward_h2_end, link);
		/* Closed by nghttp2 and that news delivered: the owner knows (a
		 * refused stream may be waiting for another tunnel by now). */
		bool told = e->closed && !e->pending;

		if (e->pending)
			ward_list_remove(&m->events, &e->ev_link);
		e->pending = 0;
		ward_list_remove(&m->streams, &e->link);
		e->mux = NULL;
		if (!e->closed)
			m->n_open--;
		e->closed = true;
		if (!e->owner) {
			ward_h2_end_free(e);
		} else if (told) {
			continue;
		} else if (m->role == WARD_MUX_CLIENT && !e->responded) {
			e->ev->response(e->owner, e, 0);
		} else if (!(e->in_eof && e->eos_sent)) {
			e->reset = true;
			e->ev->reset(e->owner, e);
		}
	}
	if (m->h2)
		nghttp2_session_del(m->h2);
	m->h2 = NULL;
	ward_h2_dispatch_leave();
}
