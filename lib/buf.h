/* A bounded byte buffer with read and write cursors. Every byte that arrives
 * from the network and is not handed straight to a write lives in one of these,
 * so lengths are checked in exactly one place: a buffer never grows past its
 * limit, and a read never walks past what was written. */
#ifndef WARD_BUF_H
#define WARD_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct ward_buf {
	uint8_t *data; /* owned; NULL until the first append */
	size_t cap;
	size_t rd;    /* next byte to read */
	size_t wr;    /* next byte to write; rd <= wr <= cap */
	size_t limit; /* cap never exceeds this */
};

void ward_buf_init(struct ward_buf *b, size_t limit);
/* Makes room for n more bytes at once (up to the limit), so that appends
 * that follow do not grow the storage piece by piece (each growth copies
 * and wipes what is there). WARD_ERR_RANGE past the limit. */
int ward_buf_reserve(struct ward_buf *b, size_t n) WARD_MUST_CHECK;
/* Appends n bytes, growing up to the limit; WARD_ERR_RANGE past it. */
int ward_buf_append(struct ward_buf *b, const void *p, size_t n) WARD_MUST_CHECK;
/* Copies up to n unread bytes out and advances the read cursor. */
size_t ward_buf_read(struct ward_buf *b, void *p, size_t n);
static inline size_t ward_buf_len(const struct ward_buf *b)
{
	return b->wr - b->rd;
}
/* The unread bytes, for parsers: ward_buf_len() of them start here (NULL
 * when there are none). Valid until the next call that changes b. */
static inline const uint8_t *ward_buf_peek(const struct ward_buf *b)
{
	return b->wr > b->rd ? b->data + b->rd : NULL;
}
/* The most the buffer may ever hold. */
static inline size_t ward_buf_limit(const struct ward_buf *b)
{
	return b->limit;
}
/* Marks the first n unread bytes as read; WARD_ERR_RANGE (and nothing
 * consumed) when fewer than n are there. */
int ward_buf_consume(struct ward_buf *b, size_t n) WARD_MUST_CHECK;
/* Keeps only the first n unread bytes, dropping what was appended after
 * them (a caller undoing a partial append); n larger than what is there
 * changes nothing. */
void ward_buf_truncate(struct ward_buf *b, size_t n);
/* Hands the unread bytes to the caller as one malloc'd block (which the caller
 * frees) and leaves the buffer empty; NULL when empty. Avoids a copy when the
 * bytes are about to be queued for a socket write. */
uint8_t *ward_buf_detach(struct ward_buf *b, size_t *len);
/* Takes ownership of a malloc'd block of which the first len bytes are data
 * (capacity cap). An empty buffer adopts it as its storage, which saves a
 * copy of every read; otherwise the bytes are appended and the block freed. */
int ward_buf_adopt(struct ward_buf *b, uint8_t *block, size_t len, size_t cap) WARD_MUST_CHECK;
/* Frees the storage (zeroed first: it may have held plaintext). */
void ward_buf_free(struct ward_buf *b);
/* Frees the storage without zeroing: for ciphertext, on the hot path. */
void ward_buf_drop(struct ward_buf *b);

#endif
