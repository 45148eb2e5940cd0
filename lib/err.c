#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_reason[512];

int ward_err_set(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_reason, sizeof(last_reason), fmt, ap);
	va_end(ap);
	return err;
}

int ward_err_prefix(int err, const char *fmt, ...)
{
	char joined[2 * sizeof(last_reason)];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	n = (size_t)vsnprintf(joined, sizeof(last_reason), fmt, ap);
	va_end(ap);
	if (n >= sizeof(last_reason))
		n = sizeof(last_reason) - 1;
	snprintf(joined + n, sizeof(joined) - n, ": %s", last_reason);
	joined[sizeof(last_reason) - 1] = '\0'; /* keep the prefix, cut the tail */
	memcpy(last_reason, joined, sizeof(last_reason));
	return err;
}

const char *ward_err_msg(void)
{
	return last_reason;
}

void ward_err_clear(void)
{
	last_reason[0] = '\0';
}

const char *ward_err_name(int err)
{
	switch (err) {
	case WARD_OK:
		return "ok";
	case WARD_ERR_NOMEM:
		return "out of memory";
	case WARD_ERR_INVALID:
		return "invalid";
	case WARD_ERR_IO:
		return "i/o error";
	case WARD_ERR_TLS:
		return "tls error";
	case WARD_ERR_DENIED:
		return "denied";
	case WARD_ERR_RANGE:
		return "out of range";
	case WARD_ERR_NOTFOUND:
		return "not found";
	case WARD_ERR_PERM:
		return "not permitted";
	case WARD_ERR_WOULDBLOCK:
		return "needs more input";
	case WARD_ERR_UNSUPPORTED:
		return "unsupported";
	case WARD_ERR_RESET:
		return "connection reset";
	case WARD_ERR_NOTREADY:
		return "not ready";
	case WARD_ERR_TIMEOUT:
		return "timed out";
	case WARD_ERR_EOF:
		return "end of stream";
	}
	return "unknown error";
}
