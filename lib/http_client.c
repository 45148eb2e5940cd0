/* HTTP/1.1 responses in, GET requests out; see http_client.h. */
#include "lib/http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int on_headers_complete(http_parser *hp)
{
	struct ward_http_reply *r = hp->data;

	r->status = (int)hp->status_code;
	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > ward_buf_limit(&r->body)) {
		r->too_big = true;
		return -1;
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	struct ward_http_reply *r = hp->data;

	if (ward_buf_append(&r->body, at, len) < 0) {
		r->too_big = true;
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct ward_http_reply *r = hp->data;

	r->complete = true;
	r->keep_alive = http_should_keep_alive(hp) != 0;
	http_parser_pause(hp, 1); /* what follows belongs to the next response */
	return 0;
}

static const http_parser_settings settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void ward_http_reply_init(struct ward_http_reply *r, size_t body_limit)
{
	memset(r, 0, sizeof(*r));
	http_parser_init(&r->hp, HTTP_RESPONSE);
	r->hp.data = r;
	ward_buf_init(&r->body, body_limit);
}

int ward_http_reply_feed(struct ward_http_reply *r, const uint8_t *data, size_t len, size_t *used)
{
	enum http_errno e;
	size_t n;

	*used = 0;
	if (r->complete)
		return 0;
	n = http_parser_execute(&r->hp, &settings, (const char *)data, len);
	e = HTTP_PARSER_ERRNO(&r->hp);
	*used = n;
	if (r->complete)
		return 0;
	ENSURE(!r->too_big, WARD_ERR_RANGE, "response body over %zu bytes",
	       ward_buf_limit(&r->body));
	ENSURE(e == HPE_OK, WARD_ERR_INVALID, "not an HTTP/1.1 response (%s)",
	       http_errno_description(e));
	ENSURE(len > 0, WARD_ERR_EOF, "the connection closed before the response ended");
	return WARD_ERR_WOULDBLOCK;
}

void ward_http_reply_next(struct ward_http_reply *r)
{
	size_t limit = ward_buf_limit(&r->body);

	ward_buf_drop(&r->body);
	ward_http_reply_init(r, limit);
}

void ward_http_reply_free(struct ward_http_reply *r)
{
	ward_buf_drop(&r->body);
}

int ward_http_get_format(const char *host, const char *path, bool keep_alive, uint8_t **out,
			 size_t *len)
{
	char *text = NULL;
	int n = asprintf(&text, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ward-drill\r\n%s\r\n",
			 path, host, keep_alive ? "" : "Connection: close\r\n");

	ENSURE(n > 0, WARD_ERR_NOMEM, "out of memory");
	*out = (uint8_t *)text;
	*len = (size_t)n;
	return 0;
}
