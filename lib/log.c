#include "lib/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = WARD_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int ward_log_set_level_name(const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (!strcmp(name, level_names[i])) {
			ward_log_set_level((enum ward_log_level)i);
			return 0;
		}
	}
	return ward_err_set(WARD_ERR_INVALID,
			    "log level \"%s\": expected debug, info, warn or error", name);
}

void ward_log_set_level(enum ward_log_level level)
{
	atomic_store(&min_level, (int)level);
}

const char *ward_log_level_name(void)
{
	return level_names[atomic_load(&min_level)];
}

bool ward_log_enabled(enum ward_log_level level)
{
	return (int)level >= atomic_load(&min_level);
}

static void format_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void ward_log_emit(enum ward_log_level level, const char *event, json_t *fields)
{
	char when[40];
	json_t *line;
	char *text;

	if (!ward_log_enabled(level)) {
		json_decref(fields);
		return;
	}
	format_time(when, sizeof(when));
	line =
	    json_pack("{s:s,s:s,s:s}", "time", when, "level", level_names[level], "event", event);
	if (!line) {
		json_decref(fields);
		return;
	}
	if (fields)
		json_object_update(line, fields);
	json_decref(fields);
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (!text)
		return;
	size_t n = strlen(text);
	text[n] = '\n'; /* json_dumps leaves room: the NUL becomes the newline */
	if (write(STDERR_FILENO, text, n + 1) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
	free(text);
}

void ward_log(enum ward_log_level level, const char *event, const char *fmt, ...)
{
	json_error_t err;
	json_t *fields = NULL;
	va_list ap;

	if (!ward_log_enabled(level))
		return;
	if (fmt) {
		va_start(ap, fmt);
		fields = json_vpack_ex(&err, 0, fmt, ap);
		va_end(ap);
	}
	ward_log_emit(level, event, fields);
}

void ward_log_limit_init(struct ward_log_limit *l, double per_sec, double burst)
{
	memset(l, 0, sizeof(*l));
	l->per_sec = per_sec;
	l->burst = burst;
	l->tokens = burst;
}

bool ward_log_limit_allow(struct ward_log_limit *l, unsigned long long now_ms,
			  unsigned long *suppressed)
{
	if (l->last_ms && now_ms > l->last_ms)
		l->tokens += (double)(now_ms - l->last_ms) * l->per_sec / 1000.0;
	if (l->tokens > l->burst)
		l->tokens = l->burst;
	l->last_ms = now_ms;
	if (l->tokens < 1.0) {
		l->suppressed++;
		return false;
	}
	l->tokens -= 1.0;
	*suppressed = l->suppressed;
	l->suppressed = 0;
	return true;
}
