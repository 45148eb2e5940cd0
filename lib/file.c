#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
