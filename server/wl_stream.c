/* The HTTP/2 session of one Workload API connection and its gRPC streams, on
 * nghttp2's callbacks; the behaviour is specified in wl_server.h. Nothing
 * here touches the socket: nghttp2 consumes what wl_server.c read and
 * produces what wl_conn_flush() writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "lib/h2.h"
#include "lib/log.h"
#include "server/wl_server_impl.h"

#define UNIMPLEMENTED (-2)
#define UNKNOWN (-1)
#define GRPC_CT "application/grpc"

static const struct {
	const char *path;
	int method;
} routes[] = {
    {"/SpiffeWorkloadAPI/FetchX509SVID", WARD_WL_FETCH_X509_SVID},
    {"/SpiffeWorkloadAPI/FetchX509Bundles", WARD_WL_FETCH_X509_BUNDLES},
    {"/SpiffeWorkloadAPI/FetchJWTSVID", UNIMPLEMENTED},
    {"/SpiffeWorkloadAPI/FetchJWTBundles", UNIMPLEMENTED},
    {"/SpiffeWorkloadAPI/ValidateJWTSVID", UNIMPLEMENTED},
};

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                          \
		    NGHTTP2_NV_FLAG_NO_COPY_NAME                                                   \
	}

/* ---- stream lifetime ----------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct wl_conn *c = user;
	struct wl_stream *st;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets just this stream */
	st->id = f->hd.stream_id;
	st->conn = c;
	st->method = UNKNOWN;
	ward_grpc_reader_init(&st->request, WL_MAX_REQUEST);
	ward_buf_init(&st->out, WARD_GRPC_MAX_MESSAGE + WARD_GRPC_PREFIX_LEN);
	ward_buf_init(&st->next_msg, WARD_GRPC_MAX_MESSAGE + WARD_GRPC_PREFIX_LEN);
	st->next = c->streams;
	c->streams = st;
	nghttp2_session_set_stream_user_data(h2, st->id, st);
	return 0;
}

void wl_stream_free(struct wl_stream *st)
{
	struct wl_conn *c = st->conn;
	struct wl_stream **pp;

	for (pp = &c->streams; *pp && *pp != st; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = st->next;
	if (st->call) {
		c->srv->ops->close(c->srv->arg, st->call);
		wl_limits_call_ended(c);
	}
	ward_grpc_reader_free(&st->request);
	ward_buf_free(&st->out); /* zeroed: messages carry private keys */
	ward_buf_free(&st->next_msg);
	free(st);
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
	struct wl_stream *st = nghttp2_session_get_stream_user_data(h2, id);

	if (st)
		wl_stream_free(st);
	return 0;
}

/* ---- responses ----------------------------------------------------------- */

/* An HTTP-level refusal (405, 415): no gRPC status, as the spec has it. */
static void respond_http(struct wl_stream *st, const char *status)
{
	nghttp2_nv nva[] = {NV(":status", status)};

	st->ended = st->responded = true;
	if (nghttp2_submit_response(st->conn->h2, st->id, nva, 1, NULL) != 0)
		nghttp2_submit_rst_stream(st->conn->h2, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
}

static void status_trailers(struct wl_stream *st, bool with_headers)
{
	char code[12], message[3 * WARD_WL_WHY_MAX];
	size_t first = with_headers ? 0 : 2, n;
	int rc;

	snprintf(code, sizeof(code), "%d", st->end.code);
	ward_grpc_message_encode(st->end.message, message, sizeof(message));
	{
		nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", GRPC_CT),
				    NV("grpc-status", code), NV("grpc-message", message)};

		n = message[0] ? 4 : 3;
		rc = with_headers
			 ? nghttp2_submit_response(st->conn->h2, st->id, nva, n, NULL)
			 : nghttp2_submit_trailer(st->conn->h2, st->id, nva + first, n - first);
	}
	if (rc != 0)
		nghttp2_submit_rst_stream(st->conn->h2, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
}

void wl_stream_end(struct wl_stream *st, int code, const char *message)
{
	if (st->ended)
		return;
	st->ended = true;
	st->end.code = code;
	snprintf(st->end.message, sizeof(st->end.message), "%s", message ? message : "");
	if (code != WARD_GRPC_OK && code != WARD_GRPC_UNAVAILABLE)
		ward_log(WARD_LOG_DEBUG, "workload_api_status", "{s:i,s:s,s:i}", "stream", st->id,
			 "status", ward_grpc_status_name(code), "pid",
			 st->conn->have_creds ? (int)st->conn->creds.pid : 0);
	if (!st->responded) {
		/* Trailers-Only: one HEADERS frame that ends the stream. */
		st->responded = true;
		status_trailers(st, true);
		return;
	}
	if (st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(st->conn->h2, st->id);
	}
}

/* Moves the waiting message up once the one being sent is done; then hands
 * nghttp2 what there is, or ends with trailers, or waits. */
static ssize_t data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *source, void *user)
{
	struct wl_stream *st = source->ptr;

	size_t n;

	if (ward_buf_len(&st->out) == 0 && ward_buf_len(&st->next_msg) > 0) {
		struct ward_buf sent = st->out;

		st->out = st->next_msg;
		st->next_msg = sent;
		st->out_gen = st->next_gen;
	}
	if (ward_buf_len(&st->out) > 0) {
		n = ward_buf_read(&st->out, buf, length);
		if (ward_buf_len(&st->out) == 0) {
			st->done_gen = st->out_gen;
			st->done_unplaced = true;
			ward_buf_free(&st->out); /* sent: no key waits in memory */
		}
		return (ssize_t)n;
	}
	if (st->ended) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		status_trailers(st, false);
		return 0;
	}
	st->deferred = true;
	return NGHTTP2_ERR_DEFERRED;
}

/* Frames msg into the first free slot: the one being sent if it is done,
 * else the waiting one, replacing an older waiting state. */
static int queue(struct wl_stream *st, const struct ward_buf *msg, uint64_t gen)
{
	bool first = ward_buf_len(&st->out) == 0;
	struct ward_buf *slot = first ? &st->out : &st->next_msg;

	*(first ? &st->out_gen : &st->next_gen) = gen;
	ward_buf_free(slot);
	return ward_grpc_frame_append(slot, ward_buf_peek(msg), ward_buf_len(msg));
}

/* The state of generation gen equals the last one queued: the newest
 * message on its way (or the last one sent) stands for it. */
static void same_state(struct wl_stream *st, uint64_t gen)
{
	if (ward_buf_len(&st->next_msg) > 0)
		st->next_gen = gen;
	else if (ward_buf_len(&st->out) > 0)
		st->out_gen = gen;
	else
		st->done_gen = gen;
}

/* Builds the call's current state; queues it unless it equals the last one.
 * Returns true when something was queued. */
static bool build(struct wl_stream *st)
{
	struct ward_wl_server *srv = st->conn->srv;
	struct ward_wl_status status = {WARD_GRPC_OK, ""};
	uint8_t digest[WC_SHA256_DIGEST_SIZE];
	struct ward_buf msg;
	bool queued = false;

	ward_buf_init(&msg, WARD_GRPC_MAX_MESSAGE);
	srv->ops->build(srv->arg, st->call, &msg, &status);
	if (status.code != WARD_GRPC_OK) {
		ward_buf_free(&msg);
		wl_stream_end(st, status.code, status.message);
		return false;
	}
	wc_Sha256Hash(ward_buf_len(&msg) ? ward_buf_peek(&msg) : (const uint8_t *)"",
		      (word32)ward_buf_len(&msg), digest);
	if (!st->responded || memcmp(digest, st->digest, sizeof(digest))) {
		if (queue(st, &msg, srv->gen) < 0) {
			wl_stream_end(st, WARD_GRPC_RESOURCE_EXHAUSTED, "response too large");
		} else {
			memcpy(st->digest, digest, sizeof(digest));
			queued = true;
		}
	} else {
		same_state(st, srv->gen);
	}
	ward_buf_free(&msg);
	return queued;
}

static void start_call(struct wl_stream *st)
{
	struct wl_conn *c = st->conn;
	struct ward_wl_status status = {WARD_GRPC_OK, ""};
	nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", GRPC_CT)};
	nghttp2_data_provider data = {.source.ptr = st, .read_callback = data_read};

	st->started = true;
	c->srv->ops->open(c->srv->arg, (enum ward_wl_method)st->method,
			  c->have_creds ? &c->creds : NULL, &st->call, &status);
	if (status.code != WARD_GRPC_OK) {
		st->call = NULL;
		wl_stream_end(st, status.code, status.message);
		return;
	}
	wl_limits_granted(c);
	if (!build(st))
		return; /* ended */
	st->responded = true;
	if (nghttp2_submit_response(c->h2, st->id, nva, 2, &data) != 0)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

void wl_stream_refresh(struct wl_stream *st)
{
	if (!st->call || st->ended || !st->responded)
		return;
	if (build(st) && st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(st->conn->h2, st->id);
	}
}

/* ---- delivery ------------------------------------------------------------ */

void wl_conn_place_sent(struct wl_conn *c)
{
	for (struct wl_stream *st = c->streams; st; st = st->next) {
		if (st->done_unplaced)
			st->done_end = c->out_total;
		st->done_unplaced = false;
	}
}

/* Whether the stream's socket has taken every byte of a message of
 * generation gen or later. */
static bool sent(const struct wl_stream *st, uint64_t gen)
{
	const struct wl_conn *c = st->conn;

	return st->done_gen >= gen && st->done_end <= c->out_total - c->sock.queued;
}

void ward_wl_server_delivery(const struct ward_wl_server *srv, uint64_t gen,
			     struct ward_wl_delivery *out)
{
	const struct ward_list_node *node;

	memset(out, 0, sizeof(*out));
	for (node = srv->conns.head; node; node = node->next) {
		const struct wl_conn *c = ward_list_entry(node, struct wl_conn, link);

		for (const struct wl_stream *st = c->streams; st && !c->closing; st = st->next) {
			if (!st->call || !st->responded || st->ended)
				continue;
			out->open++;
			if (sent(st, gen)) {
				out->sent++;
				continue;
			}
			if (out->n_lag < WARD_WL_LAG_MAX)
				out->lag[out->n_lag++] =
				    (struct ward_wl_lag){c->have_creds ? c->creds.pid : 0,
							 c->have_creds ? c->creds.uid : 0, st->id};
		}
	}
}

/* ---- requests ------------------------------------------------------------ */

static void route(struct wl_stream *st, const uint8_t *path, size_t len)
{
	snprintf(st->path, sizeof(st->path), "%.*s", (int)(len < 80 ? len : 80),
		 (const char *)path);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (ward_h2_is(path, len, routes[i].path))
			st->method = routes[i].method;
}

/* "application/grpc", optionally "+proto" or parameters after it. */
static bool grpc_content_type(const uint8_t *v, size_t len)
{
	size_t n = strlen(GRPC_CT);

	return len >= n && !memcmp(v, GRPC_CT, n) && (len == n || v[n] == '+' || v[n] == ';');
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct wl_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);

	if (!st || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (ward_h2_is(name, namelen, ":method"))
		st->post = ward_h2_is(value, valuelen, "POST");
	else if (ward_h2_is(name, namelen, ":path"))
		route(st, value, valuelen);
	else if (ward_h2_is(name, namelen, "content-type"))
		st->grpc_content_type = grpc_content_type(value, valuelen);
	else if (ward_h2_is(name, namelen, "workload.spiffe.io"))
		st->security_header = ward_h2_is(value, valuelen, "true");
	return 0;
}

/* All request headers are in: refuse now what no message can fix. */
static void headers_done(struct wl_stream *st)
{
	char why[160];

	if (!st->post)
		return respond_http(st, "405");
	if (!st->grpc_content_type)
		return respond_http(st, "415");
	if (st->method == UNKNOWN) {
		snprintf(why, sizeof(why), "unknown method %s", st->path);
		return wl_stream_end(st, WARD_GRPC_UNIMPLEMENTED, why);
	}
	if (st->method == UNIMPLEMENTED) {
		snprintf(why, sizeof(why), "%s is not implemented by ward server", st->path);
		return wl_stream_end(st, WARD_GRPC_UNIMPLEMENTED, why);
	}
	/* SPIRE's check and words (pkg/agent/endpoints/middleware.go). */
	if (!st->security_header)
		wl_stream_end(st, WARD_GRPC_INVALID_ARGUMENT,
			      "security header missing from request");
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *user)
{
	struct wl_stream *st = nghttp2_session_get_stream_user_data(h2, id);
	const uint8_t *msg;
	size_t msg_len;
	int rc;

	if (!st || st->ended || st->started)
		return 0; /* a server stream's request is one message; more is ignored */
	rc = ward_grpc_reader_feed(&st->request, data, len);
	if (rc == 0)
		rc = ward_grpc_reader_next(&st->request, &msg, &msg_len);
	if (rc == 0) {
		start_call(st);
		ward_grpc_reader_free(&st->request); /* read once: nothing more is */
	} else if (rc == WARD_ERR_RANGE)
		wl_stream_end(st, WARD_GRPC_RESOURCE_EXHAUSTED, "request message over 64 KiB");
	else if (rc == WARD_ERR_UNSUPPORTED)
		wl_stream_end(st, WARD_GRPC_INTERNAL, "compressed messages are not supported");
	return 0;
}

static void request_end(struct wl_stream *st)
{
	if (st->ended || st->started)
		return;
	wl_stream_end(st, WARD_GRPC_INTERNAL,
		      ward_grpc_reader_partial(&st->request) ? "request message cut short"
							     : "request message missing");
}

static int on_frame(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct wl_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);

	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		headers_done(st);
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		request_end(st);
	return 0;
}

int wl_session_new(struct wl_conn *c)
{
	static const struct ward_h2_settings settings = {
	    .max_concurrent_streams = WL_MAX_STREAMS,
	    .max_header_list = 16 * 1024,
	};
	nghttp2_session_callbacks *cb;
	int rc;

	ENSURE(nghttp2_session_callbacks_new(&cb) == 0, WARD_ERR_NOMEM, "HTTP/2: out of memory");
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	rc = ward_h2_session_new(&c->h2, true, cb, c, &settings);
	nghttp2_session_callbacks_del(cb);
	return rc;
}
