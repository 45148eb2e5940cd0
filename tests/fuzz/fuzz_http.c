/* libFuzzer target for the admin endpoint's request parser (the bytes any
 * client of the admin port sends). Invariants: no crash or overread, every
 * limit holds, and the same input fed in one piece or byte by byte yields
 * the same requests and is refused or not alike. (Which refusal may differ:
 * http-parser reports a header in one piece or byte by byte, so input both
 * too long and malformed can meet the limit (431) or the syntax error (400)
 * first.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int requests;
	int error;
	size_t path_len_sum, body_len_sum;
};

static void run(const uint8_t *data, size_t size, size_t step, const struct ward_http_limits *l,
		struct outcome *o)
{
	struct ward_http_parser p;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	ward_http_parse_init(&p, l);
	while (off < size && !o->error) {
		size_t n = size - off < step ? size - off : step, used = 0;
		enum ward_http_parse_state st = ward_http_parse_feed(&p, data + off, n, &used);

		if (used > n)
			abort();
		off += used;
		if (st == WARD_HTTP_ERROR) {
			o->error = p.error_status;
		} else if (st == WARD_HTTP_REQUEST) {
			if (p.req.body.len > l->body_bytes ||
			    p.req.n_headers > WARD_HTTP_MAX_HEADERS)
				abort();
			o->requests++;
			o->path_len_sum += p.req.path.len;
			o->body_len_sum += p.req.body.len;
			ward_http_parse_next(&p);
		} else if (used < n) {
			abort(); /* needing more means everything given was taken */
		}
	}
	ward_http_parse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_http_limits l;
	struct outcome whole, bytes;

	ward_http_limits_default(&l);
	l.header_bytes = 512;
	l.body_bytes = 256;
	run(data, size, size ? size : 1, &l, &whole);
	run(data, size, 1, &l, &bytes);
	if (whole.requests != bytes.requests || !whole.error != !bytes.error ||
	    whole.path_len_sum != bytes.path_len_sum || whole.body_len_sum != bytes.body_len_sum)
		abort();
	return 0;
}
