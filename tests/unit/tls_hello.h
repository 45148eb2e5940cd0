/* What a ClientHello offers and what a ServerHello picks, read from the first
 * record of a flight (RFC 8446 §4.1.2, §4.1.3, §4.2.8), for the in-memory
 * handshake tests. Every read is bounds-checked; a malformed hello fails the
 * test. Include after cmocka.h. */
#ifndef WARD_TEST_TLS_HELLO_H
#define WARD_TEST_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HELLO_MAX_SHARES 8
#define EXT_KEY_SHARE 51

struct hello {
	int type;		      /* 1 ClientHello, 2 ServerHello */
	bool hrr;		      /* a ServerHello that is a HelloRetryRequest */
	int groups[HELLO_MAX_SHARES]; /* key_share groups, in order (ServerHello: one) */
	int n_groups;
	size_t record_len; /* the whole record, header included */
};

struct cursor {
	const uint8_t *p;
	size_t n;
};

static const uint8_t *take(struct cursor *c, size_t n)
{
	const uint8_t *p = c->p;

	if (n > c->n)
		fail_msg("hello: %zu bytes wanted, %zu left", n, c->n);
	c->p += n;
	c->n -= n;
	return p;
}

static unsigned take_num(struct cursor *c, size_t bytes)
{
	const uint8_t *p = take(c, bytes);
	unsigned v = 0;

	for (size_t i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* A sub-cursor over the next len-prefixed vector (prefix of `bytes` bytes). */
static struct cursor take_vec(struct cursor *c, size_t bytes)
{
	size_t len = take_num(c, bytes);

	return (struct cursor){take(c, len), len};
}

static void key_share(struct hello *h, struct cursor ext)
{
	if (h->type == 2) { /* KeyShareServerHello, or HRR's selected_group */
		h->groups[h->n_groups++] = (int)take_num(&ext, 2);
		return;
	}
	struct cursor shares = take_vec(&ext, 2);

	while (shares.n > 0) {
		if (h->n_groups == HELLO_MAX_SHARES)
			fail_msg("hello: more than %d key shares", HELLO_MAX_SHARES);
		h->groups[h->n_groups++] = (int)take_num(&shares, 2);
		take_vec(&shares, 2); /* key_exchange */
	}
}

static void hello_parse(const uint8_t *d, size_t len, struct hello *h)
{
	/* SHA-256("HelloRetryRequest"), the random of a HelloRetryRequest. */
	static const uint8_t hrr_random[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11,
					       0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
					       0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E,
					       0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
	struct cursor c = {d, len}, rec, msg, exts;
	const uint8_t *random;

	memset(h, 0, sizeof(*h));
	if (take_num(&c, 1) != 22)
		fail_msg("hello: first record is not a handshake record");
	take(&c, 2);
	rec = take_vec(&c, 2);
	h->record_len = 5 + rec.n;
	h->type = (int)take_num(&rec, 1);
	msg = take_vec(&rec, 3);
	take(&msg, 2); /* legacy_version */
	random = take(&msg, 32);
	h->hrr = h->type == 2 && !memcmp(random, hrr_random, 32);
	take_vec(&msg, 1); /* legacy_session_id */
	if (h->type == 1) {
		take_vec(&msg, 2); /* cipher_suites */
		take_vec(&msg, 1); /* legacy_compression_methods */
	} else {
		take(&msg, 3); /* cipher_suite, legacy_compression_method */
	}
	exts = take_vec(&msg, 2);
	while (exts.n > 0) {
		unsigned type = take_num(&exts, 2);
		struct cursor ext = take_vec(&exts, 2);

		if (type == EXT_KEY_SHARE)
			key_share(h, ext);
	}
}

#endif
