/* The HTTP/2 glue; the contract is in h2.h. */
#include "lib/h2.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CONTINUATIONS 8    /* CONTINUATION frames per header block */
#define MAX_SETTINGS 32	       /* entries in one SETTINGS frame */
#define MAX_OUTBOUND_ACK 1000  /* queued SETTINGS/PING acks before GOAWAY */
#define RESET_BURST 1000       /* peer stream resets allowed at once ... */
#define RESET_PER_SEC 33       /* ... and then per second (nghttp2's own defaults) */
#define DEFAULT_WINDOW 65535u  /* RFC 9113 §6.9.2 */
#define BLOCK_MIN (16u * 1024) /* a block starts this big and grows to max */

static int new_option(const struct ward_h2_settings *s, nghttp2_option **out)
{
	nghttp2_option *o;

	ENSURE(nghttp2_option_new(&o) == 0, WARD_ERR_NOMEM, "HTTP/2: out of memory");
	nghttp2_option_set_no_auto_window_update(o, s->manual_window);
	if (s->peer_max_streams)
		nghttp2_option_set_peer_max_concurrent_streams(o, s->peer_max_streams);
	nghttp2_option_set_max_continuations(o, MAX_CONTINUATIONS);
	nghttp2_option_set_max_settings(o, MAX_SETTINGS);
	nghttp2_option_set_max_outbound_ack(o, MAX_OUTBOUND_ACK);
	nghttp2_option_set_stream_reset_rate_limit(o, RESET_BURST, RESET_PER_SEC);
	*out = o;
	return 0;
}

static int submit_settings(nghttp2_session *h2, const struct ward_h2_settings *s)
{
	nghttp2_settings_entry e[4];
	size_t n = 0;
	int rc;

	e[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
					  s->max_concurrent_streams};
	e[n++] =
	    (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s->max_header_list};
	if (s->stream_window)
		e[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
						  s->stream_window};
	if (s->no_push)
		e[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
	rc = nghttp2_submit_settings(h2, NGHTTP2_FLAG_NONE, e, n);
	ENSURE(rc == 0, WARD_ERR_NOMEM, "HTTP/2 settings: %s", nghttp2_strerror(rc));
	if (s->conn_window > DEFAULT_WINDOW) {
		rc = nghttp2_session_set_local_window_size(h2, NGHTTP2_FLAG_NONE, 0,
							   (int32_t)s->conn_window);
		ENSURE(rc == 0, WARD_ERR_NOMEM, "HTTP/2 window: %s", nghttp2_strerror(rc));
	}
	return 0;
}

int ward_h2_session_new(nghttp2_session **out, bool server, const nghttp2_session_callbacks *cb,
			void *user, const struct ward_h2_settings *s)
{
	nghttp2_option *o = NULL;
	int rc;

	*out = NULL;
	GUARD(new_option(s, &o));
	rc = server ? nghttp2_session_server_new2(out, cb, user, o)
		    : nghttp2_session_client_new2(out, cb, user, o);
	nghttp2_option_del(o);
	ENSURE(rc == 0, WARD_ERR_NOMEM, "HTTP/2 session: %s", nghttp2_strerror(rc));
	rc = submit_settings(*out, s);
	if (rc < 0) {
		nghttp2_session_del(*out);
		*out = NULL;
	}
	return rc;
}

int ward_h2_recv(nghttp2_session *s, const uint8_t *data, size_t len)
{
	ssize_t used = nghttp2_session_mem_recv(s, data, len);

	if (used >= 0)
		return 0;
	if (used == NGHTTP2_ERR_NOMEM)
		return ward_err_set(WARD_ERR_NOMEM, "HTTP/2: out of memory");
	if (used == NGHTTP2_ERR_FLOODED)
		return ward_err_set(WARD_ERR_RANGE, "HTTP/2: %s", nghttp2_strerror((int)used));
	return ward_err_set(WARD_ERR_INVALID, "HTTP/2: %s", nghttp2_strerror((int)used));
}

int ward_h2_collect(nghttp2_session *s, struct ward_buf *out, size_t max)
{
	const uint8_t *data;
	ssize_t n = 0;

	while (ward_buf_len(out) < max && (n = nghttp2_session_mem_send(s, &data)) > 0)
		GUARD(ward_buf_append(out, data, (size_t)n));
	if (n < 0)
		return ward_err_set(n == NGHTTP2_ERR_NOMEM ? WARD_ERR_NOMEM : WARD_ERR_INVALID,
				    "HTTP/2 send: %s", nghttp2_strerror((int)n));
	return 0;
}

bool ward_h2_finished(nghttp2_session *s)
{
	return !nghttp2_session_want_read(s) && !nghttp2_session_want_write(s);
}

bool ward_h2_is(const uint8_t *p, size_t len, const char *name)
{
	return len == strlen(name) && !memcmp(p, name, len);
}
