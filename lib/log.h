/* Logs: one JSON object per line on stderr, filtered by level. Each line has
 * "time", "level", "event" and the fields the caller adds. Thread-safe: a line
 * is built in memory and written with one write(2). */
#ifndef WARD_LOG_H
#define WARD_LOG_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

enum ward_log_level { WARD_LOG_DEBUG, WARD_LOG_INFO, WARD_LOG_WARN, WARD_LOG_ERROR };

int ward_log_set_level_name(const char *name) WARD_MUST_CHECK;
void ward_log_set_level(enum ward_log_level level);
/* "debug", "info", "warn" or "error": the level in force now. */
const char *ward_log_level_name(void);
bool ward_log_enabled(enum ward_log_level level);

/* Emits one line and takes ownership of fields (which may be NULL). */
void ward_log_emit(enum ward_log_level level, const char *event, json_t *fields);

/* Convenience: fields given as a jansson json_pack format and arguments, e.g.
 * ward_log(WARD_LOG_INFO, "listening", "{s:s}", "addr", text). */
void ward_log(enum ward_log_level level, const char *event, const char *fmt, ...);

/* Token bucket for noisy events (handshake failures, denials): allows `burst`
 * lines then `per_sec` a second, and counts what it suppressed so the next line
 * that passes can report it. One per event class per worker; not shared. */
struct ward_log_limit {
	double tokens;
	double per_sec;
	double burst;
	unsigned long long last_ms;
	unsigned long suppressed;
};
void ward_log_limit_init(struct ward_log_limit *l, double per_sec, double burst);
/* True if a line may be written now; *suppressed gets the count held back
 * since the last line allowed. */
bool ward_log_limit_allow(struct ward_log_limit *l, unsigned long long now_ms,
			  unsigned long *suppressed);

#endif
