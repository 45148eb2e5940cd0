/* Registration entries from JSON; see registration.h. */
#include "server/registration.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

#define SHA256_SELECTOR "unix:sha256:"

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void entry_free(struct ward_reg_entry *e)
{
	free_strs(e->selectors, e->n_selectors);
	free_strs(e->federates_with, e->n_federates_with);
	free(e->hint);
}

void ward_registration_free(struct ward_registration *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		entry_free(&reg->entries[i]);
	free(reg->entries);
	free(reg);
}

typedef const char *(*str_check)(const char *s);

/* An array of strings, each checked, copied into a fresh vector. Elements
 * must be distinct: a repeated selector is a typo, not a stronger match. */
static int str_list(const json_t *v, const char *path, size_t max, str_check check, char ***out,
		    size_t *n_out)
{
	char sub[WARD_JSON_PATH_MAX];
	const char *s, *why;
	size_t n;

	GUARD(ward_json_array(v, path, max, &n));
	*out = calloc(n ? n : 1, sizeof(**out));
	ENSURE(*out, WARD_ERR_NOMEM, "%s: out of memory", path);
	for (*n_out = 0; *n_out < n; (*n_out)++) {
		ward_json_index_path(sub, sizeof(sub), path, *n_out);
		GUARD(ward_json_string(json_array_get(v, *n_out), sub, &s));
		ENSURE(!(why = check(s)), WARD_ERR_INVALID, "%s: \"%.80s\" %s", sub, s, why);
		for (size_t j = 0; j < *n_out; j++)
			ENSURE(strcmp((*out)[j], s), WARD_ERR_INVALID,
			       "%s: \"%.80s\" is listed twice", sub, s);
		(*out)[*n_out] = strdup(s);
		ENSURE((*out)[*n_out], WARD_ERR_NOMEM, "%s: out of memory", sub);
	}
	return 0;
}

static const char *check_td(const char *s)
{
	if (!strncmp(s, WARD_SPIFFE_SCHEME, WARD_SPIFFE_SCHEME_LEN))
		return "is a SPIFFE ID; give the bare trust domain name";
	return ward_spiffe_trust_domain_validate(s, strlen(s)) < 0 ? "is not a trust domain name"
								   : NULL;
}

static int parse_id(const json_t *v, const char *path, const char *td, struct ward_reg_entry *e)
{
	const char *s;
	int rc;

	GUARD(ward_json_string(v, path, &s));
	rc = ward_spiffe_id_parse(s, strlen(s), &e->id);
	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	ENSURE(ward_spiffe_id_member_of(&e->id, td, strlen(td)), WARD_ERR_INVALID,
	       "%s: \"%s\" is not in trust domain %s", path, s, td);
	ENSURE(ward_spiffe_id_path(&e->id)[0], WARD_ERR_INVALID,
	       "%s: \"%s\" has no path; a workload's SPIFFE ID needs one (X509-SVID §3.1)", path,
	       s);
	return 0;
}

static int parse_hint(const json_t *v, const char *path, struct ward_reg_entry *e)
{
	const char *s;

	GUARD(ward_json_string(v, path, &s));
	ENSURE(strlen(s) <= WARD_REG_HINT_MAX, WARD_ERR_INVALID, "%s: longer than %d bytes", path,
	       WARD_REG_HINT_MAX);
	e->hint = strdup(s);
	ENSURE(e->hint, WARD_ERR_NOMEM, "%s: out of memory", path);
	return 0;
}

struct entry_ctx {
	const char *td;
	struct ward_reg_entry *e;
};

static int parse_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	const char *td = ((struct entry_ctx *)ctx)->td;
	struct ward_reg_entry *e = ((struct entry_ctx *)ctx)->e;
	long long ttl;

	if (!strcmp(key, "spiffe_id"))
		return parse_id(v, path, td, e);
	if (!strcmp(key, "selectors"))
		return str_list(v, path, WARD_REG_MAX_SELECTORS, ward_attest_selector_check,
				&e->selectors, &e->n_selectors);
	if (!strcmp(key, "federates_with"))
		return str_list(v, path, WARD_REG_MAX_FEDERATES, check_td, &e->federates_with,
				&e->n_federates_with);
	if (!strcmp(key, "hint"))
		return parse_hint(v, path, e);
	if (!strcmp(key, "x509_svid_ttl_s")) {
		GUARD(ward_json_int(v, path, 1, 365LL * 86400, &ttl));
		e->x509_svid_ttl_s = (unsigned)ttl;
		return 0;
	}
	return ward_json_unknown(path);
}

static int parse_entry(const json_t *v, const char *path, const char *td, struct ward_reg_entry *e)
{
	struct entry_ctx ctx = {td, e};

	GUARD(ward_json_members(v, path, parse_member, &ctx));
	ENSURE(e->id.len, WARD_ERR_INVALID, "%s.spiffe_id: required", path);
	ENSURE(e->n_selectors, WARD_ERR_INVALID, "%s.selectors: at least one selector is required",
	       path);
	return 0;
}

static bool same_selectors(const struct ward_reg_entry *a, const struct ward_reg_entry *b)
{
	size_t i, j;

	if (a->n_selectors != b->n_selectors)
		return false;
	for (i = 0; i < a->n_selectors; i++) {
		for (j = 0; j < b->n_selectors && strcmp(a->selectors[i], b->selectors[j]); j++)
			;
		if (j == b->n_selectors)
			return false;
	}
	return true;
}

/* SPIRE refuses a second entry with the same ID and selectors; so does ward. */
static int check_unique(const struct ward_registration *reg, size_t i)
{
	const struct ward_reg_entry *e = &reg->entries[i];

	for (size_t j = 0; j < i; j++)
		ENSURE(!ward_spiffe_id_equal(&e->id, &reg->entries[j].id) ||
			   !same_selectors(e, &reg->entries[j]),
		       WARD_ERR_INVALID,
		       "entries[%zu]: same spiffe_id and selectors as entries[%zu]", i, j);
	return 0;
}

static void note_sha256(struct ward_registration *reg, const struct ward_reg_entry *e)
{
	for (size_t i = 0; i < e->n_selectors; i++)
		if (!strncmp(e->selectors[i], SHA256_SELECTOR, strlen(SHA256_SELECTOR)))
			reg->uses_sha256 = true;
}

static int top_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	if (strcmp(key, "entries"))
		return ward_json_unknown(path);
	*(const json_t **)ctx = v;
	return 0;
}

static int parse_entries(const json_t *root, const char *td, struct ward_registration *reg)
{
	char sub[WARD_JSON_PATH_MAX];
	const json_t *list = NULL;
	size_t n;

	GUARD(ward_json_object(root, "entries file"));
	GUARD(ward_json_members(root, "", top_member, &list));
	ENSURE(list, WARD_ERR_INVALID, "entries: required");
	GUARD(ward_json_array(list, "entries", WARD_REG_MAX_ENTRIES, &n));
	reg->entries = calloc(n ? n : 1, sizeof(*reg->entries));
	ENSURE(reg->entries, WARD_ERR_NOMEM, "entries: out of memory");
	for (reg->n = 0; reg->n < n;) {
		/* Counted before parsing, so a half-parsed entry is freed too. */
		struct ward_reg_entry *e = &reg->entries[reg->n++];

		ward_json_index_path(sub, sizeof(sub), "entries", reg->n - 1);
		GUARD(parse_entry(json_array_get(list, reg->n - 1), sub, td, e));
		GUARD(check_unique(reg, reg->n - 1));
		note_sha256(reg, e);
	}
	return 0;
}

static int load_json(const char *name, json_t *root, const char *td, struct ward_registration **out)
{
	struct ward_registration *reg = calloc(1, sizeof(*reg));
	int rc;

	*out = NULL;
	ENSURE(reg, WARD_ERR_NOMEM, "entries: out of memory");
	rc = parse_entries(root, td, reg);
	if (rc < 0) {
		ward_registration_free(reg);
		return rc == WARD_ERR_NOMEM ? rc : ward_err_prefix(rc, "%s", name);
	}
	*out = reg;
	return 0;
}

int ward_registration_load_string(const char *name, const char *json, const char *td,
				  struct ward_registration **out)
{
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	*out = NULL;
	ENSURE(root, WARD_ERR_INVALID, "%s: line %d column %d: %s", name, jerr.line, jerr.column,
	       jerr.text);
	rc = load_json(name, root, td, out);
	json_decref(root);
	return rc;
}

int ward_registration_load_file(const char *path, const char *td, struct ward_registration **out)
{
	json_t *root;
	int rc;

	*out = NULL;
	GUARD(ward_json_load_file(path, &root));
	rc = load_json(path, root, td, out);
	json_decref(root);
	return rc;
}

static bool entry_matches(const struct ward_reg_entry *e, const struct ward_selectors *sel)
{
	for (size_t i = 0; i < e->n_selectors; i++)
		if (!ward_selectors_contain(sel, e->selectors[i]))
			return false;
	return true;
}

size_t ward_registration_match(const struct ward_registration *reg,
			       const struct ward_selectors *sel, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < reg->n; i++) {
		if (!entry_matches(&reg->entries[i], sel))
			continue;
		if (n < max)
			idx[n] = i;
		n++;
	}
	return n;
}
