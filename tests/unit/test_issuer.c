/* SVIDs per entry with an injected clock: TTLs (capped at the CA's expiry),
 * rotation at half life for held SVIDs, dropping of unheld ones, re-issue
 * when the active CA changes, and forced rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "lib/log.h"
#include "server/issuer.h"

#define CA_TTL 600

static char dir[64];
static time_t t0;
static struct ward_ca_manager *ca;
static struct ward_registration *reg;

static void must(int rc)
{
	if (rc < 0)
		fail_msg("%s (%s)", ward_err_msg(), ward_err_name(rc));
}

static int setup(void **state)
{
	struct ward_ca_manager_config cfg = {.trust_domain = "example.org", .ca_ttl_s = CA_TTL};

	strcpy(dir, "/tmp/ward-test-issuer-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	cfg.data_dir = dir;
	t0 = time(NULL);
	if (ward_ca_manager_new(&cfg, t0, &ca) < 0)
		return -1;
	return ward_registration_load_string(
	    "entries",
	    "{\"entries\": [{\"spiffe_id\": \"spiffe://example.org/web\", \"selectors\": "
	    "[\"unix:uid:1\"]}, {\"spiffe_id\": \"spiffe://example.org/db\", \"selectors\": "
	    "[\"unix:uid:2\"], \"x509_svid_ttl_s\": 60}]}",
	    "example.org", &reg);
}

static int teardown(void **state)
{
	char cmd[128];

	ward_registration_free(reg);
	ward_ca_manager_free(ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_issue_and_cache(void **state)
{
	const struct ward_issued *web, *db, *again;
	struct ward_spiffe_id id;
	struct ward_issuer *iss;
	uint64_t gen;

	must(ward_issuer_new(reg, 3600, &iss));
	assert_null(ward_issuer_at(iss, 0));
	assert_int_equal(ward_issuer_next_event(iss), 0);
	must(ward_issuer_get(iss, 0, ca, t0, &web));
	must(ward_svid_leaf_check(web->chain.data, web->leaf_len, &id));
	assert_string_equal(id.text, "spiffe://example.org/web");
	/* Self-signed mode: the chain is the leaf alone. */
	assert_int_equal(web->chain.len, web->leaf_len);
	assert_true(ward_key_matches_cert(web->key, web->chain.data, web->leaf_len));
	assert_non_null(web->key_pkcs8.data);
	assert_int_equal(web->ca_id, ward_ca_manager_active(ca)->id);
	/* svid_ttl_s 3600 is capped at the CA's expiry. */
	assert_int_equal(web->not_after, ward_ca_manager_active(ca)->not_after);
	gen = web->generation;
	must(ward_issuer_get(iss, 0, ca, t0 + 1, &again));
	assert_int_equal(again->generation, gen);

	must(ward_issuer_get(iss, 1, ca, t0, &db));
	assert_int_equal(db->not_after, t0 + 60);
	assert_int_equal(db->not_before, t0 - WARD_CA_BACKDATE_S);
	assert_int_equal(db->issued_at, t0);
	assert_int_equal(ward_issuer_next_event(iss), t0 + 30);
	ward_issuer_free(iss);
}

static void test_rotation(void **state)
{
	const struct ward_issued *db, *web;
	char serial[sizeof(db->serial_hex)];
	struct ward_issuer *iss;
	time_t half = t0 + 30; /* half of the 60 s it was issued for */
	uint64_t gen;
	unsigned ca_id;
	bool changed;

	must(ward_issuer_new(reg, 3600, &iss));
	must(ward_issuer_get(iss, 0, ca, t0, &web));
	must(ward_issuer_get(iss, 1, ca, t0, &db));
	ward_issuer_hold(iss, 1);
	assert_int_equal(ward_issuer_holders(iss, 1), 1);
	gen = db->generation;
	strcpy(serial, db->serial_hex);

	must(ward_issuer_tick(iss, ca, half - 1, &changed));
	assert_false(changed);
	must(ward_issuer_tick(iss, ca, half, &changed));
	assert_true(changed);
	db = ward_issuer_at(iss, 1);
	assert_true(db->generation > gen);
	assert_string_not_equal(db->serial_hex, serial);
	assert_int_equal(db->not_after, half + 60);
	/* web is not held: when it comes due it is dropped, not re-issued. */
	must(ward_issuer_tick(iss, ca, ward_issuer_rotate_at(web->issued_at, web->not_after),
			      &changed));
	assert_null(ward_issuer_at(iss, 0));

	/* A new active CA: held SVIDs are re-issued under it at once. */
	gen = ward_issuer_at(iss, 1)->generation;
	must(ward_ca_manager_prepare(ca, half + 1, false, &ca_id));
	must(ward_ca_manager_activate(ca, ca_id, half + 1, false));
	must(ward_issuer_tick(iss, ca, half + 1, &changed));
	assert_true(changed);
	db = ward_issuer_at(iss, 1);
	assert_true(db->generation > gen);
	assert_int_equal(db->ca_id, ward_ca_manager_active(ca)->id);
	/* The CA knows how long its last SVID lives (root rotation waits). */
	assert_int_equal(ward_ca_manager_active(ca)->issued_until, db->not_after);

	gen = db->generation;
	must(ward_issuer_rotate_all(iss, ca, half + 2));
	assert_true(ward_issuer_at(iss, 1)->generation > gen);
	ward_issuer_put(iss, 1);
	ward_issuer_put(iss, 1); /* more puts than holds are harmless */
	assert_int_equal(ward_issuer_holders(iss, 1), 0);
	ward_issuer_free(iss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_and_cache),
	    cmocka_unit_test(test_rotation),
	};
	int rc;

	ward_log_set_level(WARD_LOG_ERROR);
	wolfSSL_Init();
	rc = cmocka_run_group_tests_name("issuer", tests, setup, teardown);
	wolfSSL_Cleanup();
	return rc;
}
