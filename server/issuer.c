/* SVIDs per registration entry; see issuer.h. */
#include "server/issuer.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define MAX_CHAIN 8

struct ward_issuer {
	const struct ward_registration *reg; /* borrowed */
	struct ward_issued **by_entry;	     /* owned; reg->n slots, NULL where none */
	unsigned *holders;		     /* owned; reg->n counts of open streams */
	unsigned default_ttl_s;
	uint64_t generation;
};

time_t ward_issuer_rotate_at(time_t issued_at, time_t not_after)
{
	return issued_at + (not_after - issued_at) / 2;
}

static void issued_free(struct ward_issued *s)
{
	if (!s)
		return;
	ward_key_free(s->key);
	ward_der_free_secret(&s->key_pkcs8);
	ward_der_free(&s->chain);
	free(s);
}

int ward_issuer_new(const struct ward_registration *reg, unsigned default_ttl_s,
		    struct ward_issuer **out)
{
	struct ward_issuer *iss = calloc(1, sizeof(*iss));

	*out = NULL;
	ENSURE(iss, WARD_ERR_NOMEM, "issuer: out of memory");
	iss->by_entry = calloc(reg->n ? reg->n : 1, sizeof(*iss->by_entry));
	iss->holders = calloc(reg->n ? reg->n : 1, sizeof(*iss->holders));
	if (!iss->by_entry || !iss->holders) {
		free(iss->by_entry);
		free(iss->holders);
		free(iss);
		return ward_err_set(WARD_ERR_NOMEM, "issuer: out of memory");
	}
	iss->reg = reg;
	iss->default_ttl_s = default_ttl_s;
	*out = iss;
	return 0;
}

void ward_issuer_free(struct ward_issuer *iss)
{
	if (!iss)
		return;
	for (size_t i = 0; i < iss->reg->n; i++)
		issued_free(iss->by_entry[i]);
	free(iss->by_entry);
	free(iss->holders);
	free(iss);
}

/* leaf || chain[0] || ... as the Workload API's x509_svid field wants it. */
static int concat_chain(struct ward_issued *s, const struct ward_der *leaf,
			const struct ward_ca_manager *ca)
{
	struct ward_der chain[MAX_CHAIN];
	size_t n = ward_ca_manager_chain(ca, chain, MAX_CHAIN), len = leaf->len, o;

	for (size_t i = 0; i < n; i++)
		len += chain[i].len;
	s->chain.data = malloc(len);
	ENSURE(s->chain.data, WARD_ERR_NOMEM, "SVID: out of memory");
	memcpy(s->chain.data, leaf->data, leaf->len);
	o = leaf->len;
	for (size_t i = 0; i < n; i++) {
		memcpy(s->chain.data + o, chain[i].data, chain[i].len);
		o += chain[i].len;
	}
	s->chain.len = len;
	s->leaf_len = leaf->len;
	return 0;
}

static int sign(struct ward_issued *s, const struct ward_reg_entry *e, unsigned ttl,
		struct ward_ca_manager *ca, time_t now)
{
	const struct ward_ca_slot *a = ward_ca_manager_active(ca);
	struct ward_ca_signer signer;
	struct ward_svid_info info;
	struct ward_der leaf;
	time_t na = now + (time_t)ttl;
	int rc;

	ENSURE(a, WARD_ERR_NOTFOUND, "SVID: no active CA");
	signer = (struct ward_ca_signer){a->cert.data, a->cert.len, a->key};
	na = na < a->not_after ? na : a->not_after;
	GUARD(ward_key_new(&s->key));
	GUARD(ward_key_to_pkcs8(s->key, &s->key_pkcs8));
	GUARD(ward_ca_sign_svid(&e->id, s->key, &signer, now - WARD_CA_BACKDATE_S, na, &leaf));
	rc = ward_svid_info(leaf.data, leaf.len, &info);
	if (rc == 0)
		rc = concat_chain(s, &leaf, ca);
	ward_der_free(&leaf);
	GUARD(rc);
	s->id = e->id;
	s->not_before = info.not_before;
	s->not_after = info.not_after;
	s->issued_at = now;
	s->ca_id = a->id;
	memcpy(s->serial_hex, info.serial_hex, sizeof(s->serial_hex));
	return ward_ca_manager_note_issued(ca, s->not_after);
}

/* Replaces entry i's SVID with a fresh one. */
static int issue(struct ward_issuer *iss, size_t i, struct ward_ca_manager *ca, time_t now)
{
	const struct ward_reg_entry *e = &iss->reg->entries[i];
	struct ward_issued *s = calloc(1, sizeof(*s)), *old = iss->by_entry[i];
	unsigned ttl = e->x509_svid_ttl_s ? e->x509_svid_ttl_s : iss->default_ttl_s;
	int rc;

	ENSURE(s, WARD_ERR_NOMEM, "SVID: out of memory");
	rc = sign(s, e, ttl, ca, now);
	if (rc < 0) {
		issued_free(s);
		return ward_err_prefix(rc, "%s", e->id.text);
	}
	s->generation = ++iss->generation;
	issued_free(old);
	iss->by_entry[i] = s;
	ward_log(WARD_LOG_INFO, "svid_issued", "{s:s,s:s,s:I,s:I}", "spiffe_id", s->id.text,
		 "serial", s->serial_hex, "not_after", (json_int_t)s->not_after, "ca",
		 (json_int_t)s->ca_id);
	return 0;
}

static bool due(const struct ward_issued *s, const struct ward_ca_manager *ca, time_t now)
{
	const struct ward_ca_slot *a = ward_ca_manager_active(ca);

	return now >= ward_issuer_rotate_at(s->issued_at, s->not_after) || !a || a->id != s->ca_id;
}

int ward_issuer_get(struct ward_issuer *iss, size_t i, struct ward_ca_manager *ca, time_t now,
		    const struct ward_issued **out)
{
	ENSURE(i < iss->reg->n, WARD_ERR_RANGE, "no entry %zu", i);
	if (!iss->by_entry[i] || due(iss->by_entry[i], ca, now))
		GUARD(issue(iss, i, ca, now));
	*out = iss->by_entry[i];
	return 0;
}

void ward_issuer_hold(struct ward_issuer *iss, size_t i)
{
	if (i < iss->reg->n)
		iss->holders[i]++;
}

void ward_issuer_put(struct ward_issuer *iss, size_t i)
{
	if (i < iss->reg->n && iss->holders[i] > 0)
		iss->holders[i]--;
}

unsigned ward_issuer_holders(const struct ward_issuer *iss, size_t i)
{
	return i < iss->reg->n ? iss->holders[i] : 0;
}

int ward_issuer_tick(struct ward_issuer *iss, struct ward_ca_manager *ca, time_t now, bool *changed)
{
	int rc = 0;

	*changed = false;
	for (size_t i = 0; i < iss->reg->n; i++) {
		struct ward_issued *s = iss->by_entry[i];

		if (!s || !due(s, ca, now))
			continue;
		if (!iss->holders[i]) {
			issued_free(s);
			iss->by_entry[i] = NULL;
			continue;
		}
		/* One entry failing does not stop the others' rotation. */
		if (issue(iss, i, ca, now) < 0) {
			ward_log(WARD_LOG_ERROR, "svid_rotation_failed", "{s:s}", "reason",
				 ward_err_msg());
			rc = WARD_ERR_TLS;
			continue;
		}
		*changed = true;
	}
	return rc;
}

int ward_issuer_rotate_all(struct ward_issuer *iss, struct ward_ca_manager *ca, time_t now)
{
	for (size_t i = 0; i < iss->reg->n; i++)
		if (iss->by_entry[i])
			GUARD(issue(iss, i, ca, now));
	return 0;
}

time_t ward_issuer_next_event(const struct ward_issuer *iss)
{
	time_t t = 0, r;

	for (size_t i = 0; i < iss->reg->n; i++) {
		const struct ward_issued *s = iss->by_entry[i];

		if (!s)
			continue;
		r = ward_issuer_rotate_at(s->issued_at, s->not_after);
		if (!t || r < t)
			t = r;
	}
	return t;
}

const struct ward_issued *ward_issuer_at(const struct ward_issuer *iss, size_t i)
{
	return i < iss->reg->n ? iss->by_entry[i] : NULL;
}

size_t ward_issuer_count(const struct ward_issuer *iss)
{
	return iss->reg->n;
}
