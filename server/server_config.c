/* `ward server`'s configuration; the keys and defaults are in
 * server_config.h and the README. */
#include "server/server_config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "spiffe/id.h"

#define SUN_PATH_MAX 107 /* sizeof(sockaddr_un.sun_path) - 1 */

struct parser {
	struct ward_server_config *cfg;
	const char *base_dir; /* relative paths resolve here; NULL: as given */
};

static int set_str(char **dst, const char *s, const char *path)
{
	char *copy = strdup(s);

	ENSURE(copy, WARD_ERR_NOMEM, "%s: out of memory", path);
	free(*dst);
	*dst = copy;
	return 0;
}

static int parse_path(const struct parser *p, const json_t *v, const char *path, char **dst)
{
	const char *s;
	char *full;

	GUARD(ward_json_string(v, path, &s));
	if (s[0] == '/' || !p->base_dir)
		return set_str(dst, s, path);
	ENSURE(asprintf(&full, "%s/%s", p->base_dir, s) >= 0, WARD_ERR_NOMEM, "%s: out of memory",
	       path);
	free(*dst);
	*dst = full;
	return 0;
}

static int parse_socket(const struct parser *p, const json_t *v, const char *path, char **dst)
{
	GUARD(parse_path(p, v, path, dst));
	ENSURE(strlen(*dst) <= SUN_PATH_MAX, WARD_ERR_INVALID,
	       "%s: socket path longer than %d bytes", path, SUN_PATH_MAX);
	return 0;
}

static int check_td(const char *s, const char *path)
{
	int rc;

	ENSURE(strncmp(s, WARD_SPIFFE_SCHEME, WARD_SPIFFE_SCHEME_LEN), WARD_ERR_INVALID,
	       "%s: \"%.64s\" is a SPIFFE ID; give the bare trust domain name", path, s);
	rc = ward_spiffe_trust_domain_validate(s, strlen(s));
	return rc < 0 ? ward_err_prefix(rc, "%s", path) : 0;
}

static int parse_td(const struct parser *p, const json_t *v, const char *path)
{
	const char *s;

	GUARD(ward_json_string(v, path, &s));
	GUARD(check_td(s, path));
	return set_str(&p->cfg->trust_domain, s, path);
}

static int parse_uint(const json_t *v, const char *path, long long min, long long max,
		      unsigned *dst)
{
	long long n;

	GUARD(ward_json_int(v, path, min, max, &n));
	*dst = (unsigned)n;
	return 0;
}

static int upstream_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	const struct parser *p = ctx;
	char **dst = !strcmp(key, "cert")     ? &p->cfg->upstream.cert
		     : !strcmp(key, "key")    ? &p->cfg->upstream.key
		     : !strcmp(key, "bundle") ? &p->cfg->upstream.bundle
					      : NULL;

	return dst ? parse_path(p, v, path, dst) : ward_json_unknown(path);
}

static int parse_upstream(const struct parser *p, const json_t *v, const char *path)
{
	struct ward_server_config *c = p->cfg;

	GUARD(ward_json_members(v, path, upstream_member, (void *)p));
	ENSURE(c->upstream.cert, WARD_ERR_INVALID, "%s.cert: required (with key and bundle)", path);
	ENSURE(c->upstream.key, WARD_ERR_INVALID, "%s.key: required (with cert and bundle)", path);
	ENSURE(c->upstream.bundle, WARD_ERR_INVALID, "%s.bundle: required (with cert and key)",
	       path);
	return 0;
}

static int parse_federation(const struct parser *p, const json_t *v, const char *path)
{
	struct ward_server_config *c = p->cfg;
	char sub[WARD_JSON_PATH_MAX];
	const char *td;
	json_t *file;

	GUARD(ward_json_object(v, path));
	ENSURE(json_object_size(v) <= WARD_SERVER_MAX_FEDERATION, WARD_ERR_INVALID,
	       "%s: more than %d trust domains", path, WARD_SERVER_MAX_FEDERATION);
	c->federation = calloc(json_object_size(v) + 1, sizeof(*c->federation));
	ENSURE(c->federation, WARD_ERR_NOMEM, "%s: out of memory", path);
	json_object_foreach((json_t *)v, td, file)
	{
		struct ward_server_federation *f = &c->federation[c->n_federation++];

		snprintf(sub, sizeof(sub), "%s.\"%.64s\"", path, td);
		GUARD(check_td(td, sub));
		GUARD(set_str(&f->trust_domain, td, sub));
		GUARD(parse_path(p, file, sub, &f->bundle_file));
	}
	return 0;
}

static int attestation_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	const struct parser *p = ctx;

	if (strcmp(key, "workload_size_limit"))
		return ward_json_unknown(path);
	return ward_json_int(v, path, 0, 1LL << 50, &p->cfg->workload_size_limit);
}

static int limits_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	struct ward_wl_limits *l = &((const struct parser *)ctx)->cfg->limits;

	if (!strcmp(key, "max_connections"))
		return parse_uint(v, path, 1, 100000, &l->max_connections);
	if (!strcmp(key, "max_connections_per_uid"))
		return parse_uint(v, path, 1, 100000, &l->max_connections_per_uid);
	if (!strcmp(key, "max_pending"))
		return parse_uint(v, path, 1, 100000, &l->max_pending);
	if (!strcmp(key, "max_pending_per_uid"))
		return parse_uint(v, path, 1, 100000, &l->max_pending_per_uid);
	if (!strcmp(key, "idle_timeout_ms"))
		return parse_uint(v, path, 100, 3600000, &l->idle_timeout_ms);
	if (!strcmp(key, "write_stall_ms"))
		return parse_uint(v, path, 100, 3600000, &l->write_stall_ms);
	return ward_json_unknown(path);
}

static int rotation_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	const struct parser *p = ctx;

	if (!strcmp(key, "grace_ms"))
		return parse_uint(v, path, 0, 60000, &p->cfg->rotation_grace_ms);
	if (!strcmp(key, "max_wait_ms"))
		return parse_uint(v, path, 100, 60000, &p->cfg->rotation_max_wait_ms);
	return ward_json_unknown(path);
}

static int log_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	const struct parser *p = ctx;
	const char *s;

	if (strcmp(key, "level"))
		return ward_json_unknown(path);
	GUARD(ward_json_string(v, path, &s));
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(s, levels[i]))
			return set_str(&p->cfg->log_level, s, path);
	return ward_err_set(WARD_ERR_INVALID,
			    "%s: must be debug, info, warn or error (got \"%.20s\")", path, s);
}

static int parse_key(void *ctx, const char *key, const json_t *v, const char *path)
{
	const struct parser *p = ctx;
	struct ward_server_config *c = p->cfg;

	if (!strcmp(key, "trust_domain"))
		return parse_td(p, v, path);
	if (!strcmp(key, "socket"))
		return parse_socket(p, v, path, &c->socket);
	if (!strcmp(key, "admin_socket"))
		return parse_socket(p, v, path, &c->admin_socket);
	if (!strcmp(key, "data_dir"))
		return parse_path(p, v, path, &c->data_dir);
	if (!strcmp(key, "entries"))
		return parse_path(p, v, path, &c->entries);
	if (!strcmp(key, "svid_ttl_s"))
		return parse_uint(v, path, 1, 31536000, &c->svid_ttl_s);
	if (!strcmp(key, "ca_ttl_s"))
		return parse_uint(v, path, 60, 315360000, &c->ca_ttl_s);
	if (!strcmp(key, "upstream"))
		return parse_upstream(p, v, path);
	if (!strcmp(key, "federation"))
		return parse_federation(p, v, path);
	if (!strcmp(key, "attestation"))
		return ward_json_members(v, path, attestation_member, ctx);
	if (!strcmp(key, "limits"))
		return ward_json_members(v, path, limits_member, ctx);
	if (!strcmp(key, "rotation"))
		return ward_json_members(v, path, rotation_member, ctx);
	if (!strcmp(key, "log"))
		return ward_json_members(v, path, log_member, ctx);
	return ward_json_unknown(path);
}

static int defaults(struct ward_server_config *c)
{
	c->svid_ttl_s = 3600;
	c->ca_ttl_s = 86400;
	c->workload_size_limit = 256LL * 1024 * 1024;
	ward_wl_limits_default(&c->limits);
	c->rotation_grace_ms = 500;
	c->rotation_max_wait_ms = 5000;
	GUARD(set_str(&c->socket, "/run/ward/server.sock", "socket"));
	GUARD(set_str(&c->admin_socket, "/run/ward/server-admin.sock", "admin_socket"));
	GUARD(set_str(&c->data_dir, "/var/lib/ward/server", "data_dir"));
	return set_str(&c->log_level, "info", "log.level");
}

static int finish(const struct ward_server_config *c)
{
	ENSURE(c->trust_domain, WARD_ERR_INVALID, "trust_domain: required");
	ENSURE(c->entries, WARD_ERR_INVALID, "entries: required (the registration entries file)");
	ENSURE(c->svid_ttl_s < c->ca_ttl_s, WARD_ERR_INVALID,
	       "svid_ttl_s: %u must be shorter than ca_ttl_s (%u)", c->svid_ttl_s, c->ca_ttl_s);
	ENSURE(strcmp(c->socket, c->admin_socket), WARD_ERR_INVALID,
	       "admin_socket: the same path as socket");
	for (size_t i = 0; i < c->n_federation; i++)
		ENSURE(strcmp(c->federation[i].trust_domain, c->trust_domain), WARD_ERR_INVALID,
		       "federation.\"%s\": the server's own trust domain", c->trust_domain);
	return 0;
}

static int load_json(const json_t *root, const char *base_dir, struct ward_server_config **out)
{
	struct parser p = {calloc(1, sizeof(*p.cfg)), base_dir};
	int rc;

	*out = NULL;
	ENSURE(p.cfg, WARD_ERR_NOMEM, "config: out of memory");
	rc = defaults(p.cfg);
	if (rc == 0)
		rc = ward_json_object(root, "config");
	if (rc == 0)
		rc = ward_json_members(root, "", parse_key, &p);
	if (rc == 0)
		rc = finish(p.cfg);
	if (rc < 0) {
		ward_server_config_free(p.cfg);
		return rc;
	}
	*out = p.cfg;
	return 0;
}

int ward_server_config_load_string(const char *json, const char *base_dir,
				   struct ward_server_config **out)
{
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	*out = NULL;
	ENSURE(root, WARD_ERR_INVALID, "config: line %d column %d: %s", jerr.line, jerr.column,
	       jerr.text);
	rc = load_json(root, base_dir, out);
	json_decref(root);
	return rc;
}

int ward_server_config_load_file(const char *path, struct ward_server_config **out)
{
	char *copy, *dir = NULL, *slash;
	json_t *root;
	int rc;

	*out = NULL;
	GUARD(ward_json_load_file(path, &root));
	copy = strdup(path);
	if (copy && (slash = strrchr(copy, '/'))) {
		*slash = '\0';
		dir = realpath(*copy ? copy : "/", NULL);
	} else if (copy) {
		dir = realpath(".", NULL);
	}
	free(copy);
	rc = dir ? load_json(root, dir, out)
		 : ward_err_set(WARD_ERR_IO, "%s: cannot resolve its directory", path);
	if (rc < 0 && rc != WARD_ERR_NOMEM && !strstr(ward_err_msg(), path))
		ward_err_prefix(rc, "%s", path); /* every error names the file, once */
	free(dir);
	json_decref(root);
	return rc;
}

void ward_server_config_free(struct ward_server_config *c)
{
	if (!c)
		return;
	free(c->trust_domain);
	free(c->socket);
	free(c->admin_socket);
	free(c->data_dir);
	free(c->entries);
	free(c->upstream.cert);
	free(c->upstream.key);
	free(c->upstream.bundle);
	for (size_t i = 0; i < c->n_federation; i++) {
		free(c->federation[i].trust_domain);
		free(c->federation[i].bundle_file);
	}
	free(c->federation);
	free(c->log_level);
	free(c);
}
