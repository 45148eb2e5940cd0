/* CA rotation with an injected clock: SPIRE's schedule (prepare at 1/2 of the
 * active CA's life, activate at 5/6), overlapping bundles, forced CA and root
 * rotation, persistence across a restart, and the upstream-CA mode (with
 * tests/unit/fixtures/ca.pem as upstream; run from the repo root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "lib/log.h"
#include "server/ca_manager.h"

#define TTL 600
#define FIX "tests/unit/fixtures/"

static char dir[64];
static time_t t0;

static void must(int rc)
{
	if (rc < 0)
		fail_msg("%s (%s)", ward_err_msg(), ward_err_name(rc));
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/ward-test-ca-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct ward_ca_manager_config config(void)
{
	return (struct ward_ca_manager_config){
	    .trust_domain = "example.org", .data_dir = dir, .ca_ttl_s = TTL};
}

static struct ward_ca_manager *open_at(time_t now)
{
	struct ward_ca_manager_config cfg = config();
	struct ward_ca_manager *m;

	must(ward_ca_manager_new(&cfg, now, &m));
	return m;
}

static size_t bundle_size(const struct ward_ca_manager *m, time_t now)
{
	struct ward_der certs[WARD_CA_MAX_SLOTS];

	return ward_ca_manager_bundle(m, now, certs, WARD_CA_MAX_SLOTS);
}

static bool tick(struct ward_ca_manager *m, time_t now)
{
	bool changed;

	must(ward_ca_manager_tick(m, now, &changed));
	return changed;
}

static void test_schedule_arithmetic(void **state)
{
	assert_int_equal(ward_ca_prepare_at(0, 600), 300);
	assert_int_equal(ward_ca_activate_at(0, 600), 500);
	assert_int_equal(ward_ca_prepare_at(1000, 1000 + 86400), 1000 + 43200);
	assert_int_equal(ward_ca_activate_at(1000, 1000 + 86400), 1000 + 72000);
}

static void test_prepare_activate_drop(void **state)
{
	struct ward_ca_manager *m = open_at(t0);
	const struct ward_ca_slot *a = ward_ca_manager_active(m), *slots;
	time_t nb = t0 - WARD_CA_BACKDATE_S, na = t0 + TTL;
	time_t prep = t0 + TTL / 2, act = t0 + TTL * 5 / 6;
	uint64_t v = ward_ca_manager_version(m);
	unsigned first;
	size_t n;

	assert_non_null(a);
	first = a->id;
	assert_int_equal(a->not_before, nb);
	assert_int_equal(a->not_after, na);
	assert_int_equal(a->issued_at, t0);
	assert_int_equal(ward_ca_prepare_at(a->issued_at, a->not_after), prep);
	assert_int_equal(ward_ca_activate_at(a->issued_at, a->not_after), act);
	assert_int_equal(bundle_size(m, t0), 1);
	assert_int_equal(ward_ca_manager_next_event(m, t0), prep);

	assert_false(tick(m, prep - 1));
	assert_true(tick(m, prep));
	assert_true(ward_ca_manager_version(m) > v);
	slots = ward_ca_manager_slots(m, &n);
	assert_int_equal(n, 2);
	assert_int_equal(slots[1].state, WARD_CA_PREPARED);
	assert_int_equal(ward_ca_manager_active(m)->id, first); /* still signing */
	assert_int_equal(bundle_size(m, prep), 2);		/* but already trusted */
	assert_int_equal(ward_ca_manager_next_event(m, prep), act);

	assert_false(tick(m, act - 1));
	assert_true(tick(m, act));
	a = ward_ca_manager_active(m);
	assert_int_not_equal(a->id, first);
	assert_int_equal(slots[0].state, WARD_CA_OLD);
	assert_int_equal(bundle_size(m, act), 2); /* the old CA's SVIDs still verify */
	/* The old CA leaves the bundle at its expiry, which is also when the new
	 * active CA (issued at prep) reaches its own half-life. */
	assert_int_equal(ward_ca_prepare_at(a->issued_at, a->not_after), na);
	assert_int_equal(ward_ca_manager_next_event(m, act), na);
	assert_false(tick(m, na - 1));
	assert_true(tick(m, na));
	slots = ward_ca_manager_slots(m, &n);
	assert_int_equal(n, 2);
	assert_int_equal(slots[0].state, WARD_CA_ACTIVE);
	assert_int_equal(slots[1].state, WARD_CA_PREPARED);
	assert_int_equal(bundle_size(m, na), 2);
	ward_ca_manager_free(m);
}

static void test_restart_keeps_cas(void **state)
{
	struct ward_ca_manager *m = open_at(t0);
	char serial[sizeof(((struct ward_ca_slot *)0)->serial_hex)], path[128];
	unsigned id = ward_ca_manager_active(m)->id;
	time_t issued = ward_ca_manager_active(m)->issued_at;
	struct stat st;

	strcpy(serial, ward_ca_manager_active(m)->serial_hex);
	ward_ca_manager_free(m);
	m = open_at(t0 + 1);
	assert_int_equal(ward_ca_manager_active(m)->id, id);
	assert_string_equal(ward_ca_manager_active(m)->serial_hex, serial);
	assert_int_equal(ward_ca_manager_active(m)->issued_at, issued);
	snprintf(path, sizeof(path), "%s/ca-%u.key", dir, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	ward_ca_manager_free(m);
	/* Down past the CA's expiry: a fresh CA, and the old one's files go. */
	m = open_at(t0 + 2 * TTL);
	assert_int_not_equal(ward_ca_manager_active(m)->id, id);
	assert_int_equal(bundle_size(m, t0 + 2 * TTL), 1);
	assert_int_equal(stat(path, &st), -1);
	ward_ca_manager_free(m);
}

static void test_forced_rotations(void **state)
{
	time_t now = t0 + 4 * TTL; /* past everything the earlier tests left */
	struct ward_ca_manager *m = open_at(now);
	unsigned first = ward_ca_manager_active(m)->id, second, third, again;
	uint64_t v;

	must(ward_ca_manager_note_issued(m, now + 100));
	/* Prepared first: in the bundle, not yet signing. */
	v = ward_ca_manager_version(m);
	must(ward_ca_manager_prepare(m, now + 1, false, &second));
	assert_int_not_equal(second, first);
	assert_true(ward_ca_manager_version(m) > v);
	assert_int_equal(ward_ca_manager_active(m)->id, first);
	assert_int_equal(bundle_size(m, now + 1), 2);
	/* Preparing again keeps the prepared CA (it is in the bundles already). */
	must(ward_ca_manager_prepare(m, now + 1, false, &again));
	assert_int_equal(again, second);
	must(ward_ca_manager_activate(m, second, now + 1, false));
	assert_int_equal(ward_ca_manager_active(m)->id, second);
	assert_int_equal(bundle_size(m, now + 1), 2);
	/* Activating what is already active is no change. */
	v = ward_ca_manager_version(m);
	must(ward_ca_manager_activate(m, second, now + 1, false));
	assert_int_equal(ward_ca_manager_version(m), v);

	/* Root rotation: a fresh root in the bundle next to the others; once
	 * active, the older CAs stay only until their last SVID ends; second
	 * signed nothing, so it is out of the bundle at once. */
	must(ward_ca_manager_prepare(m, now + 2, true, &third));
	assert_int_equal(bundle_size(m, now + 2), 3);
	assert_int_equal(ward_ca_manager_active(m)->id, second);
	must(ward_ca_manager_activate(m, third, now + 2, true));
	assert_int_equal(ward_ca_manager_active(m)->id, third);
	assert_int_equal(bundle_size(m, now + 2), 2);
	assert_int_equal(ward_ca_manager_next_event(m, now + 2), now + 3);
	assert_true(tick(m, now + 3)); /* second's files go */
	assert_int_equal(bundle_size(m, now + 3), 2);
	assert_int_equal(ward_ca_manager_next_event(m, now + 3), now + 100);
	assert_false(tick(m, now + 99));
	assert_true(tick(m, now + 100)); /* first's last SVID expired */
	assert_int_equal(bundle_size(m, now + 100), 1);
	/* A CA that is gone cannot be activated. */
	assert_int_equal(ward_ca_manager_activate(m, second, now + 100, false), WARD_ERR_NOTFOUND);
	ward_ca_manager_free(m);
}

static void test_upstream(void **state)
{
	struct ward_ca_manager_config cfg = config();
	struct ward_der certs[4];
	struct ward_ca_manager *m;
	struct ward_pem_certs up;
	time_t now = t0 + 8 * TTL;
	unsigned id;

	cfg.upstream_cert = FIX "ca.pem";
	cfg.upstream_key = FIX "ca.key";
	cfg.upstream_bundle = FIX "ca.pem";
	must(ward_ca_manager_new(&cfg, now, &m));
	must(ward_pem_certs_load_file(FIX "ca.pem", &up));
	assert_true(ward_ca_manager_is_upstream(m));
	/* The bundle is upstream's; the chain carries our intermediate. */
	assert_int_equal(ward_ca_manager_bundle(m, now, certs, 4), 1);
	assert_memory_equal(certs[0].data, up.certs[0].data, up.certs[0].len);
	assert_int_equal(ward_ca_manager_chain(m, certs, 4), 1);
	assert_memory_equal(certs[0].data, ward_ca_manager_active(m)->cert.data, certs[0].len);
	assert_int_equal(ward_ca_manager_prepare(m, now, true, &id), WARD_ERR_UNSUPPORTED);
	must(ward_ca_manager_prepare(m, now, false, &id));
	must(ward_ca_manager_activate(m, id, now, false));
	ward_ca_manager_free(m);
	ward_pem_certs_free(&up);

	/* A key that is not the certificate's. */
	cfg.upstream_key = FIX "leaf.key";
	assert_int_equal(ward_ca_manager_new(&cfg, now, &m), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "upstream.key: " FIX "leaf.key is not the key"));
	/* A certificate that does not chain to the bundle. */
	cfg.upstream_key = FIX "ca.key";
	cfg.upstream_bundle = FIX "other-ca.pem";
	assert_int_equal(ward_ca_manager_new(&cfg, now, &m), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "does not verify against upstream.bundle"));
	/* Not a CA. */
	cfg.upstream_cert = FIX "good.pem";
	cfg.upstream_key = FIX "leaf.key";
	assert_int_equal(ward_ca_manager_new(&cfg, now, &m), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "upstream.cert"));
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_bad_store(void **state)
{
	struct ward_ca_manager_config cfg = config();
	struct ward_ca_manager *m;
	char path[128];

	snprintf(path, sizeof(path), "%s/ca.json", dir);
	write_text(path, "{\"version\":1,\"next_id\":3,\"upstream\":\"\",\"cas\":"
			 "[{\"id\":2,\"state\":\"sleeping\",\"issued_until\":0,\"drop_at\":0}]}");
	assert_int_equal(ward_ca_manager_new(&cfg, t0, &m), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "cas[0].state: \"sleeping\" is not"));
	write_text(path, "{\"version\":1,\"next_id\":3,\"upstream\":\"\",\"cas\":"
			 "[{\"id\":2,\"state\":\"active\",\"issued_until\":0,\"drop_at\":0}]}");
	assert_int_equal(ward_ca_manager_new(&cfg, t0, &m), WARD_ERR_IO);
	assert_non_null(strstr(ward_err_msg(), "ca-2.pem"));
	unlink(path);
	/* A data dir others may write to is refused: it holds CA keys. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(ward_ca_manager_new(&cfg, t0, &m), WARD_ERR_PERM);
	assert_int_equal(chmod(dir, 0700), 0);
}

/* Each file of d as "name size mtime" lines: what a read-only open must
 * leave exactly as it was. */
static void snapshot(const char *d, char *out, size_t len)
{
	char cmd[256];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "cd %s && stat -c '%%n %%s %%Y.%%y' * | sort", d);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	pclose(p);
}

/* ward server --check: loads and checks everything, writes nothing. */
static void test_read_only(void **state)
{
	struct ward_ca_manager_config cfg = config();
	struct ward_ca_manager *m;
	char sub[96], before[4096], after[4096], serial[64];
	struct stat st;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	cfg.data_dir = sub;
	cfg.read_only = true;
	must(ward_ca_manager_new(&cfg, t0, &m));
	assert_true(ward_ca_manager_active_is_new(m));
	ward_ca_manager_free(m);
	assert_int_equal(stat(sub, &st), -1); /* not created */

	cfg.read_only = false;
	must(ward_ca_manager_new(&cfg, t0, &m));
	assert_true(ward_ca_manager_active_is_new(m)); /* made, not loaded */
	strcpy(serial, ward_ca_manager_active(m)->serial_hex);
	ward_ca_manager_free(m);
	snapshot(sub, before, sizeof(before));
	assert_non_null(strstr(before, "ca.json "));

	cfg.read_only = true;
	/* Loaded as it is; past the prepare mark (a new CA would be written);
	 * past its expiry (it would be replaced and its files removed). */
	static const time_t later[] = {1, TTL * 6 / 10, 2 * TTL};
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		sleep(i == 0); /* so that a rewrite would show in the mtimes */
		must(ward_ca_manager_new(&cfg, t0 + later[i], &m));
		assert_int_equal(ward_ca_manager_active_is_new(m), i == 2);
		if (i < 2)
			assert_string_equal(ward_ca_manager_active(m)->serial_hex, serial);
		ward_ca_manager_free(m);
		snapshot(sub, after, sizeof(after));
		assert_string_equal(after, before);
	}
	/* The same refusal as a real start: others may write there. */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(ward_ca_manager_new(&cfg, t0, &m), WARD_ERR_PERM);
	assert_int_equal(chmod(sub, 0700), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schedule_arithmetic),
	    cmocka_unit_test(test_prepare_activate_drop),
	    cmocka_unit_test(test_restart_keeps_cas),
	    cmocka_unit_test(test_forced_rotations),
	    cmocka_unit_test(test_upstream),
	    cmocka_unit_test(test_bad_store),
	    cmocka_unit_test(test_read_only),
	};
	int rc;

	t0 = time(NULL);
	ward_log_set_level(WARD_LOG_ERROR);
	wolfSSL_Init();
	rc = cmocka_run_group_tests_name("ca_manager", tests, setup, teardown);
	wolfSSL_Cleanup();
	return rc;
}
