/* The stream end: an HTTP/2 CONNECT stream inside a tunnel as a ward_end
 * (see mux.h). Plaintext blocks are wiped before they are freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/mux.h"

/* A block the relay put, waiting to be framed: taken over, never copied
 * until it goes into a DATA frame. */
struct ward_h2_block {
	struct ward_h2_block *next;
	uint8_t *data; /* owned, plaintext: wiped when freed */
	size_t len, off;
};

/* Ends freed while a dispatch is running on this thread wait here until it
 * is over: the dispatch loop may still hold them. */
static _Thread_local unsigned dispatch_depth;
static _Thread_local struct ward_h2_end *graveyard;

static struct ward_h2_end *h2e(struct ward_end *e)
{
	return (struct ward_h2_end *)e;
}

static const struct ward_h2_end *h2e_c(const struct ward_end *e)
{
	return (const struct ward_h2_end *)e;
}

static void mark_dirty(struct ward_h2_end *e)
{
	if (e->mux)
		e->mux->ops->dirty(e->mux->owner);
}

/* --- the end operations --- */

static int h2_feed(struct ward_end *e, uint8_t *data, size_t len, size_t cap)
{
	(void)e;
	(void)len;
	ward_stream_wipe_free(data, cap);
	return ward_err_set(WARD_ERR_UNSUPPORTED, "a stream end is fed by its tunnel");
}

static void h2_feed_eof(struct ward_end *e)
{
	(void)e;
}

static int h2_take(struct ward_end *base, size_t max, uint8_t **data, size_t *len)
{
	struct ward_h2_end *e = h2e(base);

	(void)max; /* at most the stream's window is ever held */
	if (e->reset)
		return ward_err_set(WARD_ERR_RESET, "stream %d was reset", (int)e->id);
	*data = ward_buf_detach(&e->in, len);
	if (*data) {
		/* Only now does the peer get this window back (RFC 9113 §6.9). */
		if (e->mux && !e->closed) {
			nghttp2_session_consume(e->mux->h2, e->id, *len);
			mark_dirty(e);
		}
		return 0;
	}
	return e->in_eof ? WARD_ERR_EOF : WARD_ERR_WOULDBLOCK;
}

static void resume(struct ward_h2_end *e)
{
	if (e->deferred && e->mux && !e->closed) {
		e->deferred = false;
		nghttp2_session_resume_data(e->mux->h2, e->id);
	}
	mark_dirty(e);
}

static int h2_put(struct ward_end *base, uint8_t *data, size_t len)
{
	struct ward_h2_end *e = h2e(base);
	struct ward_h2_block *b;

	if (e->reset || !e->mux || e->closed) {
		ward_stream_wipe_free(data, len);
		return ward_err_set(WARD_ERR_RESET, "stream %d was reset", (int)e->id);
	}
	b = malloc(sizeof(*b));
	if (!b) {
		ward_stream_wipe_free(data, len);
		return ward_err_set(WARD_ERR_NOMEM, "stream %d: out of memory", (int)e->id);
	}
	*b = (struct ward_h2_block){.data = data, .len = len};
	if (e->out_tail)
		e->out_tail->next = b;
	else
		e->out_head = b;
	e->out_tail = b;
	e->out_len += len;
	resume(e);
	if (e->out_len >= e->limit) /* a bulk stream: out now, not at the turn's end */
		ward_mux_push(e->mux);
	if (e->out_len >= e->limit)
		e->was_full = true;
	return 0;
}

static void out_pop(struct ward_h2_end *e)
{
	struct ward_h2_block *b = e->out_head;

	e->out_head = b->next;
	if (!e->out_head)
		e->out_tail = NULL;
	ward_stream_wipe_free(b->data, b->len);
	free(b);
}

static void out_free(struct ward_h2_end *e)
{
	while (e->out_head)
		out_pop(e);
	e->out_len = 0;
}

/* END_STREAM once what was put has gone (RFC 9113 §8.5: a FIN). */
static int h2_finish(struct ward_end *base)
{
	struct ward_h2_end *e = h2e(base);

	if (e->reset || !e->mux || e->closed)
		return e->reset ? ward_err_set(WARD_ERR_RESET, "stream reset") : 0;
	e->out_eof = true;
	resume(e);
	return 0;
}

/* Backpressure on a stream is its window: what the relay does not take is
 * not consumed, and the peer stops at the window's end. */
static int h2_pause(struct ward_end *e, bool paused)
{
	(void)e;
	(void)paused;
	return 0;
}

static size_t h2_queued(const struct ward_end *e)
{
	return h2e_c(e)->out_len;
}

static bool h2_flushed(const struct ward_end *e)
{
	return h2e_c(e)->eos_sent;
}

static const struct ward_end_ops h2_ops = {
    .feed = h2_feed,
    .feed_eof = h2_feed_eof,
    .take = h2_take,
    .put = h2_put,
    .finish = h2_finish,
    .pause = h2_pause,
    .queued = h2_queued,
    .flushed = h2_flushed,
};

/* --- the session's side --- */

/* nghttp2 asks how much of the stream's next DATA frame there is (up to
 * length); the bytes themselves go in ward_h2_end_send_data. */
static ssize_t data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct ward_h2_end *e = src->ptr;
	size_t n = e->out_len < length ? e->out_len : length;

	(void)h2;
	(void)id;
	(void)buf;
	(void)user;
	if (e->released)
		return NGHTTP2_ERR_DEFERRED; /* its RST_STREAM is on the way */
	if (n == 0 && !e->out_eof) {
		e->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (n == e->out_len && e->out_eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

int ward_h2_end_send_data(nghttp2_session *h2, nghttp2_frame *frame, const uint8_t *framehd,
			  size_t length, nghttp2_data_source *src, void *user)
{
	struct ward_h2_end *e = src->ptr;
	struct ward_mux *m = user;
	struct ward_buf *out = m->staging;

	(void)h2;
	(void)frame; /* never padded: no padding callback */
	/* A frame nghttp2 kept (WOULDBLOCK below) whose end was released
	 * meanwhile: its blocks are gone, so the stream is reset instead. */
	if (e->released || e->out_len < length)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (!out || ward_buf_limit(out) - ward_buf_len(out) < 9 + length)
		return NGHTTP2_ERR_WOULDBLOCK; /* the next flush takes it */
	if (ward_buf_append(out, framehd, 9) < 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	while (length) {
		struct ward_h2_block *b = e->out_head;
		size_t n = b->len - b->off < length ? b->len - b->off : length;

		if (ward_buf_append(out, b->data + b->off, n) < 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		b->off += n;
		length -= n;
		e->out_len -= n;
		if (b->off == b->len)
			out_pop(e);
	}
	if (e->was_full && e->out_len < e->limit) {
		e->was_full = false;
		ward_h2_end_event(e, WARD_H2_EV_DRAINED);
	}
	return 0;
}

nghttp2_data_provider ward_h2_end_provider(struct ward_h2_end *e)
{
	return (nghttp2_data_provider){.source.ptr = e, .read_callback = data_read};
}

void ward_h2_end_event(struct ward_h2_end *e, unsigned ev)
{
	struct ward_mux *m = e->mux;

	if (!m)
		return;
	if (!e->pending)
		ward_list_add_tail(&m->events, &e->ev_link); /* news in the order it came */
	e->pending |= ev;
}

static struct ward_h2_end *end_alloc(size_t buffer_bytes)
{
	struct ward_h2_end *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->base.ops = &h2_ops;
	e->limit = buffer_bytes;
	ward_buf_init(&e->in, buffer_bytes); /* the session's window, once on one */
	return e;
}

struct ward_h2_end *ward_h2_end_new(size_t buffer_bytes, const struct ward_h2_end_events *ev,
				    void *owner)
{
	struct ward_h2_end *e = end_alloc(buffer_bytes);

	if (e) {
		e->ev = ev;
		e->owner = owner;
	}
	return e;
}

static void unwait(struct ward_h2_end *e)
{
	if (e->wait_list)
		ward_list_remove(e->wait_list, &e->wait_link);
	e->wait_list = NULL;
}

void ward_h2_end_unanswered(struct ward_h2_end *e, bool fallback)
{
	unwait(e);
	e->fallback = fallback;
	e->status = 0;
	if (e->owner)
		e->ev->response(e->owner, e, 0);
}

void ward_h2_end_attach(struct ward_h2_end *e, const struct ward_h2_end_events *ev, void *owner)
{
	e->ev = ev;
	e->owner = owner;
}

/* Off its session's lists; the session no longer refers to it. */
static void unlink_end(struct ward_h2_end *e)
{
	struct ward_mux *m = e->mux;

	if (!m)
		return;
	if (e->pending)
		ward_list_remove(&m->events, &e->ev_link);
	e->pending = 0;
	ward_list_remove(&m->streams, &e->link);
	e->mux = NULL;
}

void ward_h2_end_wait(struct ward_h2_end *e, struct ward_list *list)
{
	unwait(e);
	unlink_end(e); /* a retry: its old session may close before this one opens */
	e->retryable = false;
	ward_list_add_tail(list, &e->wait_link);
	e->wait_list = list;
}

void ward_h2_end_free(struct ward_h2_end *e)
{
	unlink_end(e);
	if (dispatch_depth) {
		e->link.next = (struct ward_list_node *)graveyard; /* reused as the chain */
		graveyard = e;
		return;
	}
	ward_buf_free(&e->in);
	out_free(e);
	free(e);
}

void ward_h2_dispatch_enter(void)
{
	dispatch_depth++;
}

void ward_h2_dispatch_leave(void)
{
	if (--dispatch_depth)
		return;
	while (graveyard) {
		struct ward_h2_end *e = graveyard;

		graveyard = (struct ward_h2_end *)e->link.next;
		ward_buf_free(&e->in);
		out_free(e);
		free(e);
	}
}

/* nghttp2 closed the stream. What is left of it belongs to the owner (data
 * still to take); the session forgets it. */
void ward_h2_end_closed(struct ward_h2_end *e, uint32_t error_code)
{
	struct ward_mux *m = e->mux;

	e->closed = true;
	m->n_open--;
	if (ward_buf_len(&e->in))
		nghttp2_session_consume_connection(m->h2, ward_buf_len(&e->in));
	if (!e->owner) {
		ward_h2_end_free(e);
		return;
	}
	if (m->role == WARD_MUX_CLIENT && !e->responded) {
		e->retryable = e->retryable || error_code == NGHTTP2_REFUSED_STREAM;
		ward_h2_end_event(e, WARD_H2_EV_RESPONSE);
	} else if (error_code != NGHTTP2_NO_ERROR || !e->in_eof || !e->eos_sent) {
		e->reset = true;
		ward_h2_end_event(e, WARD_H2_EV_RESET);
	}
}

/* --- what owners call --- */

static int submit_connect(struct ward_mux *m, struct ward_h2_end *e, const char *authority,
			  const char *forwarded)
{
	char fwd[WARD_MUX_AUTHORITY_MAX + 8];
	nghttp2_data_provider dp = ward_h2_end_provider(e);
	nghttp2_nv nva[3] = {
	    {(uint8_t *)":method", (uint8_t *)"CONNECT", 7, 7, NGHTTP2_NV_FLAG_NONE},
	    {(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
	     NGHTTP2_NV_FLAG_NONE},
	    {(uint8_t *)"forwarded", (uint8_t *)fwd, 9, 0, NGHTTP2_NV_FLAG_NONE},
	};
	size_t n = 2;
	int32_t id;

	if (forwarded) { /* RFC 7239 §4, quoted: it holds ':' (and '[' for IPv6) */
		snprintf(fwd, sizeof(fwd), "for=\"%s\"", forwarded);
		nva[2].valuelen = strlen(fwd);
		n = 3;
	}
	id = nghttp2_submit_request(m->h2, NULL, nva, n, &dp, e);
	ENSURE(id > 0, WARD_ERR_NOTREADY, "tunnel: no new stream: %s", nghttp2_strerror((int)id));
	e->id = id;
	return 0;
}

int ward_mux_connect(struct ward_mux *m, struct ward_h2_end *e, const char *authority,
		     const char *forwarded)
{
	ENSURE(ward_mux_can_open(m), WARD_ERR_NOTREADY, "tunnel: no room for a new stream");
	unwait(e);
	unlink_end(e); /* a retry: off the session that refused it */
	ward_buf_free(&e->in);
	ward_buf_init(&e->in, m->lim.stream_window); /* this session's window */
	e->id = 0;
	e->status = 0;
	e->closed = e->retryable = e->deferred = e->responded = false;
	GUARD(submit_connect(m, e, authority, forwarded));
	e->mux = m;
	ward_list_add(&m->streams, &e->link);
	m->n_open++;
	m->streams_total++;
	e->t_open = uv_hrtime();
	m->ops->dirty(m->owner);
	return 0;
}

int ward_h2_end_respond(struct ward_h2_end *e, int status)
{
	struct ward_mux *m = e->mux;
	char code[8];
	nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)code, 7, 0, NGHTTP2_NV_FLAG_NONE};
	nghttp2_data_provider dp = ward_h2_end_provider(e);
	int rc;

	ENSURE(m && !e->closed && !e->responded, WARD_ERR_RESET, "stream %d is gone", (int)e->id);
	e->responded = true;
	e->status = status;
	nv.valuelen = (size_t)snprintf(code, sizeof(code), "%d", status);
	rc = nghttp2_submit_response(m->h2, e->id, &nv, 1, status == 200 ? &dp : NULL);
	m->ops->dirty(m->owner);
	ENSURE(rc == 0, WARD_ERR_NOMEM, "stream %d: %s", (int)e->id, nghttp2_strerror(rc));
	return 0;
}

void ward_h2_end_release(struct ward_h2_end *e, bool reset)
{
	struct ward_mux *m;

	if (!e)
		return;
	unwait(e);
	m = e->mux;
	e->owner = NULL;
	e->ev = NULL;
	e->released = true;
	if (!m || e->closed || e->id <= 0) {
		ward_h2_end_free(e);
		return;
	}
	/* The stream stays on its session until nghttp2 closes it: its data
	 * provider and user data still point here. */
	if (e->pending)
		ward_list_remove(&m->events, &e->ev_link);
	e->pending = 0;
	out_free(e);
	/* A refusal ends its stream itself, after the response (mux.c); a
	 * reset now could overtake the response. */
	if (m->role == WARD_MUX_SERVER && e->responded && e->status != 200)
		return;
	nghttp2_submit_rst_stream(m->h2, NGHTTP2_FLAG_NONE, e->id,
				  reset ? NGHTTP2_CONNECT_ERROR : NGHTTP2_CANCEL);
	m->ops->dirty(m->owner);
}
