/* The CA store in data_dir; see ca_store.h. */
#include "server/ca_store.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/json.h"

#define MAX_ID 1000000000u

static const char *const state_names[] = {"prepared", "active", "old"};

static void slot_path(char *buf, size_t len, const char *dir, unsigned id, const char *ext)
{
	snprintf(buf, len, "%s/ca-%u.%s", dir, id, ext);
}

void ward_ca_slot_free(struct ward_ca_slot *slot)
{
	ward_key_free(slot->key);
	ward_der_free(&slot->cert);
	memset(slot, 0, sizeof(*slot));
}

int ward_ca_store_put_slot(const char *dir, const struct ward_ca_slot *slot)
{
	char path[PATH_MAX], *pem;
	size_t len;
	int rc;

	slot_path(path, sizeof(path), dir, slot->id, "key");
	GUARD(ward_key_write_file(slot->key, path));
	GUARD(ward_pem_encode(WARD_PEM_CERTIFICATE, slot->cert.data, slot->cert.len, &pem, &len));
	slot_path(path, sizeof(path), dir, slot->id, "pem");
	rc = ward_file_write_atomic(path, pem, len, 0644);
	free(pem);
	return rc;
}

void ward_ca_store_remove_slot(const char *dir, unsigned id)
{
	char path[PATH_MAX];

	slot_path(path, sizeof(path), dir, id, "key");
	unlink(path);
	slot_path(path, sizeof(path), dir, id, "pem");
	unlink(path);
}

static json_t *slot_json(const struct ward_ca_slot *s)
{
	return json_pack("{s:I,s:s,s:I,s:I}", "id", (json_int_t)s->id, "state",
			 state_names[s->state], "issued_until", (json_int_t)s->issued_until,
			 "drop_at", (json_int_t)s->drop_at);
}

int ward_ca_store_save(const char *dir, const char *upstream_digest,
		       const struct ward_ca_store *store)
{
	char path[PATH_MAX], *text;
	json_t *root, *cas;
	int rc;

	root = json_pack("{s:i,s:I,s:s,s:[]}", "version", 1, "next_id", (json_int_t)store->next_id,
			 "upstream", upstream_digest, "cas");
	ENSURE(root, WARD_ERR_NOMEM, "%s: out of memory", WARD_CA_STORE_STATE);
	cas = json_object_get(root, "cas");
	for (size_t i = 0; i < store->n; i++)
		json_array_append_new(cas, slot_json(&store->slots[i]));
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	ENSURE(text, WARD_ERR_NOMEM, "%s: out of memory", WARD_CA_STORE_STATE);
	snprintf(path, sizeof(path), "%s/%s", dir, WARD_CA_STORE_STATE);
	rc = ward_file_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return rc;
}

/* ---- loading ------------------------------------------------------------- */

static int load_files(const char *dir, struct ward_ca_slot *s)
{
	char path[PATH_MAX];
	struct ward_pem_certs certs;
	struct ward_svid_info info;
	int rc;

	slot_path(path, sizeof(path), dir, s->id, "pem");
	GUARD(ward_pem_certs_load_file(path, &certs));
	/* The slot takes the first certificate's DER. */
	s->cert = certs.certs[0];
	certs.certs[0] = (struct ward_der){0};
	ward_pem_certs_free(&certs);
	rc = ward_svid_info(s->cert.data, s->cert.len, &info);
	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	ENSURE(info.is_ca, WARD_ERR_INVALID, "%s: not a CA certificate", path);
	s->not_before = info.not_before;
	s->not_after = info.not_after;
	s->issued_at = info.not_before + WARD_CA_BACKDATE_S; /* as ca_manager.c backdates */
	memcpy(s->serial_hex, info.serial_hex, sizeof(s->serial_hex));
	slot_path(path, sizeof(path), dir, s->id, "key");
	GUARD(ward_key_load_file(path, &s->key));
	ENSURE(ward_key_matches_cert(s->key, s->cert.data, s->cert.len), WARD_ERR_INVALID,
	       "%s: not the key of ca-%u.pem", path, s->id);
	return 0;
}

static int get_int(const json_t *obj, const char *key, const char *path, long long max,
		   long long *out)
{
	char sub[WARD_JSON_PATH_MAX];
	json_t *v = json_object_get(obj, key);

	ward_json_key_path(sub, sizeof(sub), path, key);
	ENSURE(v, WARD_ERR_INVALID, "%s: required", sub);
	return ward_json_int(v, sub, 0, max, out);
}

static int parse_state(const json_t *v, const char *path, enum ward_ca_state *out)
{
	char sub[WARD_JSON_PATH_MAX];
	const char *s;

	ward_json_key_path(sub, sizeof(sub), path, "state");
	GUARD(ward_json_string(v, sub, &s));
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, state_names[i])) {
			*out = (enum ward_ca_state)i;
			return 0;
		}
	}
	return ward_err_set(WARD_ERR_INVALID, "%s: \"%.20s\" is not prepared, active or old", sub,
			    s);
}

static int parse_slot(const json_t *v, const char *path, struct ward_ca_slot *s)
{
	long long n;

	GUARD(ward_json_object(v, path));
	GUARD(get_int(v, "id", path, MAX_ID, &n));
	s->id = (unsigned)n;
	GUARD(parse_state(json_object_get(v, "state"), path, &s->state));
	GUARD(get_int(v, "issued_until", path, LLONG_MAX, &n));
	s->issued_until = (time_t)n;
	GUARD(get_int(v, "drop_at", path, LLONG_MAX, &n));
	s->drop_at = (time_t)n;
	return 0;
}

static int parse_store(const json_t *root, const char *dir, const char *upstream_digest,
		       struct ward_ca_store *out)
{
	char sub[WARD_JSON_PATH_MAX];
	const json_t *up = json_object_get(root, "upstream"), *cas = json_object_get(root, "cas");
	long long next;
	size_t n;

	GUARD(ward_json_object(root, WARD_CA_STORE_STATE));
	GUARD(get_int(root, "next_id", "", MAX_ID, &next));
	out->next_id = (unsigned)next;
	/* Another upstream (or a change of mode): start afresh. */
	if (!json_is_string(up) || strcmp(json_string_value(up), upstream_digest))
		return 0;
	GUARD(ward_json_array(cas, "cas", WARD_CA_MAX_SLOTS, &n));
	for (out->n = 0; out->n < n;) {
		struct ward_ca_slot *s = &out->slots[out->n++];

		ward_json_index_path(sub, sizeof(sub), "cas", out->n - 1);
		GUARD(parse_slot(json_array_get(cas, out->n - 1), sub, s));
		ENSURE(s->id > 0 && s->id < out->next_id, WARD_ERR_INVALID,
		       "%s.id: %u is not below next_id", sub, s->id);
		GUARD(load_files(dir, s));
	}
	return 0;
}

int ward_ca_store_load(const char *dir, const char *upstream_digest, struct ward_ca_store *out)
{
	char path[PATH_MAX];
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	out->next_id = 1;
	snprintf(path, sizeof(path), "%s/%s", dir, WARD_CA_STORE_STATE);
	if (access(path, F_OK) < 0)
		return 0; /* a new data dir */
	GUARD(ward_json_load_file(path, &root));
	rc = parse_store(root, dir, upstream_digest, out);
	json_decref(root);
	if (rc < 0) {
		for (size_t i = 0; i < out->n; i++)
			ward_ca_slot_free(&out->slots[i]);
		out->n = 0;
		if (rc != WARD_ERR_NOMEM && !strstr(ward_err_msg(), dir))
			ward_err_prefix(rc, "%s", path);
	}
	return rc;
}
