/* Files: the one way ward reads a file (identity, config, bundles, entries,
 * CA and webhook certificates), and files that must never be seen
 * half-written (`ward server`'s CA keys, certificates and state). */
#ifndef WARD_FILE_H
#define WARD_FILE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lib/err.h"

/* Opens path for reading without ever blocking the caller's loop: a FIFO
 * would block open() until some writer came, and a device may act on being
 * opened, so anything but a regular file (symlinks followed) is refused
 * before it is opened; the file is then opened O_NONBLOCK and checked again
 * (fstat), in case the path changed in between. Returns the descriptor (the
 * caller closes it) and fills *st, or a negative ward_err naming the path. */
int ward_file_open_read(const char *path, struct stat *st) WARD_MUST_CHECK;

/* A command's input: a regular file as ward_file_read reads it, or a pipe
 * (`--config <(...)`, a FIFO) read until its writer closes it, each wait for
 * more bounded by timeout_ms (a FIFO nobody writes to is refused, never
 * waited on for ever). Directories and devices are refused. Only for what is
 * read before a loop runs: configs, entries, injector inputs. */
int ward_file_read_input(const char *path, size_t max, int timeout_ms, char **buf,
			 size_t *len) WARD_MUST_CHECK;

/* The same for line-oriented reads with stdio (/proc tables): NULL when the
 * file cannot be opened or is not a regular file (the reason is set). */
FILE *ward_file_fopen_read(const char *path);

/* Reads the whole regular file at path, opened as above, into a malloc'd
 * buffer with a NUL after the last byte: at most max bytes (WARD_ERR_RANGE
 * past it). *mode (if not NULL) gets the permission bits. On failure *buf is
 * NULL (what was read is zeroed). A buffer that held a secret is zeroed by
 * the caller before it is freed. */
int ward_file_read(const char *path, size_t max, char **buf, size_t *len,
		   mode_t *mode) WARD_MUST_CHECK;

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
