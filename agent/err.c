#include "err.h"

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
	char prefix[256], old[sizeof(last_reason)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last_reason, sizeof(old));
	snprintf(last_reason, sizeof(last_reason), "%s: %s", prefix, old);
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
	case WARD_OK: return "ok";
	case WARD_ERR_NOMEM: return "out of memory";
	case WARD_ERR_INVALID: return "invalid";
	case WARD_ERR_IO: return "i/o error";
	case WARD_ERR_TLS: return "tls error";
	case WARD_ERR_DENIED: return "denied";
	case WARD_ERR_RANGE: return "out of range";
	case WARD_ERR_NOTFOUND: return "not found";
	case WARD_ERR_PERM: return "not permitted";
	case WARD_ERR_AGAIN: return "try again";
	case WARD_ERR_UNSUPPORTED: return "unsupported";
	}
	return "unknown error";
}
