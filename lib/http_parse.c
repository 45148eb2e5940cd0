/* HTTP/1.1 requests in, responses out, no I/O: http-parser does the parsing
 * (RFC 9112 framing, chunked bodies); this file holds every request to the
 * limits and lays the pieces out as pointer + length slices. */
#include "lib/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ward_http_limits_default(struct ward_http_limits *l)
{
	*l = (struct ward_http_limits){.header_bytes = 8192,
				       .body_bytes = 1u << 20,
				       .header_timeout_ms = 10000,
				       .request_timeout_ms = 10000,
				       .idle_timeout_ms = 10000,
				       .max_clients = 64,
				       .max_clients_per_address = 64,
				       .keep_alive = true};
}

static struct ward_http_parser *parser_of(http_parser *hp)
{
	return hp->data;
}

static int fail(struct ward_http_parser *p, int status)
{
	p->error_status = status;
	return -1; /* http-parser stops with HPE_CB_* */
}

/* URL, names and values share the header budget. */
static int head_append(struct ward_http_parser *p, const char *at, size_t len)
{
	if (ward_buf_append(&p->head, at, len) < 0)
		return fail(p, 431);
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
	struct ward_http_parser *p = parser_of(hp);

	p->url_len += len;
	return head_append(p, at, len);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct ward_http_parser *p = parser_of(hp);

	if (p->in_value || p->n_hdr == 0) { /* a new header starts */
		if (p->n_hdr == WARD_HTTP_MAX_HEADERS)
			return fail(p, 431);
		p->hdr[p->n_hdr].name_off = ward_buf_len(&p->head);
		p->hdr[p->n_hdr].name_len = 0;
		p->hdr[p->n_hdr].value_off = 0;
		p->hdr[p->n_hdr].value_len = 0;
		p->n_hdr++;
		p->in_value = false;
	}
	p->hdr[p->n_hdr - 1].name_len += len;
	return head_append(p, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct ward_http_parser *p = parser_of(hp);

	if (p->n_hdr == 0)
		return fail(p, 400);
	if (!p->in_value) {
		p->in_value = true;
		p->hdr[p->n_hdr - 1].value_off = ward_buf_len(&p->head);
	}
	p->hdr[p->n_hdr - 1].value_len += len;
	return head_append(p, at, len);
}

static int on_headers_complete(http_parser *hp)
{
	struct ward_http_parser *p = parser_of(hp);

	p->head_done = true;
	/* A declared length past the limit is refused before a byte of it is read. */
	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->limits->body_bytes)
		return fail(p, 413);
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	struct ward_http_parser *p = parser_of(hp);

	if (ward_buf_append(&p->body, at, len) < 0)
		return fail(p, 413);
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct ward_http_parser *p = parser_of(hp);

	p->complete = true;
	http_parser_pause(hp, 1); /* pipelined bytes wait for the next request */
	return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void ward_http_parse_init(struct ward_http_parser *p, const struct ward_http_limits *l)
{
	memset(p, 0, sizeof(*p));
	p->limits = l;
	http_parser_init(&p->hp, HTTP_REQUEST);
	p->hp.data = p;
	ward_buf_init(&p->head, l->header_bytes);
	ward_buf_init(&p->body, l->body_bytes);
}

/* The head and body buffers are only ever appended to while a request is
 * assembled, so an offset taken from ward_buf_len() stays valid. */
static struct ward_http_slice slice(const struct ward_buf *b, size_t off, size_t len)
{
	return (struct ward_http_slice){(const char *)ward_buf_peek(b) + off, len};
}

/* The request target is origin-form (RFC 9112 §3.2.1); http-parser has
 * already checked its characters. */
static int build_request(struct ward_http_parser *p)
{
	struct ward_http_request *r = &p->req;
	struct http_parser_url u;
	const char *url = (const char *)p->head.data;

	http_parser_url_init(&u);
	if (p->url_len == 0 || http_parser_parse_url(url, p->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return -1;
	memset(r, 0, sizeof(*r));
	r->method = (enum http_method)p->hp.method;
	r->path = slice(&p->head, u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
	if (u.field_set & (1 << UF_QUERY))
		r->query = slice(&p->head, u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
	for (size_t i = 0; i < p->n_hdr; i++) {
		r->headers[i].name = slice(&p->head, p->hdr[i].name_off, p->hdr[i].name_len);
		r->headers[i].value = slice(&p->head, p->hdr[i].value_off, p->hdr[i].value_len);
	}
	r->n_headers = p->n_hdr;
	if (ward_buf_len(&p->body))
		r->body = slice(&p->body, 0, ward_buf_len(&p->body));
	r->keep_alive = http_should_keep_alive(&p->hp) && p->limits->keep_alive;
	return 0;
}

enum ward_http_parse_state ward_http_parse_feed(struct ward_http_parser *p, const uint8_t *data,
						size_t len, size_t *used)
{
	size_t n;

	*used = 0;
	if (p->error_status)
		return WARD_HTTP_ERROR;
	if (p->complete)
		return WARD_HTTP_REQUEST;
	if (len == 0) /* http-parser takes an empty feed for EOF */
		return WARD_HTTP_NEED_MORE;
	n = http_parser_execute(&p->hp, &settings, (const char *)data, len);
	*used = n;
	if (p->error_status)
		return WARD_HTTP_ERROR;
	if (p->complete) {
		/* A paused parser reports HPE_PAUSED: that is our own stop. */
		if (build_request(p) < 0) {
			p->error_status = 400;
			return WARD_HTTP_ERROR;
		}
		return WARD_HTTP_REQUEST;
	}
	if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK) {
		p->error_status = HTTP_PARSER_ERRNO(&p->hp) == HPE_HEADER_OVERFLOW ? 431 : 400;
		return WARD_HTTP_ERROR;
	}
	return WARD_HTTP_NEED_MORE;
}

void ward_http_parse_next(struct ward_http_parser *p)
{
	const struct ward_http_limits *l = p->limits;

	ward_buf_free(&p->head);
	ward_buf_free(&p->body);
	ward_http_parse_init(p, l);
}

void ward_http_parse_free(struct ward_http_parser *p)
{
	ward_buf_free(&p->head);
	ward_buf_free(&p->body);
}

/* --- request accessors --- */

static bool slice_is(struct ward_http_slice s, const char *text, bool nocase)
{
	size_t n = strlen(text);

	if (s.len != n)
		return false;
	return nocase ? strncasecmp(s.p, text, n) == 0 : memcmp(s.p, text, n) == 0;
}

bool ward_http_path_is(const struct ward_http_request *req, const char *s)
{
	return slice_is(req->path, s, false);
}

struct ward_http_slice ward_http_header_get(const struct ward_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (slice_is(req->headers[i].name, name, true))
			return req->headers[i].value;
	return (struct ward_http_slice){NULL, 0};
}

struct ward_http_slice ward_http_query_get(const struct ward_http_request *req, const char *key,
					   bool *found)
{
	const char *p = req->query.p, *end = req->query.p + req->query.len;
	size_t klen = strlen(key);

	*found = false;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *kend = eq ? eq : stop;

		if ((size_t)(kend - p) == klen && !memcmp(p, key, klen)) {
			*found = true;
			return eq ? (struct ward_http_slice){eq + 1, (size_t)(stop - eq - 1)}
				  : (struct ward_http_slice){stop, 0};
		}
		p = stop + 1;
	}
	return (struct ward_http_slice){NULL, 0};
}

/* --- responses --- */

const char *ward_http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Unknown";
}

int ward_http_response_text(struct ward_http_response *r, int status, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int n;

	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	ENSURE(n >= 0, WARD_ERR_NOMEM, "http response");
	free(r->body);
	r->body = realloc(text, (size_t)n + 2);
	if (!r->body) {
		free(text);
		return ward_err_set(WARD_ERR_NOMEM, "http response");
	}
	r->body[n] = '\n';
	r->body[n + 1] = '\0';
	r->body_len = (size_t)n + 1;
	return 0;
}

int ward_http_response_format(const struct ward_http_response *r, bool keep_alive, uint8_t **out,
			      size_t *out_len)
{
	char head[512];
	int n;
	uint8_t *block;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-store\r\n%s%s%sConnection: %s\r\n\r\n",
		     r->status, ward_http_reason(r->status),
		     r->content_type ? r->content_type : "text/plain; charset=utf-8", r->body_len,
		     r->allow ? "Allow: " : "", r->allow ? r->allow : "", r->allow ? "\r\n" : "",
		     keep_alive ? "keep-alive" : "close");
	ENSURE(n > 0 && (size_t)n < sizeof(head), WARD_ERR_RANGE, "http response head");
	block = malloc((size_t)n + r->body_len);
	ENSURE(block, WARD_ERR_NOMEM, "http response of %zu bytes", r->body_len);
	memcpy(block, head, (size_t)n);
	if (r->body_len)
		memcpy(block + n, r->body, r->body_len);
	*out = block;
	*out_len = (size_t)n + r->body_len;
	return 0;
}
