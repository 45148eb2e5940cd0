#include "spiffe/wlclient.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/curl_loop.h"
#include "spiffe/grpc.h"

#define FETCH_X509_SVID_URL "http://localhost/SpiffeWorkloadAPI/FetchX509SVID"
#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 8000

struct ward_wlclient {
	uv_loop_t *loop;
	struct ward_wlclient_callbacks cb;
	void *arg;
	char socket_path[128];
	struct ward_curl_loop *curl; /* owned */
	CURL *easy;		     /* owned; NULL between attempts */
	struct curl_slist *headers;  /* owned */
	uv_timer_t retry_timer;
	int pending_closes; /* handles not yet closed; freed at zero */
	bool stopping;
	/* The current attempt. */
	struct ward_grpc_reader reader;
	long http_status;
	bool grpc_content;
	bool connected;
	bool answered;	 /* a header block with grpc-status ended: the call is over */
	int grpc_status; /* -1 until a grpc-status header or trailer */
	char grpc_message[256];
	char fail[256]; /* why we aborted the transfer ourselves */
	char curl_err[CURL_ERROR_SIZE];
	unsigned backoff_ms;
};

static void release(struct ward_wlclient *c)
{
	if (c->pending_closes > 0 || !c->stopping)
		return;
	curl_slist_free_all(c->headers);
	ward_grpc_reader_free(&c->reader);
	free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct ward_wlclient *c = h->data;

	c->pending_closes--;
	release(c);
}

/* What the response said so far, from curl's own header store: the status
 * line, content-type, and grpc-status / grpc-message from the headers or,
 * once they have come, the trailers. */
static void read_response(struct ward_wlclient *c)
{
	const unsigned origin = CURLH_HEADER | CURLH_TRAILER;
	struct curl_header *h;
	long code = 0;

	if (curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		c->http_status = code;
	if (curl_easy_header(c->easy, "content-type", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		c->grpc_content = !strncasecmp(h->value, "application/grpc", 16);
	if (curl_easy_header(c->easy, "grpc-status", 0, origin, -1, &h) == CURLHE_OK)
		c->grpc_status = ward_grpc_status_parse(h->value);
	if (curl_easy_header(c->easy, "grpc-message", 0, origin, -1, &h) == CURLHE_OK)
		ward_grpc_message_decode(h->value, strlen(h->value), c->grpc_message,
					 sizeof(c->grpc_message));
}

/* Called for every header and trailer line; the blank line that ends the
 * response headers is when the stream is known to be up. */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct ward_wlclient *c = arg;
	size_t len = size * n;

	(void)line;
	read_response(c);
	/* A call that fails at once is answered Trailers-Only: one HEADERS
	 * frame whose status ends the response (gRPC over HTTP/2, "Responses").
	 * The call is over when that block has come, so the transfer ends here
	 * (a short count makes curl end it: CURLE_WRITE_ERROR, reported as the
	 * status), not when curl sees the HTTP/2 stream end. A server may answer
	 * before it has read the request (RFC 9113, section 8.1); libcurl 7.88
	 * then closes the stream while it sends the request's last DATA frame
	 * and never looks at it again (fixed in curl 8.1.0, curl PR 11005), and
	 * the call would wait until the server closed the connection. */
	if (len <= 2 && c->grpc_status >= 0) {
		c->answered = true;
		return 0;
	}
	if (len <= 2 && !c->connected && c->http_status == 200 && c->grpc_content &&
	    c->grpc_status < 0) {
		c->connected = true;
		c->backoff_ms = 0;
		if (c->cb.on_connected)
			c->cb.on_connected(c->arg);
	}
	return len;
}

static void deliver(struct ward_wlclient *c, const uint8_t *msg, size_t len)
{
	struct ward_wl_x509_svid_response *resp = calloc(1, sizeof(*resp));

	if (!resp) {
		c->cb.on_bad_message("out of memory decoding a response", c->arg);
		return;
	}
	if (ward_wl_x509_svid_response_decode(msg, len, resp) < 0)
		c->cb.on_bad_message(ward_err_msg(), c->arg);
	else
		c->cb.on_response(resp, c->arg);
	free(resp);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct ward_wlclient *c = arg;
	size_t len = size * n, mlen;
	const uint8_t *msg;
	int rc;

	if (c->http_status != 200 || !c->grpc_content) {
		snprintf(c->fail, sizeof(c->fail), "not a gRPC response (HTTP %ld%s)",
			 c->http_status,
			 c->grpc_content ? "" : ", content-type is not application/grpc");
		return 0;
	}
	rc = ward_grpc_reader_feed(&c->reader, (const uint8_t *)p, len);
	while (rc == 0 && (rc = ward_grpc_reader_next(&c->reader, &msg, &mlen)) == 0)
		deliver(c, msg, mlen);
	if (rc != WARD_ERR_WOULDBLOCK) {
		snprintf(c->fail, sizeof(c->fail), "%s", ward_err_msg());
		return 0; /* aborts the transfer: the framing is lost for good */
	}
	return len;
}

static int set_options(struct ward_wlclient *c, CURL *e)
{
	static const uint8_t empty_request[WARD_GRPC_PREFIX_LEN]; /* X509SVIDRequest{} */
	int rc = 0;

	rc |= curl_easy_setopt(e, CURLOPT_URL, FETCH_X509_SVID_URL);
	rc |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)empty_request);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)sizeof(empty_request));
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	/* Every attempt is a new connection, never one left from the last: the
	 * server attests the caller when it connects, and libcurl 7.88 (Debian
	 * 12) fails every request on a reused prior-knowledge HTTP/2 connection
	 * with "Error in the HTTP2 framing layer" (curl issue 10634), which kept
	 * the agent without an identity after its first refused call. */
	rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	ENSURE(rc == 0, WARD_ERR_UNSUPPORTED, "workload api: libcurl lacks HTTP/2 or unix sockets");
	return 0;
}

static void reset_attempt(struct ward_wlclient *c)
{
	ward_grpc_reader_free(&c->reader);
	ward_grpc_reader_init(&c->reader, WARD_GRPC_MAX_MESSAGE);
	c->http_status = 0;
	c->grpc_content = false;
	c->connected = c->answered = false;
	c->grpc_status = -1;
	c->grpc_message[0] = c->fail[0] = c->curl_err[0] = '\0';
}

static void on_done(CURL *easy, CURLcode res, void *arg);

static int dial(struct ward_wlclient *c)
{
	reset_attempt(c);
	c->easy = curl_easy_init();
	ENSURE(c->easy, WARD_ERR_NOMEM, "workload api: curl handle");
	if (set_options(c, c->easy) < 0 || ward_curl_loop_add(c->curl, c->easy, on_done, c) < 0) {
		curl_easy_cleanup(c->easy);
		c->easy = NULL;
		return ward_err_set(WARD_ERR_UNSUPPORTED, "workload api: cannot start a transfer");
	}
	return 0;
}

static void drop_easy(struct ward_wlclient *c)
{
	if (!c->easy)
		return;
	ward_curl_loop_remove(c->curl, c->easy);
	curl_easy_cleanup(c->easy);
	c->easy = NULL;
}

static void on_retry(uv_timer_t *t)
{
	struct ward_wlclient *c = t->data;
	struct ward_wlclient_error e = {.grpc_status = -1, .code = "internal", .retrying = false};

	if (dial(c) == 0)
		return;
	e.message = ward_err_msg();
	c->cb.on_error(&e, c->arg);
}

/* The jitter must differ between the sidecars of a node, or they all come
 * back at the same instant: random() unseeded is the same in every process. */
static unsigned jitter(unsigned range)
{
	unsigned r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned)getpid() * 2654435761u ^ (unsigned)uv_hrtime();
	return r % (range + 1);
}

/* 250 ms doubling to 8 s, each delay drawn from [3/4, 5/4] of its step. */
static unsigned next_backoff(struct ward_wlclient *c)
{
	unsigned step = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;

	if (step > BACKOFF_MAX_MS)
		step = BACKOFF_MAX_MS;
	c->backoff_ms = step;
	return step - step / 4 + jitter(step / 2);
}

/* The standard (Workload API, "Client" section) lists which codes are worth
 * retrying; InvalidArgument and Unimplemented mean this client or endpoint
 * is wrong and will stay wrong. */
static bool retryable(int grpc_status)
{
	return grpc_status != WARD_GRPC_INVALID_ARGUMENT && grpc_status != WARD_GRPC_UNIMPLEMENTED;
}

static void describe_end(struct ward_wlclient *c, CURLcode res, struct ward_wlclient_error *e)
{
	e->grpc_status = -1;
	if (c->fail[0]) {
		e->code = "protocol_error";
		e->message = c->fail;
	} else if (res == CURLE_COULDNT_CONNECT) {
		long os_errno = 0;

		curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(c->fail, sizeof(c->fail), "cannot connect to %s: %s", c->socket_path,
			 os_errno ? strerror((int)os_errno) : curl_easy_strerror(res));
		e->code = "connect_failed";
		e->message = c->fail;
	} else if (res != CURLE_OK && !c->answered) {
		e->code = res == CURLE_HTTP2 || res == CURLE_HTTP2_STREAM ||
				  res == CURLE_WEIRD_SERVER_REPLY || res == CURLE_GOT_NOTHING
			      ? "protocol_error"
			      : "transport";
		e->message = c->curl_err[0] ? c->curl_err : curl_easy_strerror(res);
	} else if (c->grpc_status >= 0) {
		e->grpc_status = c->grpc_status;
		e->code = ward_grpc_status_name(c->grpc_status);
		e->message = c->grpc_message[0] ? c->grpc_message : "(no grpc-message)";
	} else if (c->http_status != 200) {
		snprintf(c->fail, sizeof(c->fail), "HTTP status %ld, not a gRPC server",
			 c->http_status);
		e->code = "protocol_error";
		e->message = c->fail;
	} else {
		e->code = "stream_ended";
		e->message = ward_grpc_reader_partial(&c->reader)
				 ? "stream cut mid-message"
				 : "stream ended without grpc-status";
	}
}

static void finish_attempt(struct ward_wlclient *c, CURLcode res)
{
	struct ward_wlclient_error e = {0};

	describe_end(c, res, &e);
	e.retrying = retryable(e.grpc_status);
	if (e.retrying) {
		e.retry_in_ms = next_backoff(c);
		uv_timer_start(&c->retry_timer, on_retry, e.retry_in_ms, 0);
	}
	c->cb.on_error(&e, c->arg);
	drop_easy(c); /* after on_error: e.message may point at curl's buffer */
}

static void on_done(CURL *easy, CURLcode res, void *arg)
{
	(void)easy;
	finish_attempt(arg, res);
}

int ward_wlclient_start(uv_loop_t *loop, const char *endpoint,
			const struct ward_wlclient_callbacks *cb, void *arg,
			struct ward_wlclient **out)
{
	struct ward_wlclient *c;
	const char *path = endpoint + strlen("unix://");

	ENSURE(!strncmp(endpoint, "unix:///", 8) && strlen(path) < sizeof(c->socket_path),
	       WARD_ERR_INVALID, "workload api: \"%.64s\" is not unix:///absolute/path", endpoint);
	c = calloc(1, sizeof(*c));
	ENSURE(c, WARD_ERR_NOMEM, "workload api client");
	*c = (struct ward_wlclient){.loop = loop, .cb = *cb, .arg = arg, .grpc_status = -1};
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", path);
	ward_grpc_reader_init(&c->reader, WARD_GRPC_MAX_MESSAGE);
	uv_timer_init(loop, &c->retry_timer);
	c->retry_timer.data = c;
	c->headers = curl_slist_append(NULL, "content-type: application/grpc");
	c->headers = c->headers ? curl_slist_append(c->headers, "te: trailers") : NULL;
	/* The Workload API's security header: proof that this is a deliberate
	 * Workload API call, not a request forged through some other client
	 * (Workload API standard, section 3). */
	c->headers = c->headers ? curl_slist_append(c->headers, "workload.spiffe.io: true") : NULL;
	c->headers = c->headers ? curl_slist_append(c->headers, "user-agent: ward") : NULL;
	if (!c->headers || ward_curl_loop_new(loop, &c->curl) < 0) {
		ward_wlclient_stop(c);
		return ward_err_set(WARD_ERR_NOMEM, "workload api client");
	}
	if (dial(c) < 0) {
		int rc = ward_err_set(WARD_ERR_UNSUPPORTED, "%s", ward_err_msg());

		ward_wlclient_stop(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ward_wlclient_restart(struct ward_wlclient *c)
{
	drop_easy(c);
	c->backoff_ms = 0;
	uv_timer_start(&c->retry_timer, on_retry, 0, 0);
}

void ward_wlclient_stop(struct ward_wlclient *c)
{
	if (!c || c->stopping)
		return;
	c->stopping = true;
	drop_easy(c); /* closes curl's sockets: their watchers close too */
	ward_curl_loop_free(c->curl);
	c->pending_closes++;
	uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
}
