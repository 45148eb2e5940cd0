/* CA rotation in SPIRE's schedule; see ca_manager.h. */
#include "server/ca_manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "lib/file.h"
#include "lib/log.h"
#include "server/ca_store.h"

struct upstream {
	struct ward_pem_certs chain;  /* cert file; chain.certs[0] signs ward's CAs */
	struct ward_pem_certs bundle; /* the trust bundle served */
	struct ward_key *key;
	struct ward_der below_root[WARD_CA_MAX_SLOTS]; /* borrowed from chain: sent after our CA */
	size_t n_below_root;
	time_t not_after; /* of chain.certs[0]: no CA of ours outlives it */
};

struct ward_ca_manager {
	char *td, *dir;
	unsigned ca_ttl_s;
	bool upstream_mode;
	struct upstream up;
	char up_digest[2 * WC_SHA256_DIGEST_SIZE + 1]; /* "" in self-signed mode */
	struct ward_ca_store store;
	uint64_t version;
	bool read_only;		/* --check: data_dir is neither created nor written */
	unsigned loaded_active; /* id of the active CA data_dir held, 0 if none */
};

time_t ward_ca_prepare_at(time_t issued_at, time_t not_after)
{
	return issued_at + (not_after - issued_at) / 2;
}

time_t ward_ca_activate_at(time_t issued_at, time_t not_after)
{
	return not_after - (not_after - issued_at) / 6;
}

/* ---- upstream CA --------------------------------------------------------- */

static bool in_bundle(const struct ward_pem_certs *bundle, const struct ward_der *cert)
{
	for (size_t i = 0; i < bundle->count; i++)
		if (bundle->certs[i].len == cert->len &&
		    !memcmp(bundle->certs[i].data, cert->data, cert->len))
			return true;
	return false;
}

/* The cert file must chain to the bundle under wolfSSL's own path validation,
 * or every SVID signed under it would be refused by peers. */
static int verify_upstream(const struct upstream *up, const char *cert_file)
{
	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	int rc = WOLFSSL_SUCCESS;
	size_t i;

	ENSURE(cm, WARD_ERR_NOMEM, "upstream: out of memory");
	for (i = 0; i < up->bundle.count && rc == WOLFSSL_SUCCESS; i++)
		rc = wolfSSL_CertManagerLoadCABuffer(cm, up->bundle.certs[i].data,
						     (long)up->bundle.certs[i].len,
						     WOLFSSL_FILETYPE_ASN1);
	for (i = up->chain.count; i-- > 0 && rc == WOLFSSL_SUCCESS;) {
		if (in_bundle(&up->bundle, &up->chain.certs[i]))
			continue;
		rc = wolfSSL_CertManagerVerifyBuffer(cm, up->chain.certs[i].data,
						     (long)up->chain.certs[i].len,
						     WOLFSSL_FILETYPE_ASN1);
		if (rc == WOLFSSL_SUCCESS && i > 0)
			rc = wolfSSL_CertManagerLoadCABuffer(cm, up->chain.certs[i].data,
							     (long)up->chain.certs[i].len,
							     WOLFSSL_FILETYPE_ASN1);
	}
	wolfSSL_CertManagerFree(cm);
	ENSURE(rc == WOLFSSL_SUCCESS, WARD_ERR_INVALID,
	       "upstream.cert: %s does not verify against upstream.bundle (wolfSSL: %s)", cert_file,
	       wolfSSL_ERR_reason_error_string((unsigned long)-rc));
	return 0;
}

static void digest_hex(const struct ward_der *d, char *hex)
{
	uint8_t sum[WC_SHA256_DIGEST_SIZE];

	wc_Sha256Hash(d->data, (word32)d->len, sum);
	for (size_t i = 0; i < sizeof(sum); i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
}

static int check_upstream_ca(struct ward_ca_manager *m, const char *cert_file)
{
	const struct ward_der *ca = &m->up.chain.certs[0];
	struct ward_spiffe_id id;
	struct ward_svid_info info;
	bool has_id;
	int rc;

	rc = ward_svid_signing_check(ca->data, ca->len, &id, &has_id);
	if (rc < 0)
		return ward_err_prefix(rc, "upstream.cert: %s", cert_file);
	ENSURE(!has_id || ward_spiffe_id_member_of(&id, m->td, strlen(m->td)), WARD_ERR_INVALID,
	       "upstream.cert: %s is the CA of %s, not of trust domain %s", cert_file, id.text,
	       m->td);
	GUARD(ward_svid_info(ca->data, ca->len, &info));
	m->up.not_after = info.not_after;
	ENSURE(m->up.chain.count <= WARD_CA_MAX_SLOTS, WARD_ERR_RANGE,
	       "upstream.cert: %s: more than %d certificates", cert_file, WARD_CA_MAX_SLOTS);
	for (size_t i = 0; i < m->up.chain.count; i++)
		if (!in_bundle(&m->up.bundle, &m->up.chain.certs[i]))
			m->up.below_root[m->up.n_below_root++] = m->up.chain.certs[i];
	digest_hex(ca, m->up_digest);
	return 0;
}

static int load_upstream(struct ward_ca_manager *m, const struct ward_ca_manager_config *cfg)
{
	int rc;

	rc = ward_pem_certs_load_file(cfg->upstream_cert, &m->up.chain);
	if (rc < 0)
		return ward_err_prefix(rc, "upstream.cert");
	rc = ward_pem_certs_load_file(cfg->upstream_bundle, &m->up.bundle);
	if (rc < 0)
		return ward_err_prefix(rc, "upstream.bundle");
	rc = ward_key_load_file(cfg->upstream_key, &m->up.key);
	if (rc < 0)
		return ward_err_prefix(rc, "upstream.key");
	ENSURE(
	    ward_key_matches_cert(m->up.key, m->up.chain.certs[0].data, m->up.chain.certs[0].len),
	    WARD_ERR_INVALID, "upstream.key: %s is not the key of the first certificate of %s",
	    cfg->upstream_key, cfg->upstream_cert);
	GUARD(check_upstream_ca(m, cfg->upstream_cert));
	return verify_upstream(&m->up, cfg->upstream_cert);
}

/* ---- slots ----------------------------------------------------------------- */

static struct ward_ca_slot *find(struct ward_ca_manager *m, enum ward_ca_state state)
{
	for (size_t i = 0; i < m->store.n; i++)
		if (m->store.slots[i].state == state)
			return &m->store.slots[i];
	return NULL;
}

static int save(struct ward_ca_manager *m)
{
	return m->read_only ? 0 : ward_ca_store_save(m->dir, m->up_digest, &m->store);
}

static void drop(struct ward_ca_manager *m, size_t i)
{
	struct ward_ca_slot *s = &m->store.slots[i];

	ward_log(WARD_LOG_INFO, "ca_dropped", "{s:I,s:s}", "ca", (json_int_t)s->id, "serial",
		 s->serial_hex);
	ward_ca_slot_free(s);
	memmove(s, s + 1, (m->store.n - i - 1) * sizeof(*s));
	m->store.n--;
}

/* Room for one more: at the limit the oldest non-active CA goes early (only
 * forced rotations, many within one CA lifetime, get here). */
static void make_room(struct ward_ca_manager *m)
{
	for (size_t i = 0; m->store.n >= WARD_CA_MAX_SLOTS && i < m->store.n; i++) {
		if (m->store.slots[i].state == WARD_CA_OLD) {
			ward_log(WARD_LOG_WARN, "ca_limit", "{s:i}", "kept", WARD_CA_MAX_SLOTS);
			drop(m, i);
		}
	}
}

static int sign_slot(struct ward_ca_manager *m, struct ward_ca_slot *s, time_t now)
{
	struct ward_ca_signer parent = {0};
	struct ward_svid_info info;
	time_t na = now + (time_t)m->ca_ttl_s;

	GUARD(ward_key_new(&s->key));
	if (!m->upstream_mode)
		GUARD(ward_ca_sign_root(m->td, s->key, now - WARD_CA_BACKDATE_S, na, &s->cert));
	else {
		parent = (struct ward_ca_signer){m->up.chain.certs[0].data,
						 m->up.chain.certs[0].len, m->up.key};
		na = na < m->up.not_after ? na : m->up.not_after;
		ENSURE(na > now, WARD_ERR_INVALID, "upstream.cert: expired");
		GUARD(ward_ca_sign_intermediate(m->td, s->key, &parent, now - WARD_CA_BACKDATE_S,
						na, &s->cert));
	}
	GUARD(ward_svid_info(s->cert.data, s->cert.len, &info));
	s->not_before = info.not_before;
	s->not_after = info.not_after;
	s->issued_at = now;
	memcpy(s->serial_hex, info.serial_hex, sizeof(s->serial_hex));
	return m->read_only ? 0 : ward_ca_store_put_slot(m->dir, s);
}

/* A new CA in the given state, on disk before ca.json names it. */
static int new_slot(struct ward_ca_manager *m, enum ward_ca_state state, time_t now)
{
	struct ward_ca_slot *s;
	int rc;

	make_room(m);
	ENSURE(m->store.n < WARD_CA_MAX_SLOTS, WARD_ERR_RANGE, "more than %d CAs",
	       WARD_CA_MAX_SLOTS);
	s = &m->store.slots[m->store.n];
	memset(s, 0, sizeof(*s));
	s->id = m->store.next_id;
	s->state = state;
	rc = sign_slot(m, s, now);
	if (rc < 0) {
		ward_ca_slot_free(s);
		return rc;
	}
	m->store.n++;
	m->store.next_id++;
	if (!m->read_only)
		ward_log(WARD_LOG_INFO, state == WARD_CA_ACTIVE ? "ca_created" : "ca_prepared",
			 "{s:I,s:s,s:I}", "ca", (json_int_t)s->id, "serial", s->serial_hex,
			 "not_after", (json_int_t)s->not_after);
	return 0;
}

static void activate(struct ward_ca_manager *m, struct ward_ca_slot *next)
{
	struct ward_ca_slot *cur = find(m, WARD_CA_ACTIVE);

	if (cur)
		cur->state = WARD_CA_OLD;
	next->state = WARD_CA_ACTIVE;
	ward_log(WARD_LOG_INFO, "ca_activated", "{s:I,s:s}", "ca", (json_int_t)next->id, "serial",
		 next->serial_hex);
}

static bool expired(const struct ward_ca_slot *s, time_t now)
{
	return now >= s->not_after || (s->drop_at && now >= s->drop_at);
}

/* Drops what left the bundle; returns whether anything did. Files go after
 * ca.json stops naming them (the caller saves). */
static bool prune(struct ward_ca_manager *m, time_t now, unsigned *gone, size_t *n_gone)
{
	bool any = false;

	for (size_t i = 0; i < m->store.n;) {
		if (!expired(&m->store.slots[i], now)) {
			i++;
			continue;
		}
		gone[(*n_gone)++] = m->store.slots[i].id;
		drop(m, i);
		any = true;
	}
	return any;
}

/* Under an upstream CA that expires before a successor could outlive the
 * active CA, preparing one is pointless (it would end at the same time). */
static bool can_prepare(const struct ward_ca_manager *m, const struct ward_ca_slot *a)
{
	return !m->upstream_mode || m->up.not_after > a->not_after;
}

/* The schedule, once. The active CA is replaced when it is gone (a server
 * that was down past its expiry) by the prepared one or a fresh one. */
static int schedule(struct ward_ca_manager *m, time_t now, bool *changed)
{
	struct ward_ca_slot *a = find(m, WARD_CA_ACTIVE), *p = find(m, WARD_CA_PREPARED);

	if (!a && p && !expired(p, now)) {
		activate(m, p);
		*changed = true;
		return 0;
	}
	if (!a) {
		*changed = true;
		return new_slot(m, WARD_CA_ACTIVE, now);
	}
	if (!p && can_prepare(m, a) && now >= ward_ca_prepare_at(a->issued_at, a->not_after)) {
		*changed = true;
		GUARD(new_slot(m, WARD_CA_PREPARED, now));
		p = find(m, WARD_CA_PREPARED);
		a = find(m, WARD_CA_ACTIVE);
	}
	if (p && now >= ward_ca_activate_at(a->issued_at, a->not_after)) {
		activate(m, p);
		*changed = true;
	}
	return 0;
}

int ward_ca_manager_tick(struct ward_ca_manager *m, time_t now, bool *changed)
{
	unsigned gone[WARD_CA_MAX_SLOTS];
	size_t n_gone = 0;
	int rc;

	*changed = prune(m, now, gone, &n_gone);
	rc = schedule(m, now, changed);
	if (*changed) {
		m->version++;
		if (rc == 0)
			rc = save(m);
		for (size_t i = 0; rc == 0 && !m->read_only && i < n_gone; i++)
			ward_ca_store_remove_slot(m->dir, gone[i]);
	}
	return rc;
}

static time_t earliest(time_t a, time_t b)
{
	return !a || (b && b < a) ? b : a;
}

time_t ward_ca_manager_next_event(const struct ward_ca_manager *m, time_t now)
{
	time_t t = 0;
	bool prepared = false;

	for (size_t i = 0; i < m->store.n; i++) {
		const struct ward_ca_slot *s = &m->store.slots[i];

		t = earliest(t, s->not_after);
		t = earliest(t, s->drop_at);
		prepared |= s->state == WARD_CA_PREPARED;
	}
	for (size_t i = 0; i < m->store.n; i++) {
		const struct ward_ca_slot *s = &m->store.slots[i];

		if (s->state != WARD_CA_ACTIVE)
			continue;
		if (prepared)
			t = earliest(t, ward_ca_activate_at(s->issued_at, s->not_after));
		else if (can_prepare(m, s))
			t = earliest(t, ward_ca_prepare_at(s->issued_at, s->not_after));
	}
	return t > now ? t : now + 1;
}

int ward_ca_manager_prepare(struct ward_ca_manager *m, time_t now, bool fresh_root, unsigned *id)
{
	struct ward_ca_slot *p;

	if (fresh_root) {
		ENSURE(!m->upstream_mode, WARD_ERR_UNSUPPORTED,
		       "the trust anchor is the upstream CA's: rotate it upstream");
		/* A fresh root, not one prepared before the drill began. */
		for (size_t i = 0; i < m->store.n; i++)
			if (m->store.slots[i].state == WARD_CA_PREPARED)
				m->store.slots[i].state = WARD_CA_OLD;
	}
	p = find(m, WARD_CA_PREPARED);
	if (!p) {
		GUARD(new_slot(m, WARD_CA_PREPARED, now));
		p = find(m, WARD_CA_PREPARED);
		m->version++;
	}
	*id = p->id;
	return save(m);
}

static struct ward_ca_slot *find_id(struct ward_ca_manager *m, unsigned id)
{
	for (size_t i = 0; i < m->store.n; i++)
		if (m->store.slots[i].id == id)
			return &m->store.slots[i];
	return NULL;
}

int ward_ca_manager_activate(struct ward_ca_manager *m, unsigned id, time_t now, bool retire_old)
{
	struct ward_ca_slot *p = find_id(m, id);

	ENSURE(p && (p->state == WARD_CA_PREPARED || p->state == WARD_CA_ACTIVE), WARD_ERR_NOTFOUND,
	       "CA %u is no longer prepared", id);
	if (p->state == WARD_CA_PREPARED) {
		activate(m, p);
		m->version++;
	}
	if (!retire_old)
		return save(m);
	for (size_t i = 0; i < m->store.n; i++) {
		struct ward_ca_slot *s = &m->store.slots[i];

		if (s->state == WARD_CA_OLD)
			s->drop_at = s->issued_until > now ? s->issued_until : now;
	}
	m->version++;
	ward_log(WARD_LOG_INFO, "root_rotated", "{s:s}", "serial", p->serial_hex);
	return save(m);
}

/* ---- reading ------------------------------------------------------------- */

const struct ward_ca_slot *ward_ca_manager_active(const struct ward_ca_manager *m)
{
	return find((struct ward_ca_manager *)m, WARD_CA_ACTIVE);
}

const struct ward_ca_slot *ward_ca_manager_slots(const struct ward_ca_manager *m, size_t *n)
{
	*n = m->store.n;
	return m->store.slots;
}

int ward_ca_manager_note_issued(struct ward_ca_manager *m, time_t not_after)
{
	struct ward_ca_slot *a = find(m, WARD_CA_ACTIVE);

	if (!a || not_after <= a->issued_until)
		return 0;
	a->issued_until = not_after;
	return save(m);
}

size_t ward_ca_manager_bundle(const struct ward_ca_manager *m, time_t now, struct ward_der *out,
			      size_t max)
{
	size_t n = 0;

	if (m->upstream_mode) {
		for (; n < m->up.bundle.count && n < max; n++)
			out[n] = m->up.bundle.certs[n];
		return n;
	}
	for (size_t i = 0; i < m->store.n && n < max; i++)
		if (!expired(&m->store.slots[i], now))
			out[n++] = m->store.slots[i].cert;
	return n;
}

size_t ward_ca_manager_chain(const struct ward_ca_manager *m, struct ward_der *out, size_t max)
{
	const struct ward_ca_slot *a = ward_ca_manager_active(m);
	size_t n = 0;

	if (!m->upstream_mode || !a || max == 0)
		return 0;
	out[n++] = a->cert;
	for (size_t i = 0; i < m->up.n_below_root && n < max; i++)
		out[n++] = m->up.below_root[i];
	return n;
}

uint64_t ward_ca_manager_version(const struct ward_ca_manager *m)
{
	return m->version;
}

bool ward_ca_manager_is_upstream(const struct ward_ca_manager *m)
{
	return m->upstream_mode;
}

/* ---- open / free ----------------------------------------------------------- */

void ward_ca_manager_free(struct ward_ca_manager *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->store.n; i++)
		ward_ca_slot_free(&m->store.slots[i]);
	ward_pem_certs_free(&m->up.chain);
	ward_pem_certs_free(&m->up.bundle);
	ward_key_free(m->up.key);
	free(m->td);
	free(m->dir);
	free(m);
}

/* A store that names more than one active CA, or none, is repaired by the
 * schedule: extra active ones become old. */
static void one_active(struct ward_ca_manager *m)
{
	bool seen = false;

	for (size_t i = m->store.n; i-- > 0;) {
		struct ward_ca_slot *s = &m->store.slots[i];

		if (s->state == WARD_CA_ACTIVE && seen)
			s->state = WARD_CA_OLD;
		seen |= s->state == WARD_CA_ACTIVE;
	}
}

static int open_store(struct ward_ca_manager *m, const struct ward_ca_manager_config *cfg,
		      time_t now)
{
	const struct ward_ca_slot *a;
	bool changed, exists;

	if (m->read_only)
		GUARD(ward_file_check_private_dir(m->dir, &exists));
	else
		GUARD(ward_file_private_dir(m->dir, 0700));
	if (cfg->upstream_cert)
		GUARD(load_upstream(m, cfg));
	GUARD(ward_ca_store_load(m->dir, m->up_digest, &m->store)); /* none: a new dir */
	one_active(m);
	a = find(m, WARD_CA_ACTIVE);
	m->loaded_active = a ? a->id : 0;
	GUARD(ward_ca_manager_tick(m, now, &changed));
	return save(m);
}

bool ward_ca_manager_active_is_new(const struct ward_ca_manager *m)
{
	const struct ward_ca_slot *a = ward_ca_manager_active(m);

	return !a || a->id != m->loaded_active;
}

int ward_ca_manager_new(const struct ward_ca_manager_config *cfg, time_t now,
			struct ward_ca_manager **out)
{
	struct ward_ca_manager *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	ENSURE(m, WARD_ERR_NOMEM, "CA: out of memory");
	m->td = strdup(cfg->trust_domain);
	m->dir = strdup(cfg->data_dir);
	m->ca_ttl_s = cfg->ca_ttl_s;
	m->upstream_mode = cfg->upstream_cert != NULL;
	m->read_only = cfg->read_only;
	if (!m->td || !m->dir) {
		ward_ca_manager_free(m);
		return ward_err_set(WARD_ERR_NOMEM, "CA: out of memory");
	}
	rc = open_store(m, cfg, now);
	if (rc < 0) {
		ward_ca_manager_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
