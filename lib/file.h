/* Files that must never be seen half-written: `ward server`'s CA keys,
 * certificates and state. */
#ifndef WARD_FILE_H
#define WARD_FILE_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"

/* Writes data[0..len) to path atomically: a temporary file in the same
 * directory created with mode (so a key is never readable by others, not even
 * for an instant), written, fsync'd, renamed over path, and the directory
 * fsync'd. On failure the temporary file is removed and path is untouched. */
int ward_file_write_atomic(const char *path, const void *data, size_t len,
			   mode_t mode) WARD_MUST_CHECK;

/* write(2) until all of data[0..len) is written, retrying EINTR; -1 with
 * errno on failure. */
int ward_file_write_all(int fd, const void *data, size_t len) WARD_MUST_CHECK;

/* Creates dir (one level) with mode if it does not exist; an existing
 * directory must not be writable by group or others. */
int ward_file_private_dir(const char *dir, mode_t mode) WARD_MUST_CHECK;
/* The same checks on a dir that must not be created: 0 when it is private
 * or does not exist (*exists tells which). */
int ward_file_check_private_dir(const char *dir, bool *exists) WARD_MUST_CHECK;

#endif
