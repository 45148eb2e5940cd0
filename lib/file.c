#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
