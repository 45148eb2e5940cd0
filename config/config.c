/* ward configuration (see config.h and the README's Configuration section).
 *
 * Loading runs init / feed / finish: ward_config_init_defaults() fills a fresh
 * struct, the table-driven walker feeds it the JSON (every object in the
 * schema is a table of fields, so unknown keys, wrong types and ranges are
 * checked in one place), and finish() settles the defaults that derive from
 * other keys and the checks that span sections. Any error frees the fresh
 * struct, so a caller's current config is never touched. */
#include "config/config.h"
#include "lib/json.h"
#include "lib/tls_profile.h"
#include "spiffe/id.h"
#include "spiffe/pattern.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PATH_LEN 192
#define MAX_SUN_PATH 107 /* sizeof(sockaddr_un.sun_path) - 1 */

enum seen_bit {
	SEEN_GID = 1 << 0,
	SEEN_SERVER_IDS = 1 << 1,
	SEEN_CLIENT_IDS = 1 << 2,
};

struct parser {
	struct ward_config *cfg;
	const char *base_dir; /* relative identity paths resolve here; may be NULL */
	unsigned seen;	      /* enum seen_bit: keys whose absence means "derive" */
};

typedef int (*field_fn)(struct parser *p, json_t *v, const char *path);

enum field_kind { F_UINT, F_BOOL, F_ADDR, F_PATH, F_OBJ, F_FN };

struct field {
	const char *key;
	enum field_kind kind;
	size_t off;		 /* F_UINT, F_BOOL, F_ADDR, F_PATH: offset in struct ward_config */
	size_t size;		 /* F_UINT: width of the integer at off */
	long long min, max;	 /* F_UINT */
	const struct field *sub; /* F_OBJ */
	field_fn fn;		 /* F_FN */
};

#define MEMBER_SIZE(m) sizeof(((struct ward_config *)0)->m)
#define UINT_FIELD(k, m, lo, hi)                                                                   \
	{                                                                                          \
		.key = (k), .kind = F_UINT, .off = offsetof(struct ward_config, m),                \
		.size = MEMBER_SIZE(m), .min = (lo), .max = (hi)                                   \
	}
#define BOOL_FIELD(k, m)                                                                           \
	{                                                                                          \
		.key = (k), .kind = F_BOOL, .off = offsetof(struct ward_config, m)                 \
	}
#define ADDR_FIELD(k, m)                                                                           \
	{                                                                                          \
		.key = (k), .kind = F_ADDR, .off = offsetof(struct ward_config, m)                 \
	}
#define PATH_FIELD(k, m)                                                                           \
	{                                                                                          \
		.key = (k), .kind = F_PATH, .off = offsetof(struct ward_config, m)                 \
	}
#define OBJ_FIELD(k, s)                                                                            \
	{                                                                                          \
		.key = (k), .kind = F_OBJ, .sub = (s)                                              \
	}
#define FN_FIELD(k, f)                                                                             \
	{                                                                                          \
		.key = (k), .kind = F_FN, .fn = (f)                                                \
	}

/* ---- error text ---------------------------------------------------------- */

static int type_error(const char *path, const char *want, const json_t *v)
{
	char got[80];

	return ward_err_set(WARD_ERR_INVALID, "%s: must be %s (got %s)", path, want,
			    ward_json_describe(v, got, sizeof(got)));
}

static int nomem(const char *path)
{
	return ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", path);
}

static void join_path(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%.64s", path, *path ? "." : "", key);
}

/* ---- owned strings and vectors ------------------------------------------ */

static void free_str_vec(char **vec, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(vec[i]);
	free(vec);
}

static void free_port_ids(struct ward_port_ids *vec, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free_str_vec(vec[i].ids, vec[i].n_ids);
	free(vec);
}

/* Replaces the owned string *dst with a copy of s. */
static int replace_str(char **dst, const char *s, const char *path)
{
	char *copy = strdup(s);

	if (!copy)
		return nomem(path);
	free(*dst);
	*dst = copy;
	return 0;
}

/* ---- value checks -------------------------------------------------------- */

static int check_trust_domain(const char *s)
{
	ENSURE(strncmp(s, "spiffe://", 9), WARD_ERR_INVALID,
	       "\"%.64s\" is a SPIFFE ID; give the bare trust domain name", s);
	return ward_spiffe_trust_domain_validate(s, strlen(s));
}

static int check_id_pattern(const char *s)
{
	return ward_id_pattern_validate(s);
}

/* The SPIFFE Workload API endpoint, restricted to what ward dials: a unix
 * socket by absolute path that fits in sun_path. */
static int check_workload_api(const char *s)
{
	ENSURE(!strncmp(s, "unix:///", 8) && s[8] != '\0', WARD_ERR_INVALID,
	       "\"%.64s\" must be unix:///absolute/path", s);
	ENSURE(strlen(s + 7) <= MAX_SUN_PATH, WARD_ERR_INVALID, "socket path longer than %d bytes",
	       MAX_SUN_PATH);
	return 0;
}

/* A Linux TCP_CONGESTION name: TCP_CA_NAME_MAX is 16 including the NUL. */
static int check_congestion(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		ENSURE(i < 15 && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
				  c == '-'),
		       WARD_ERR_INVALID,
		       "\"%.64s\" is not a congestion control name (lowercase letters, digits, "
		       "'_', '-'; at most 15)",
		       s);
	}
	return 0;
}

/* ---- scalar values ------------------------------------------------------- */

static int parse_int(json_t *v, const char *path, long long min, long long max, long long *out)
{
	char want[96];

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(want, sizeof(want), "an integer between %lld and %lld", min, max);
		return type_error(path, want, v);
	}
	*out = json_integer_value(v);
	return 0;
}

static int parse_string(json_t *v, const char *path, const char **out)
{
	*out = NULL;
	if (!json_is_string(v))
		return type_error(path, "a string", v);
	*out = json_string_value(v);
	return 0;
}

/* A string that must be one of words (NULL-terminated); stored as a copy. */
static int parse_word(json_t *v, const char *path, const char *const *words, char **dst)
{
	char want[96] = "one of ";
	const char *s;
	size_t i;

	for (i = 0; words[i]; i++) {
		if (json_is_string(v) && !strcmp(json_string_value(v), words[i])) {
			GUARD(parse_string(v, path, &s));
			return replace_str(dst, s, path);
		}
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", i ? ", " : "",
			 words[i]);
	}
	return type_error(path, want, v);
}

static void store_uint(void *dst, size_t size, long long v)
{
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	uint64_t u64 = (uint64_t)v;

	if (size == sizeof(u16))
		memcpy(dst, &u16, size);
	else if (size == sizeof(u32))
		memcpy(dst, &u32, size);
	else if (size == sizeof(u64))
		memcpy(dst, &u64, size);
}

static int parse_listen(json_t *v, const char *path, struct ward_addr *dst)
{
	const char *s;
	struct ward_addr a;
	int rc;

	GUARD(parse_string(v, path, &s));
	rc = ward_addr_parse(s, &a);
	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	ENSURE(ward_addr_port(&a) != 0, WARD_ERR_INVALID, "%s: port must be between 1 and 65535",
	       path);
	*dst = a;
	return 0;
}

/* Identity files: relative paths are taken from the config file's directory,
 * so that a config and its certificates can move together. */
static int parse_file_path(struct parser *p, json_t *v, const char *path, char **dst)
{
	const char *s;
	char *full;

	GUARD(parse_string(v, path, &s));
	ENSURE(*s, WARD_ERR_INVALID, "%s: must not be empty", path);
	if (s[0] == '/' || !p->base_dir)
		return replace_str(dst, s, path);
	if (asprintf(&full, "%s/%s", p->base_dir, s) < 0)
		return nomem(path);
	free(*dst);
	*dst = full;
	return 0;
}

/* ---- the walker ---------------------------------------------------------- */

static int parse_object(struct parser *p, json_t *obj, const char *path,
			const struct field *fields);

static int parse_field(struct parser *p, const struct field *f, json_t *v, const char *path)
{
	char *dst = (char *)p->cfg + f->off;
	long long n;

	switch (f->kind) {
	case F_UINT:
		GUARD(parse_int(v, path, f->min, f->max, &n));
		store_uint(dst, f->size, n);
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			return type_error(path, "true or false", v);
		*(bool *)dst = json_is_true(v);
		return 0;
	case F_ADDR:
		return parse_listen(v, path, (struct ward_addr *)dst);
	case F_PATH:
		return parse_file_path(p, v, path, (char **)dst);
	case F_OBJ:
		return parse_object(p, v, path, f->sub);
	case F_FN:
		return f->fn(p, v, path);
	}
	return ward_err_set(WARD_ERR_INVALID, "%s: no such field kind", path);
}

static int parse_object(struct parser *p, json_t *obj, const char *path, const struct field *fields)
{
	char sub[KEY_PATH_LEN];
	const struct field *f;
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return type_error(*path ? path : "config", "an object", obj);
	json_object_foreach(obj, key, v)
	{
		join_path(sub, sizeof(sub), path, key);
		for (f = fields; f->key && strcmp(f->key, key); f++)
			;
		ENSURE(f->key, WARD_ERR_INVALID, "%s: unknown key", sub);
		GUARD(parse_field(p, f, v, sub));
	}
	return 0;
}

/* ---- lists --------------------------------------------------------------- */

static int expect_array(json_t *v, const char *path, const char *what, size_t *n)
{
	char want[64];

	snprintf(want, sizeof(want), "an array of %s", what);
	if (!json_is_array(v))
		return type_error(path, want, v);
	*n = json_array_size(v);
	ENSURE(*n <= WARD_CONFIG_MAX_LIST, WARD_ERR_INVALID, "%s: more than %d entries", path,
	       WARD_CONFIG_MAX_LIST);
	return 0;
}

static int parse_str_entry(json_t *v, const char *path, size_t i, int (*check)(const char *),
			   char **out)
{
	char sub[KEY_PATH_LEN];
	const char *s;
	int rc;

	snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
	GUARD(parse_string(v, sub, &s));
	if (check && (rc = check(s)) < 0)
		return ward_err_prefix(rc, "%s", sub);
	*out = strdup(s);
	return *out ? 0 : nomem(sub);
}

/* An array of strings into a fresh owned vector that replaces *vec. */
static int parse_str_list(json_t *v, const char *path, int (*check)(const char *), char ***vec,
			  size_t *n_vec)
{
	size_t i, n;
	char **out;
	int rc;

	GUARD(expect_array(v, path, "strings", &n));
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out)
		return nomem(path);
	for (i = 0; i < n; i++) {
		rc = parse_str_entry(json_array_get(v, i), path, i, check, &out[i]);
		if (rc < 0) {
			free_str_vec(out, i);
			return rc;
		}
	}
	free_str_vec(*vec, *n_vec);
	*vec = out;
	*n_vec = n;
	return 0;
}

static int parse_cidr_entry(json_t *v, const char *path, size_t i, struct ward_cidr *out)
{
	char sub[KEY_PATH_LEN];
	const char *s;
	int rc;

	snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
	GUARD(parse_string(v, sub, &s));
	rc = ward_cidr_parse(s, out);
	return rc < 0 ? ward_err_prefix(rc, "%s", sub) : 0;
}

static int parse_mesh_cidrs(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;
	struct ward_cidr *out;
	size_t i, n;
	int rc;

	GUARD(expect_array(v, path, "CIDRs", &n));
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out)
		return nomem(path);
	for (i = 0; i < n; i++) {
		rc = parse_cidr_entry(json_array_get(v, i), path, i, &out[i]);
		if (rc < 0) {
			free(out);
			return rc;
		}
	}
	free(c->outbound.mesh_cidrs);
	c->outbound.mesh_cidrs = out;
	c->outbound.n_mesh_cidrs = n;
	return 0;
}

/* An array of ports (1-65535) into vec (replaced only on success). */
static int parse_port_list(json_t *v, const char *path, uint16_t **vec, size_t *n_vec)
{
	char sub[KEY_PATH_LEN];
	uint16_t *out;
	long long port;
	size_t i, n;
	int rc = 0;

	GUARD(expect_array(v, path, "ports", &n));
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out)
		return nomem(path);
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		rc = parse_int(json_array_get(v, i), sub, 1, 65535, &port);
		out[i] = (uint16_t)port;
	}
	if (rc < 0) {
		free(out);
		return rc;
	}
	free(*vec);
	*vec = out;
	*n_vec = n;
	return 0;
}

static int parse_tunnel_exclude_ports(struct parser *p, json_t *v, const char *path)
{
	return parse_port_list(v, path, &p->cfg->outbound.tunnel_exclude_ports,
			       &p->cfg->outbound.n_tunnel_exclude_ports);
}

/* A port list in `ward iptables` syntax: "8080,9090", "*" (include only),
 * "" (none). */
static int parse_capture_ports(json_t *v, const char *path, bool star_ok,
			       struct ward_capture_ports *out)
{
	const char *s;
	int rc;

	GUARD(parse_string(v, path, &s));
	rc = ward_capture_parse_ports(s, star_ok, out);
	return rc < 0 ? ward_err_prefix(rc, "%s", path) : 0;
}

static int parse_include_ports(struct parser *p, json_t *v, const char *path)
{
	return parse_capture_ports(v, path, true, &p->cfg->inbound.include_ports);
}

static int parse_exclude_ports(struct parser *p, json_t *v, const char *path)
{
	return parse_capture_ports(v, path, false, &p->cfg->inbound.exclude_ports);
}

static int parse_tunnel_mode(struct parser *p, json_t *v, const char *path)
{
	static const char *const words[] = {"auto", "always", "never", NULL};
	char *s = NULL;

	GUARD(parse_word(v, path, words, &s));
	p->cfg->outbound.tunnel = !strcmp(s, "auto")	 ? WARD_TUNNEL_AUTO
				  : !strcmp(s, "always") ? WARD_TUNNEL_ALWAYS
							 : WARD_TUNNEL_NEVER;
	free(s);
	return 0;
}

static int parse_passthrough_ports(struct parser *p, json_t *v, const char *path)
{
	return parse_port_list(v, path, &p->cfg->outbound.passthrough_ports,
			       &p->cfg->outbound.n_passthrough_ports);
}

static int parse_proxy_protocol_ports(struct parser *p, json_t *v, const char *path)
{
	return parse_port_list(v, path, &p->cfg->inbound.proxy_protocol_ports,
			       &p->cfg->inbound.n_proxy_protocol_ports);
}

static int parse_server_ids(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;

	GUARD(parse_str_list(v, path, check_id_pattern, &c->outbound.allowed_server_ids,
			     &c->outbound.n_allowed_server_ids));
	p->seen |= SEEN_SERVER_IDS;
	return 0;
}

/* ---- inbound.allowed_client_ids: { "<port>" | "*": [patterns] } ---------- */

static int parse_port_key(const char *key, uint16_t *port)
{
	long n = 0;
	size_t i;

	if (!strcmp(key, "*")) {
		*port = 0;
		return 0;
	}
	for (i = 0; key[i] >= '0' && key[i] <= '9' && i < 5; i++)
		n = n * 10 + (key[i] - '0');
	if (i == 0 || key[i] != '\0' || key[0] == '0' || n > 65535)
		return WARD_ERR_INVALID;
	*port = (uint16_t)n;
	return 0;
}

static int parse_port_ids(json_t *v, const char *path, const char *key,
			  const struct ward_port_ids *prev, size_t n_prev,
			  struct ward_port_ids *out)
{
	char sub[KEY_PATH_LEN];
	size_t i;

	snprintf(sub, sizeof(sub), "%s.\"%.64s\"", path, key);
	ENSURE(parse_port_key(key, &out->port) == 0, WARD_ERR_INVALID,
	       "%s: key must be a port number or \"*\"", sub);
	for (i = 0; i < n_prev; i++)
		ENSURE(prev[i].port != out->port, WARD_ERR_INVALID, "%s: port listed twice", sub);
	return parse_str_list(v, sub, check_id_pattern, &out->ids, &out->n_ids);
}

static int parse_client_ids(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;
	struct ward_port_ids *out;
	const char *key;
	json_t *ids;
	size_t n = 0;
	int rc = 0;

	if (!json_is_object(v))
		return type_error(path, "an object of port: [SPIFFE ID patterns]", v);
	ENSURE(json_object_size(v) <= WARD_CONFIG_MAX_LIST, WARD_ERR_INVALID,
	       "%s: more than %d entries", path, WARD_CONFIG_MAX_LIST);
	out = calloc(json_object_size(v) + 1, sizeof(*out));
	if (!out)
		return nomem(path);
	json_object_foreach(v, key, ids)
	{
		rc = parse_port_ids(ids, path, key, out, n, &out[n]);
		if (rc < 0)
			break;
		n++;
	}
	if (rc < 0) {
		free_port_ids(out, n + 1); /* out[n] may hold a half-built entry */
		return rc;
	}
	free_port_ids(c->inbound.allowed_client_ids, c->inbound.n_allowed_client_ids);
	c->inbound.allowed_client_ids = out;
	c->inbound.n_allowed_client_ids = n;
	p->seen |= SEEN_CLIENT_IDS;
	return 0;
}

/* ---- the remaining keys that need more than a range check ---------------- */

static int parse_trust_domain(struct parser *p, json_t *v, const char *path)
{
	const char *s;
	int rc;

	GUARD(parse_string(v, path, &s));
	rc = check_trust_domain(s);
	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	return replace_str(&p->cfg->trust_domain, s, path);
}

static int parse_workload_api(struct parser *p, json_t *v, const char *path)
{
	const char *s;
	int rc;

	GUARD(parse_string(v, path, &s));
	rc = check_workload_api(s);
	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	return replace_str(&p->cfg->identity.workload_api, s, path);
}

static const struct field files_fields[] = {
    PATH_FIELD("cert", identity.cert_file),
    PATH_FIELD("key", identity.key_file),
    PATH_FIELD("bundle", identity.bundle_file),
    {0},
};

static int parse_files(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;

	GUARD(parse_object(p, v, path, files_fields));
	ENSURE(c->identity.cert_file, WARD_ERR_INVALID, "%s.cert: required (with key and bundle)",
	       path);
	ENSURE(c->identity.key_file, WARD_ERR_INVALID, "%s.key: required (with cert and bundle)",
	       path);
	ENSURE(c->identity.bundle_file, WARD_ERR_INVALID, "%s.bundle: required (with cert and key)",
	       path);
	return 0;
}

static const struct field identity_fields[] = {
    FN_FIELD("workload_api", parse_workload_api),
    FN_FIELD("files", parse_files),
    {0},
};

static int parse_identity(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;

	GUARD(parse_object(p, v, path, identity_fields));
	ENSURE(!(c->identity.workload_api && c->identity.cert_file), WARD_ERR_INVALID,
	       "%s: set either workload_api or files, not both", path);
	return 0;
}

static int parse_gid(struct parser *p, json_t *v, const char *path)
{
	long long n;

	GUARD(parse_int(v, path, 0, UINT32_MAX - 1, &n));
	p->cfg->proxy.gid = (uint32_t)n;
	p->seen |= SEEN_GID;
	return 0;
}

static int parse_mode(struct parser *p, json_t *v, const char *path)
{
	static const char *const words[] = {"strict", "permissive", NULL};
	char *s = NULL;

	GUARD(parse_word(v, path, words, &s));
	p->cfg->inbound.mode = strcmp(s, "strict") ? WARD_INBOUND_PERMISSIVE : WARD_INBOUND_STRICT;
	free(s);
	return 0;
}

static int parse_profile(struct parser *p, json_t *v, const char *path)
{
	static const char *const words[] = {"modern", "fips", NULL};

	return parse_word(v, path, words, &p->cfg->tls.profile);
}

static int parse_level(struct parser *p, json_t *v, const char *path)
{
	static const char *const words[] = {"debug", "info", "warn", "error", NULL};

	return parse_word(v, path, words, &p->cfg->log.level);
}

static int parse_congestion(struct parser *p, json_t *v, const char *path)
{
	const char *s;
	int rc;

	GUARD(parse_string(v, path, &s));
	rc = check_congestion(s);
	if (rc < 0)
		return ward_err_prefix(rc, "%s", path);
	return replace_str(&p->cfg->tcp.congestion, s, path);
}

/* The TLS name lists are checked against the profile tables in finish(). */
static int parse_suites(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;

	return parse_str_list(v, path, NULL, &c->tls.cipher_suites, &c->tls.n_cipher_suites);
}

static int parse_groups(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;

	return parse_str_list(v, path, NULL, &c->tls.groups, &c->tls.n_groups);
}

static int parse_sigalgs(struct parser *p, json_t *v, const char *path)
{
	struct ward_config *c = p->cfg;

	return parse_str_list(v, path, NULL, &c->tls.signature_algorithms,
			      &c->tls.n_signature_algorithms);
}

/* ---- the schema (README documents each key, default and range) ----------- */

static const struct field proxy_fields[] = {
    UINT_FIELD("uid", proxy.uid, 0, UINT32_MAX - 1), /* (uid_t)-1 means "no change" */
    FN_FIELD("gid", parse_gid),
    UINT_FIELD("workers", proxy.workers, 0, 256),
    {0},
};

static const struct field outbound_fields[] = {
    ADDR_FIELD("listen", outbound.listen),
    FN_FIELD("mesh_cidrs", parse_mesh_cidrs),
    FN_FIELD("passthrough_ports", parse_passthrough_ports),
    FN_FIELD("allowed_server_ids", parse_server_ids),
    FN_FIELD("tunnel", parse_tunnel_mode),
    FN_FIELD("tunnel_exclude_ports", parse_tunnel_exclude_ports),
    {0},
};

static const struct field inbound_fields[] = {
    ADDR_FIELD("listen", inbound.listen),
    FN_FIELD("mode", parse_mode),
    FN_FIELD("allowed_client_ids", parse_client_ids),
    FN_FIELD("proxy_protocol_ports", parse_proxy_protocol_ports),
    BOOL_FIELD("preserve_source", inbound.preserve_source),
    BOOL_FIELD("tunnel", inbound.tunnel),
    ADDR_FIELD("tunnel_listen", inbound.tunnel_listen),
    FN_FIELD("include_ports", parse_include_ports),
    FN_FIELD("exclude_ports", parse_exclude_ports),
    {0},
};

static const struct field tunnel_fields[] = {
    UINT_FIELD("max_streams_per_connection", tunnel.max_streams_per_connection, 1, 1000),
    UINT_FIELD("stream_window_bytes", tunnel.stream_window_bytes, 65535, 16777216),
    UINT_FIELD("idle_timeout_s", tunnel.idle_timeout_s, 1, 86400),
    UINT_FIELD("max_connection_age_s", tunnel.max_connection_age_s, 10, 604800),
    UINT_FIELD("fallback_s", tunnel.fallback_s, 1, 86400),
    UINT_FIELD("connect_timeout_ms", tunnel.connect_timeout_ms, 100, 300000),
    {0},
};

static const struct field tls_fields[] = {
    FN_FIELD("profile", parse_profile),
    FN_FIELD("cipher_suites", parse_suites),
    FN_FIELD("groups", parse_groups),
    FN_FIELD("signature_algorithms", parse_sigalgs),
    UINT_FIELD("handshake_timeout_ms", tls.handshake_timeout_ms, 100, 60000),
    {0},
};

/* Linux caps TCP_KEEPIDLE / TCP_KEEPINTVL at 32767 s and TCP_KEEPCNT at 127. */
static const struct field keepalive_fields[] = {
    UINT_FIELD("idle_s", tcp.keepalive_idle_s, 1, 32767),
    UINT_FIELD("interval_s", tcp.keepalive_interval_s, 1, 32767),
    UINT_FIELD("count", tcp.keepalive_count, 1, 127),
    {0},
};

static const struct field tcp_fields[] = {
    BOOL_FIELD("nodelay", tcp.nodelay),
    OBJ_FIELD("keepalive", keepalive_fields),
    FN_FIELD("congestion", parse_congestion),
    BOOL_FIELD("fastopen", tcp.fastopen),
    {0},
};

static const struct field limits_fields[] = {
    UINT_FIELD("max_connections", limits.max_connections, 1, 1000000),
    UINT_FIELD("max_handshakes", limits.max_handshakes, 1, 100000),
    UINT_FIELD("max_handshakes_per_source", limits.max_handshakes_per_source, 1, 100000),
    UINT_FIELD("buffer_bytes", limits.buffer_bytes, 4096, 16777216),
    UINT_FIELD("connect_timeout_ms", limits.connect_timeout_ms, 100, 300000),
    UINT_FIELD("idle_timeout_s", limits.idle_timeout_s, 0, 604800),
    UINT_FIELD("drain_timeout_s", limits.drain_timeout_s, 0, 3600),
    {0},
};

static const struct field admin_fields[] = {
    ADDR_FIELD("listen", admin.listen),
    UINT_FIELD("header_timeout_ms", admin.header_timeout_ms, 100, 60000),
    UINT_FIELD("max_clients", admin.max_clients, 2, 10000),
    UINT_FIELD("max_clients_per_address", admin.max_clients_per_address, 1, 10000),
    UINT_FIELD("loopback_clients", admin.loopback_clients, 0, 9999),
    {0},
};

static const struct field log_fields[] = {
    FN_FIELD("level", parse_level),
    {0},
};

static const struct field top_fields[] = {
    FN_FIELD("trust_domain", parse_trust_domain),
    FN_FIELD("identity", parse_identity),
    OBJ_FIELD("proxy", proxy_fields),
    OBJ_FIELD("outbound", outbound_fields),
    OBJ_FIELD("inbound", inbound_fields),
    OBJ_FIELD("tls", tls_fields),
    OBJ_FIELD("tcp", tcp_fields),
    OBJ_FIELD("tunnel", tunnel_fields),
    OBJ_FIELD("limits", limits_fields),
    OBJ_FIELD("admin", admin_fields),
    OBJ_FIELD("log", log_fields),
    {0},
};

/* ---- defaults and finish ------------------------------------------------- */

/* The default mesh scope: the private address ranges every pod network is
 * carved from (RFC 1918, RFC 6598 shared space, IPv6 ULA), as Linkerd's
 * clusterNetworks. Destinations outside it (public APIs, SaaS) pass through
 * untouched; inside it a plaintext answer is refused, never downgraded. */
static const char *const default_mesh[] = {"10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12",
					   "192.168.0.0/16", "fd00::/8"};
#define N_DEFAULT_MESH (sizeof(default_mesh) / sizeof(default_mesh[0]))

static int default_lists(struct ward_config *c)
{
	size_t i;

	c->outbound.mesh_cidrs = calloc(N_DEFAULT_MESH, sizeof(*c->outbound.mesh_cidrs));
	if (!c->outbound.mesh_cidrs)
		return nomem("outbound.mesh_cidrs");
	for (i = 0; i < N_DEFAULT_MESH; i++)
		GUARD(ward_cidr_parse(default_mesh[i], &c->outbound.mesh_cidrs[i]));
	c->outbound.n_mesh_cidrs = N_DEFAULT_MESH;
	return 0;
}

static int default_strings(struct ward_config *c)
{
	GUARD(replace_str(&c->tls.profile, "modern", "tls.profile"));
	GUARD(replace_str(&c->tcp.congestion, "", "tcp.congestion"));
	GUARD(replace_str(&c->log.level, "info", "log.level"));
	GUARD(ward_addr_parse("0.0.0.0:15001", &c->outbound.listen));
	GUARD(ward_addr_parse("0.0.0.0:15006", &c->inbound.listen));
	GUARD(ward_addr_parse("0.0.0.0:15008", &c->inbound.tunnel_listen));
	return ward_addr_parse("0.0.0.0:15020", &c->admin.listen);
}

int ward_config_init_defaults(struct ward_config *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->proxy.uid = c->proxy.gid = 1337;
	c->inbound.mode = WARD_INBOUND_STRICT;
	c->inbound.tunnel = true;
	c->inbound.include_ports.all = true;
	c->outbound.tunnel = WARD_TUNNEL_AUTO;
	c->tunnel.max_streams_per_connection = 100;
	c->tunnel.stream_window_bytes = 262144;
	c->tunnel.idle_timeout_s = 300;
	c->tunnel.max_connection_age_s = 3600;
	c->tunnel.fallback_s = 60;
	c->tunnel.connect_timeout_ms = 1000;
	c->tls.handshake_timeout_ms = 5000;
	c->tcp.nodelay = true;
	c->tcp.keepalive_idle_s = 60;
	c->tcp.keepalive_interval_s = 10;
	c->tcp.keepalive_count = 3;
	c->limits.max_connections = 10000;
	c->limits.max_handshakes = 4096;
	c->limits.max_handshakes_per_source = 256;
	c->limits.buffer_bytes = 65536;
	c->limits.connect_timeout_ms = 5000;
	c->limits.idle_timeout_s = 3600;
	c->limits.drain_timeout_s = 30;
	c->admin.header_timeout_ms = 1000;
	c->admin.max_clients = 64;
	c->admin.max_clients_per_address = 16;
	c->admin.loopback_clients = 8;
	rc = default_strings(c);
	if (rc == 0)
		rc = default_lists(c);
	if (rc < 0)
		ward_config_uninit(c);
	return rc;
}

/* identity may be omitted when SPIFFE_ENDPOINT_SOCKET names the Workload API,
 * as SPIFFE's Workload Endpoint standard (section 4) has clients do. */
static int finish_identity(struct ward_config *c)
{
	const char *env;
	int rc;

	if (c->identity.workload_api || c->identity.cert_file)
		return 0;
	env = getenv("SPIFFE_ENDPOINT_SOCKET");
	ENSURE(env && *env, WARD_ERR_INVALID,
	       "identity: set identity.files or identity.workload_api (or SPIFFE_ENDPOINT_SOCKET)");
	rc = check_workload_api(env);
	if (rc < 0)
		return ward_err_prefix(rc, "SPIFFE_ENDPOINT_SOCKET");
	return replace_str(&c->identity.workload_api, env, "SPIFFE_ENDPOINT_SOCKET");
}

/* allowed_* default to "any ID in our own trust domain". */
static int finish_id_defaults(struct parser *p)
{
	struct ward_config *c = p->cfg;
	json_t *v;
	char *pattern;
	int rc = 0;

	if (asprintf(&pattern, "spiffe://%s/**", c->trust_domain) < 0)
		return nomem("trust_domain");
	v = json_pack("[s]", pattern);
	free(pattern);
	if (!v)
		return nomem("trust_domain");
	if (!(p->seen & SEEN_SERVER_IDS))
		rc = parse_server_ids(p, v, "outbound.allowed_server_ids");
	if (rc == 0 && !(p->seen & SEEN_CLIENT_IDS)) {
		json_t *obj = json_pack("{sO}", "*", v);

		rc = obj ? parse_client_ids(p, obj, "inbound.allowed_client_ids")
			 : nomem("trust_domain");
		json_decref(obj);
	}
	json_decref(v);
	return rc;
}

/* All four listeners live in the same network namespace. */
static int check_listen_ports(const struct ward_config *c)
{
	uint16_t out = ward_addr_port(&c->outbound.listen);
	uint16_t in = ward_addr_port(&c->inbound.listen);
	uint16_t adm = ward_addr_port(&c->admin.listen);
	uint16_t tun = ward_addr_port(&c->inbound.tunnel_listen);

	ENSURE(in != out, WARD_ERR_INVALID, "inbound.listen: port %u is also outbound.listen's",
	       in);
	ENSURE(adm != out && adm != in, WARD_ERR_INVALID,
	       "admin.listen: port %u is also a proxy listener's", adm);
	ENSURE(tun != out && tun != in && tun != adm, WARD_ERR_INVALID,
	       "inbound.tunnel_listen: port %u is also another listener's", tun);
	ENSURE(c->admin.loopback_clients < c->admin.max_clients, WARD_ERR_INVALID,
	       "admin.loopback_clients: must be less than admin.max_clients (%u)",
	       c->admin.max_clients);
	return 0;
}

static int finish(struct parser *p)
{
	struct ward_config *c = p->cfg;
	struct ward_tls_policy policy;

	ENSURE(c->trust_domain, WARD_ERR_INVALID, "trust_domain: required");
	GUARD(finish_identity(c));
	if (!(p->seen & SEEN_GID))
		c->proxy.gid = c->proxy.uid;
	GUARD(finish_id_defaults(p));
	GUARD(check_listen_ports(c));
	/* Resolving now turns a bad TLS name into a load error naming its key. */
	return ward_tls_policy_resolve(c, &policy);
}

int ward_tls_policy_resolve(const struct ward_config *cfg, struct ward_tls_policy *out)
{
	const struct ward_tls_names names = {
	    .profile = cfg->tls.profile,
	    .cipher_suites = cfg->tls.cipher_suites,
	    .n_cipher_suites = cfg->tls.n_cipher_suites,
	    .groups = cfg->tls.groups,
	    .n_groups = cfg->tls.n_groups,
	    .signature_algorithms = cfg->tls.signature_algorithms,
	    .n_signature_algorithms = cfg->tls.n_signature_algorithms,
	};

	return ward_tls_policy_build(&names, out);
}

/* ---- load / free --------------------------------------------------------- */

static int load_json(json_t *root, const char *base_dir, struct ward_config **out)
{
	struct parser p = {.base_dir = base_dir};
	int rc;

	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return nomem("config");
	rc = ward_config_init_defaults(p.cfg);
	if (rc == 0)
		rc = parse_object(&p, root, "", top_fields);
	if (rc == 0)
		rc = finish(&p);
	if (rc < 0) {
		ward_config_free(p.cfg);
		return rc;
	}
	*out = p.cfg;
	return 0;
}

int ward_config_load_string(const char *json, const char *base_dir, struct ward_config **out)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	ENSURE(json, WARD_ERR_INVALID, "config: no text");
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ward_err_set(WARD_ERR_INVALID, "config: line %d column %d: %s", jerr.line,
				    jerr.column, jerr.text);
	rc = load_json(root, base_dir, out);
	json_decref(root);
	return rc;
}

/* The directory of path, made absolute so that identity paths stay right
 * whatever the agent's working directory later is. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (!slash)
		return realpath(".", NULL);
	dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return NULL;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

int ward_config_load_file(const char *path, struct ward_config **out)
{
	json_t *root;
	char *dir;
	int rc;

	GUARD(ward_json_load_file(path, &root));
	dir = dir_of(path);
	if (!dir) {
		json_decref(root);
		return ward_err_set(WARD_ERR_IO, "%s: cannot resolve its directory", path);
	}
	rc = load_json(root, dir, out);
	if (rc < 0 && rc != WARD_ERR_NOMEM)
		ward_err_prefix(rc, "%s", path);
	free(dir);
	json_decref(root);
	return rc;
}

void ward_config_uninit(struct ward_config *c)
{
	if (!c)
		return;
	free(c->trust_domain);
	free(c->identity.workload_api);
	free(c->identity.cert_file);
	free(c->identity.key_file);
	free(c->identity.bundle_file);
	free(c->outbound.mesh_cidrs);
	free(c->outbound.passthrough_ports);
	free(c->outbound.tunnel_exclude_ports);
	free_str_vec(c->outbound.allowed_server_ids, c->outbound.n_allowed_server_ids);
	free_port_ids(c->inbound.allowed_client_ids, c->inbound.n_allowed_client_ids);
	free(c->inbound.proxy_protocol_ports);
	free(c->tls.profile);
	free_str_vec(c->tls.cipher_suites, c->tls.n_cipher_suites);
	free_str_vec(c->tls.groups, c->tls.n_groups);
	free_str_vec(c->tls.signature_algorithms, c->tls.n_signature_algorithms);
	free(c->tcp.congestion);
	free(c->log.level);
	memset(c, 0, sizeof(*c));
}

void ward_config_free(struct ward_config *c)
{
	ward_config_uninit(c);
	free(c);
}

/* ---- lookups ------------------------------------------------------------- */

bool ward_config_in_mesh(const struct ward_config *c, const struct sockaddr *dst)
{
	size_t i;

	for (i = 0; i < c->outbound.n_mesh_cidrs; i++)
		if (ward_cidr_contains(&c->outbound.mesh_cidrs[i], dst))
			return true;
	return false;
}

static bool port_listed(const uint16_t *ports, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

bool ward_config_is_passthrough_port(const struct ward_config *c, uint16_t port)
{
	return port_listed(c->outbound.passthrough_ports, c->outbound.n_passthrough_ports, port);
}

bool ward_config_is_proxy_protocol_port(const struct ward_config *c, uint16_t port)
{
	return port_listed(c->inbound.proxy_protocol_ports, c->inbound.n_proxy_protocol_ports,
			   port);
}

bool ward_config_tunnel_excluded(const struct ward_config *c, uint16_t port)
{
	return port_listed(c->outbound.tunnel_exclude_ports, c->outbound.n_tunnel_exclude_ports,
			   port);
}

static bool in_ports(const struct ward_capture_ports *p, uint16_t port)
{
	return p->all || port_listed(p->port, p->n, port);
}

bool ward_config_inbound_captured(const struct ward_config *c, uint16_t port)
{
	/* ward iptables never redirects to the proxy's own ports (a connection
	 * there would reach the listener itself) or the admin port. */
	if (port == ward_addr_port(&c->outbound.listen) ||
	    port == ward_addr_port(&c->inbound.listen) ||
	    port == ward_addr_port(&c->admin.listen) ||
	    port == ward_addr_port(&c->inbound.tunnel_listen))
		return false;
	return in_ports(&c->inbound.include_ports, port) &&
	       !in_ports(&c->inbound.exclude_ports, port);
}
