/* Unix workload attestation: the selectors built from a caller's credentials
 * and a /proc tree (a fake one, to control groups, path and binary), and
 * from the real kernel through a socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/attest.h"

/* sha256 of "hello\n" */
#define HELLO_SHA256 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static char root[64], binary[128];

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* root/42/status, root/42/exe -> root/app (contents "hello\n") */
static int setup(void **state)
{
	char path[256];

	strcpy(root, "/tmp/ward-test-proc-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/42", root);
	mkdir(path, 0755);
	snprintf(binary, sizeof(binary), "%s/app", root);
	write_text(binary, "hello\n");
	snprintf(path, sizeof(path), "%s/42/exe", root);
	if (symlink(binary, path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/42/status", root);
	write_text(path, "Name:\tapp\nUid:\t0\t0\t0\t0\nGroups:\t0 4 \nNSpid:\t42\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void assert_has(const struct ward_selectors *s, const char *sel)
{
	if (!ward_selectors_contain(s, sel))
		fail_msg("no selector %s", sel);
}

static void test_selectors_from_proc(void **state)
{
	struct ward_attest_creds creds = {42, 0, 0};
	struct ward_attest_opts opts = {.want_sha256 = true, .proc_root = root};
	struct ward_selectors s;
	char path_sel[160];

	if (ward_attest_selectors(&creds, &opts, &s) < 0)
		fail_msg("%s", ward_err_msg());
	assert_string_equal(s.items[0], "unix:uid:0");
	assert_has(&s, "unix:user:root");
	assert_has(&s, "unix:gid:0");
	assert_has(&s, "unix:group:root");
	assert_has(&s, "unix:supplementary_gid:0");
	assert_has(&s, "unix:supplementary_group:root");
	assert_has(&s, "unix:supplementary_gid:4");
	snprintf(path_sel, sizeof(path_sel), "unix:path:%s", binary);
	assert_has(&s, path_sel);
	assert_has(&s, "unix:sha256:" HELLO_SHA256);
	for (size_t i = 0; i < s.n; i++)
		assert_null(ward_attest_selector_check(s.items[i]));
	ward_selectors_free(&s);

	/* No hashing unless an entry needs it. */
	opts.want_sha256 = false;
	if (ward_attest_selectors(&creds, &opts, &s) < 0)
		fail_msg("%s", ward_err_msg());
	assert_false(ward_selectors_contain(&s, "unix:sha256:" HELLO_SHA256));
	assert_has(&s, path_sel);
	ward_selectors_free(&s);
}

/* A uid with no name in the user database gets no user selector. */
static void test_unnamed_ids(void **state)
{
	struct ward_attest_creds creds = {42, 3999999, 3999999};
	struct ward_attest_opts opts = {.proc_root = root};
	struct ward_selectors s;

	if (ward_attest_selectors(&creds, &opts, &s) < 0)
		fail_msg("%s", ward_err_msg());
	assert_has(&s, "unix:uid:3999999");
	assert_has(&s, "unix:gid:3999999");
	for (size_t i = 0; i < s.n; i++) {
		assert_null(strstr(s.items[i], "unix:user:"));
		assert_null(strstr(s.items[i], "unix:group:"));
	}
	ward_selectors_free(&s);
}

/* pid 0 (a caller in a pid namespace the server cannot see): the kernel's
 * uid and gid, nothing read from /proc. */
static void test_pid_not_visible(void **state)
{
	struct ward_attest_creds creds = {0, 0, 0};
	struct ward_attest_opts opts = {.want_sha256 = true, .proc_root = root};
	struct ward_selectors s;

	if (ward_attest_selectors(&creds, &opts, &s) < 0)
		fail_msg("%s", ward_err_msg());
	assert_int_equal(s.n, 4);
	assert_string_equal(s.items[0], "unix:uid:0");
	assert_has(&s, "unix:user:root");
	assert_has(&s, "unix:gid:0");
	assert_has(&s, "unix:group:root");
	ward_selectors_free(&s);
}

static void test_failures(void **state)
{
	struct ward_attest_creds gone = {43, 0, 0}, creds = {42, 0, 0};
	struct ward_attest_opts opts = {.want_sha256 = true, .size_limit = 3, .proc_root = root};
	struct ward_selectors s;
	char path[256];

	assert_int_equal(ward_attest_selectors(&creds, &opts, &s), WARD_ERR_RANGE);
	assert_non_null(strstr(ward_err_msg(), "over the 3-byte hashing limit"));
	assert_null(s.items);
	assert_int_equal(ward_attest_selectors(&gone, &opts, &s), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "/43/status"));
	snprintf(path, sizeof(path), "%s/42/status", root);
	write_text(path, "Name:\tapp\nGroups:\t1 two\n");
	opts.size_limit = 0;
	assert_int_equal(ward_attest_selectors(&creds, &opts, &s), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "bad Groups line"));
	write_text(path, "Name:\tapp\nUid:\t0\t0\t0\t0\nGroups:\t0 4 \nNSpid:\t42\n");
}

/* The kernel's view: our own process over a socketpair. */
static void test_peer_creds(void **state)
{
	struct ward_attest_opts opts = {.want_sha256 = true};
	struct ward_attest_creds creds;
	struct ward_selectors s;
	char exe[512], sel[600];
	ssize_t n;
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	if (ward_attest_peer_creds(fds[0], &creds) < 0)
		fail_msg("%s", ward_err_msg());
	assert_int_equal(creds.pid, getpid());
	assert_int_equal(creds.uid, geteuid());
	assert_int_equal(creds.gid, getegid());
	if (ward_attest_selectors(&creds, &opts, &s) < 0)
		fail_msg("%s", ward_err_msg());
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(sel, sizeof(sel), "unix:path:%s", exe);
	assert_has(&s, sel);
	ward_selectors_free(&s);
	close(fds[0]);
	close(fds[1]);
	/* Not a socket. */
	assert_int_equal(ward_attest_peer_creds(0 + 1000, &creds), WARD_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selectors_from_proc), cmocka_unit_test(test_unnamed_ids),
	    cmocka_unit_test(test_pid_not_visible),	cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_peer_creds),
	};

	return cmocka_run_group_tests_name("attest", tests, setup, teardown);
}
