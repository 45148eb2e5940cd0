#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"

static const char *kind_of(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

int ward_file_open_read(const char *path, struct stat *st)
{
	int fd;

	if (stat(path, st) < 0)
		return ward_err_set(WARD_ERR_IO, "%s: %s", path, strerror(errno));
	ENSURE(S_ISREG(st->st_mode), WARD_ERR_IO, "%s: %s, not a regular file", path,
	       kind_of(st->st_mode));
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return ward_err_set(WARD_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return ward_err_set(WARD_ERR_IO, "%s: changed while being opened", path);
	}
	return fd;
}

FILE *ward_file_fopen_read(const char *path)
{
	struct stat st;
	int fd = ward_file_open_read(path, &st);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f) {
		ward_err_set(WARD_ERR_NOMEM, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

/* A bigger buffer for a file that is longer than it said (/proc files say 0):
 * the old one is zeroed, as it may hold a key. */
static int grow(char **buf, size_t *cap, size_t got, size_t max)
{
	size_t want = *cap * 2 > max + 1 ? max + 1 : *cap * 2;
	char *b = malloc(want);

	if (!b)
		return WARD_ERR_NOMEM;
	memcpy(b, *buf, got);
	explicit_bzero(*buf, got);
	free(*buf);
	*buf = b;
	*cap = want;
	return 0;
}

/* Reads to the end, or one byte past max, so that a file that grew is still
 * caught. */
static int read_all(int fd, char **buf, size_t *cap, size_t *got, size_t max)
{
	ssize_t n;

	for (;;) {
		if (*got == *cap && *cap > max)
			return 0;
		if (*got == *cap && grow(buf, cap, *got, max) < 0)
			return WARD_ERR_NOMEM;
		n = read(fd, *buf + *got, *cap - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return WARD_ERR_IO;
		if (n == 0)
			return 0;
		*got += (size_t)n;
	}
}

int ward_file_read(const char *path, size_t max, char **buf, size_t *len, mode_t *mode)
{
	struct stat st;
	size_t got = 0, cap;
	int rc, err, fd = ward_file_open_read(path, &st);

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return fd;
	if (mode)
		*mode = st.st_mode & 07777;
	/* The size it claims, plus room to see that it is not longer. */
	cap = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	if (cap < 256)
		cap = max + 1 < 256 ? max + 1 : 256;
	*buf = malloc(cap);
	rc = *buf ? read_all(fd, buf, &cap, &got, max) : WARD_ERR_NOMEM;
	err = errno;
	close(fd);
	if (rc == 0 && got <= max) { /* then got < cap: read_all grows a full buffer */
		(*buf)[got] = '\0';
		*len = got;
		return 0;
	}
	if (rc == WARD_ERR_IO)
		rc = ward_err_set(WARD_ERR_IO, "%s: %s", path, strerror(err));
	else if (rc == 0 && got > max)
		rc = ward_err_set(WARD_ERR_RANGE, "%s: larger than %zu bytes", path, max);
	else
		rc = ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", path);
	if (*buf)
		explicit_bzero(*buf, got); /* it may have held part of a key */
	free(*buf);
	*buf = NULL;
	return rc;
}

/* A pipe: poll for each chunk, so a writer that never writes (or none at all)
 * ends in an error, not a hang. */
static int read_pipe(const char *path, int fd, size_t max, int timeout_ms, struct ward_buf *b)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint8_t chunk[4096];
	ssize_t n;

	for (;;) {
		int r = poll(&p, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		ENSURE(r > 0, WARD_ERR_TIMEOUT,
		       "%s: a FIFO, and nothing written to it within %d ms", path, timeout_ms);
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		ENSURE(n >= 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		ENSURE(ward_buf_append(b, chunk, (size_t)n) == 0, WARD_ERR_RANGE,
		       "%s: larger than %zu bytes", path, max);
	}
	ENSURE(ward_buf_len(b) > 0, WARD_ERR_IO, "%s: a FIFO with nothing written to it", path);
	return 0;
}

int ward_file_read_input(const char *path, size_t max, int timeout_ms, char **buf, size_t *len)
{
	struct ward_buf b;
	struct stat st;
	int fd, rc;

	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ENSURE(fd >= 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
		ward_buf_init(&b, max + 1);
		rc = read_pipe(path, fd, max, timeout_ms, &b);
		close(fd);
		if (rc == 0)
			rc = ward_buf_append(&b, "", 1) == 0 ? 0 : WARD_ERR_NOMEM;
		*len = rc == 0 ? ward_buf_len(&b) - 1 : 0;
		*buf = rc == 0 ? (char *)ward_buf_detach(&b, &(size_t){0}) : NULL;
		ward_buf_free(&b);
		return rc;
	}
	return ward_file_read(path, max, buf, len, NULL);
}

int ward_file_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is durable only once the directory entry is on disk. */
static void sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int ward_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd, err;

	ENSURE(snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) < (int)sizeof(tmp), WARD_ERR_RANGE,
	       "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC); /* created 0600 */
	if (fd < 0)
		return ward_err_set(WARD_ERR_IO, "%s: cannot create a temporary file: %s", path,
				    strerror(errno));
	if (fchmod(fd, mode) < 0 || ward_file_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		return ward_err_set(WARD_ERR_IO, "%s: %s", tmp, strerror(err));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		err = errno;
		unlink(tmp);
		return ward_err_set(WARD_ERR_IO, "%s: %s", path, strerror(err));
	}
	sync_dir_of(path);
	return 0;
}

int ward_file_check_private_dir(const char *dir, bool *exists)
{
	struct stat st;

	*exists = false;
	if (stat(dir, &st) < 0) {
		ENSURE(errno == ENOENT, WARD_ERR_IO, "%s: %s", dir, strerror(errno));
		return 0;
	}
	*exists = true;
	ENSURE(S_ISDIR(st.st_mode), WARD_ERR_IO, "%s: not a directory", dir);
	ENSURE(!(st.st_mode & 022), WARD_ERR_PERM,
	       "%s: writable by group or others (mode %04o); it holds CA keys", dir,
	       (unsigned)(st.st_mode & 07777));
	return 0;
}

int ward_file_private_dir(const char *dir, mode_t mode)
{
	bool exists;

	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return ward_err_set(WARD_ERR_IO, "%s: %s", dir, strerror(errno));
	GUARD(ward_file_check_private_dir(dir, &exists));
	ENSURE(exists, WARD_ERR_IO, "%s: vanished after mkdir", dir);
	return 0;
}
