/* ward error convention: every fallible function returns 0 or a negative
 * enum ward_err, and is WARD_MUST_CHECK. A human-readable reason for the last
 * failure on this thread is kept by ward_err_set() so that parsers can name the
 * key / rule / field that was wrong without threading buffers everywhere. */
#ifndef WARD_ERR_H
#define WARD_ERR_H

#include <stddef.h>

enum ward_err {
	WARD_OK = 0,
	WARD_ERR_NOMEM = -1,
	WARD_ERR_INVALID = -2, /* malformed input: config, ID, certificate, args */
	WARD_ERR_IO = -3,      /* a system call failed; errno-derived reason set */
	WARD_ERR_TLS = -4,     /* wolfSSL refused: handshake, context, key */
	WARD_ERR_DENIED = -5,  /* policy said no */
	WARD_ERR_RANGE = -6,   /* a length or value out of bounds */
	WARD_ERR_NOTFOUND = -7,
	WARD_ERR_PERM = -8,	  /* not permitted (capabilities, file mode) */
	WARD_ERR_WOULDBLOCK = -9, /* needs more input: call again once more bytes arrived */
	WARD_ERR_UNSUPPORTED = -10,
	WARD_ERR_RESET = -11,	 /* the peer reset the connection */
	WARD_ERR_NOTREADY = -12, /* what the call needs is not there yet (no identity) */
	WARD_ERR_TIMEOUT = -13,	 /* a deadline passed */
	WARD_ERR_EOF = -14,	 /* the peer finished sending: no more input will come */
};

#define WARD_MUST_CHECK __attribute__((warn_unused_result))
#define WARD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Return early with the callee's error. */
#define GUARD(expr)                                                                                \
	do {                                                                                       \
		int guard_rc_ = (expr);                                                            \
		if (guard_rc_ < 0)                                                                 \
			return guard_rc_;                                                          \
	} while (0)

/* Return err (with a reason) unless cond holds. */
#define ENSURE(cond, err, ...)                                                                     \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return ward_err_set((err), __VA_ARGS__);                                   \
	} while (0)

/* Records the reason for err on this thread and returns err, so that
 * `return ward_err_set(WARD_ERR_INVALID, "x: %s", why);` reads naturally. */
int ward_err_set(int err, const char *fmt, ...) WARD_PRINTF(2, 3);
/* Prefixes the current reason with "prefix: " (e.g. a config key path). */
int ward_err_prefix(int err, const char *fmt, ...) WARD_PRINTF(2, 3);
/* The reason recorded by the last ward_err_set() on this thread ("" if none). */
const char *ward_err_msg(void);
void ward_err_clear(void);
/* A short name for the code itself ("invalid", "nomem", ...). */
const char *ward_err_name(int err);

#endif
