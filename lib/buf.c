#include "lib/buf.h"

#include <stdlib.h>
#include <string.h>

void ward_buf_init(struct ward_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

static int make_room(struct ward_buf *b, size_t n)
{
	size_t unread = b->wr - b->rd;
	size_t need, cap;
	uint8_t *p;

	ENSURE(n <= b->limit && unread <= b->limit - n, WARD_ERR_RANGE,
	       "buffer limit of %zu bytes reached", b->limit);
	if (b->cap - b->wr >= n)
		return 0;
	if (b->rd > 0) { /* compact before growing */
		memmove(b->data, b->data + b->rd, unread);
		b->rd = 0;
		b->wr = unread;
		if (b->cap - b->wr >= n)
			return 0;
	}
	need = unread + n;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > b->limit)
		cap = b->limit;
	/* Not realloc: the old block may hold plaintext or key bytes, and must
	 * be wiped before it goes back to the allocator. */
	p = malloc(cap);
	if (!p)
		return ward_err_set(WARD_ERR_NOMEM, "buffer of %zu bytes", cap);
	if (b->data) {
		memcpy(p, b->data, b->wr);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int ward_buf_reserve(struct ward_buf *b, size_t n)
{
	return make_room(b, n);
}

int ward_buf_append(struct ward_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	GUARD(make_room(b, n));
	memcpy(b->data + b->wr, p, n);
	b->wr += n;
	return 0;
}

size_t ward_buf_read(struct ward_buf *b, void *p, size_t n)
{
	size_t avail = b->wr - b->rd;

	if (n > avail)
		n = avail;
	if (n == 0)
		return 0; /* an empty buffer may have no storage at all */
	memcpy(p, b->data + b->rd, n);
	b->rd += n;
	if (b->rd == b->wr)
		b->rd = b->wr = 0;
	return n;
}

int ward_buf_consume(struct ward_buf *b, size_t n)
{
	ENSURE(n <= b->wr - b->rd, WARD_ERR_RANGE, "consume of %zu bytes with %zu unread", n,
	       b->wr - b->rd);
	b->rd += n;
	if (b->rd == b->wr)
		b->rd = b->wr = 0;
	return 0;
}

void ward_buf_truncate(struct ward_buf *b, size_t n)
{
	if (n < b->wr - b->rd)
		b->wr = b->rd + n;
}

uint8_t *ward_buf_detach(struct ward_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	*len = b->wr - b->rd;
	if (*len == 0)
		return NULL;
	if (b->rd > 0)
		memmove(p, p + b->rd, *len);
	b->data = NULL;
	b->cap = b->rd = b->wr = 0;
	return p;
}

int ward_buf_adopt(struct ward_buf *b, uint8_t *block, size_t len, size_t cap)
{
	int rc;

	if (ward_buf_len(b) > 0 || cap > b->limit) {
		rc = ward_buf_append(b, block, len);
		free(block);
		return rc;
	}
	free(b->data);
	b->data = block;
	b->cap = cap;
	b->rd = 0;
	b->wr = len;
	return 0;
}

void ward_buf_drop(struct ward_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = b->rd = b->wr = 0;
}

void ward_buf_free(struct ward_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->cap = b->rd = b->wr = 0;
}
