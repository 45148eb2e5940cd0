/* Reading files: only regular files, never blocking (a FIFO at a key path
 * must not hang the caller), bounded, and the loaders built on it (PEM,
 * JSON, the agent's config) refuse the same things. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "certs/pem.h"
#include "config/config.h"
#include "lib/file.h"
#include "lib/json.h"

struct dir {
	char path[64];
	char fifo[96], sub[96], link[96], reg[96], big[96];
};

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	strcpy(d->path, "/tmp/ward-file-test.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->fifo, sizeof(d->fifo), "%s/fifo", d->path);
	snprintf(d->sub, sizeof(d->sub), "%s/dir", d->path);
	snprintf(d->link, sizeof(d->link), "%s/link", d->path);
	snprintf(d->reg, sizeof(d->reg), "%s/reg.json", d->path);
	snprintf(d->big, sizeof(d->big), "%s/big", d->path);
	if (mkfifo(d->fifo, 0600) < 0 || mkdir(d->sub, 0700) < 0 || symlink(d->fifo, d->link) < 0)
		return -1;
	put(d->reg, "{\"a\": 1}\n");
	*state = d;
	/* A read that blocks fails the test instead of hanging it. */
	alarm(20);
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->fifo);
	unlink(d->link);
	unlink(d->reg);
	unlink(d->big);
	rmdir(d->sub);
	rmdir(d->path);
	free(d);
	alarm(0);
	return 0;
}

static void expect_refused(const char *path, const char *why)
{
	char *buf = (char *)1;
	size_t len = 7;

	assert_int_equal(ward_file_read(path, 4096, &buf, &len, NULL), WARD_ERR_IO);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_non_null(strstr(ward_err_msg(), path));
	assert_non_null(strstr(ward_err_msg(), why));
}

static void test_only_regular_files(void **state)
{
	struct dir *d = *state;

	expect_refused(d->fifo, "a FIFO, not a regular file");
	expect_refused(d->link, "a FIFO, not a regular file"); /* the link is followed */
	expect_refused(d->sub, "a directory, not a regular file");
	expect_refused("/dev/null", "a device, not a regular file");
	expect_refused("/dev/zero", "a device, not a regular file");
	expect_refused("/nonexistent/ward", "No such file");
	assert_null(ward_file_fopen_read(d->fifo));
	assert_null(ward_file_fopen_read(d->sub));
}

static void test_reads_whole_file(void **state)
{
	struct dir *d = *state;
	char *buf;
	size_t len;
	mode_t mode = 0;

	chmod(d->reg, 0640);
	assert_int_equal(ward_file_read(d->reg, 4096, &buf, &len, &mode), 0);
	assert_int_equal(len, 9);
	assert_string_equal(buf, "{\"a\": 1}\n");
	assert_int_equal(mode, 0640);
	free(buf);
	/* Exactly at the limit is fine, one byte over is not. */
	assert_int_equal(ward_file_read(d->reg, 9, &buf, &len, NULL), 0);
	free(buf);
	assert_int_equal(ward_file_read(d->reg, 8, &buf, &len, NULL), WARD_ERR_RANGE);
	assert_null(buf);
}

/* /proc files say they are empty: the buffer grows as they are read. */
static void test_reads_files_longer_than_they_say(void **state)
{
	char *buf;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(ward_file_read("/proc/self/status", 1 << 20, &buf, &len, NULL), 0);
	assert_true(len > 256);
	assert_int_equal(strlen(buf), len);
	assert_non_null(strstr(buf, "\nPid:"));
	free(buf);
	f = ward_file_fopen_read("/proc/self/status");
	assert_non_null(f);
	fclose(f);
}

static void test_loaders_refuse_a_fifo(void **state)
{
	struct dir *d = *state;
	struct ward_pem_certs certs;
	struct ward_pem_key key;
	struct ward_config *cfg = NULL;
	json_t *j = NULL;

	assert_int_equal(ward_pem_key_load_file(d->fifo, &key), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "a FIFO"));
	assert_int_equal(ward_pem_certs_load_file(d->link, &certs), WARD_ERR_IO);
	assert_int_equal(ward_pem_certs_load_file("/dev/null", &certs), WARD_ERR_IO);
	/* A config may come through a pipe, but one nobody writes to is refused
	 * (after WARD_JSON_PIPE_WAIT_MS), never waited on for ever. */
	assert_int_equal(ward_json_load_file(d->fifo, &j), WARD_ERR_TIMEOUT);
	assert_non_null(strstr(ward_err_msg(), "a FIFO, and nothing written to it"));
	assert_null(j);
	assert_int_equal(ward_json_load_file(d->sub, &j), WARD_ERR_IO);
	assert_int_equal(ward_config_load_file(d->sub, &cfg), WARD_ERR_IO);
	assert_null(cfg);
	assert_int_equal(ward_json_load_file(d->reg, &j), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
}

/* `--config <(...)`: a pipe with a writer is read to its end. */
static void test_pipe_input(void **state)
{
	char path[64], *buf;
	size_t len;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "{\"a\": 2}", 8), 8);
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(ward_file_read_input(path, 4096, 3000, &buf, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(buf, "{\"a\": 2}");
	free(buf);
	close(p[0]);
	/* Too long for max. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(ward_file_read_input(path, 4, 3000, &buf, &len), WARD_ERR_RANGE);
	close(p[0]);
}

static void test_json_errors_name_the_line(void **state)
{
	struct dir *d = *state;
	json_t *j = NULL;

	put(d->big, "{\n  \"a\": 1,\n  \"a\": 2\n}\n");
	assert_int_equal(ward_json_load_file(d->big, &j), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "line 3"));
	assert_non_null(strstr(ward_err_msg(), "duplicate"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_only_regular_files),
	    cmocka_unit_test(test_reads_whole_file),
	    cmocka_unit_test(test_reads_files_longer_than_they_say),
	    cmocka_unit_test(test_loaders_refuse_a_fifo),
	    cmocka_unit_test(test_pipe_input),
	    cmocka_unit_test(test_json_errors_name_the_line),
	};

	return cmocka_run_group_tests_name("file", tests, setup, teardown);
}
