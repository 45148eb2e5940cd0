/* Typed reads of JSON values (jansson) for ward's smaller files: `ward
 * server`'s configuration and its registration entries. Every reason names
 * the key path the value came from ("entries[2].selectors[0]: must be a
 * string (got 7)"), so a user can find the line to fix. */
#ifndef WARD_CONFIG_JSON_H
#define WARD_CONFIG_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

#define WARD_JSON_PATH_MAX 192

/* Renders a value for "(got ...)" in errors: strings quoted, cut short and
 * made printable, containers named rather than dumped. */
const char *ward_json_describe(const json_t *v, char *buf, size_t len);

/* Parses the file at path (duplicate keys refused), read as lib/file.h reads
 * a command's input: a regular file, or a pipe (each wait at most
 * WARD_JSON_PIPE_WAIT_MS), of at most WARD_JSON_FILE_MAX bytes. WARD_ERR_IO
 * (or _RANGE, _TIMEOUT) if it cannot be read, WARD_ERR_INVALID with "path:
 * line L column C: why" otherwise. */
#define WARD_JSON_FILE_MAX (16u * 1024 * 1024)
#define WARD_JSON_PIPE_WAIT_MS 3000
int ward_json_load_file(const char *path, json_t **out) WARD_MUST_CHECK;

/* buf = path + "." + key (or key alone at the top). */
const char *ward_json_key_path(char *buf, size_t len, const char *path, const char *key);
/* buf = path + "[i]". */
const char *ward_json_index_path(char *buf, size_t len, const char *path, size_t i);

int ward_json_object(const json_t *v, const char *path) WARD_MUST_CHECK;
/* An array of at most max elements; its size in *n. */
int ward_json_array(const json_t *v, const char *path, size_t max, size_t *n) WARD_MUST_CHECK;
/* A non-empty string, borrowed from v. */
int ward_json_string(const json_t *v, const char *path, const char **out) WARD_MUST_CHECK;
/* An integer in [min, max]. */
int ward_json_int(const json_t *v, const char *path, long long min, long long max,
		  long long *out) WARD_MUST_CHECK;
/* "path: unknown key" (a misspelt key is an error, not a silent default). */
int ward_json_unknown(const char *path) WARD_MUST_CHECK;

/* Walks the object v (at path): fn gets each member with its key path, and
 * the walk stops at the first error. An fn that does not know a key returns
 * ward_json_unknown(key_path). */
typedef int (*ward_json_member_fn)(void *ctx, const char *key, const json_t *v,
				   const char *key_path);
int ward_json_members(const json_t *v, const char *path, ward_json_member_fn fn,
		      void *ctx) WARD_MUST_CHECK;

#endif
