/* Injector settings: defaults, the injector's JSON config, and the ward.io/
 * annotations that override them per pod. One table drives all three, so a
 * config key and its annotation can never disagree on what they accept:
 * key "exclude_inbound_ports" is annotation "ward.io/exclude-inbound-ports". */
#include "kube/inject_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cli.h"
#include "config/capture.h"
#include "config/config.h"

#define ANNOTATION_PREFIX "ward.io/"
/* The trust domain of deploy/kubernetes/ and of the agent's defaults when no
 * agent_defaults are configured. */
#define DEFAULT_TRUST_DOMAIN "cluster.local"
#define AGENT_DEFAULTS_MAX 16384

static int check_ports_all(const char *v)
{
	struct ward_capture_ports p;

	return ward_capture_parse_ports(v, true, &p);
}

static int check_ports(const char *v)
{
	struct ward_capture_ports p;

	return ward_capture_parse_ports(v, false, &p);
}

static int check_cidrs_all(const char *v)
{
	struct ward_capture_cidrs c;

	return ward_capture_parse_cidrs(v, true, &c);
}

static int check_cidrs(const char *v)
{
	struct ward_capture_cidrs c;

	return ward_capture_parse_cidrs(v, false, &c);
}

static int check_word(const char *v, const char *const *allowed, const char *list)
{
	for (; *allowed; allowed++)
		if (!strcmp(v, *allowed))
			return 0;
	return ward_err_set(WARD_ERR_INVALID, "'%s' is not one of %s", v, list);
}

static int check_mode(const char *v)
{
	static const char *const modes[] = {"strict", "permissive", NULL};

	return check_word(v, modes, "strict, permissive");
}

static int check_flag(const char *v)
{
	static const char *const flags[] = {"true", "false", "enabled", "disabled", NULL};

	return check_word(v, flags, "true, false, enabled, disabled");
}

static int check_level(const char *v)
{
	static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

	return check_word(v, levels, "debug, info, warn, error");
}

static int check_pull_policy(const char *v)
{
	static const char *const policies[] = {"Always", "IfNotPresent", "Never", NULL};

	return check_word(v, policies, "Always, IfNotPresent, Never");
}

/* A Kubernetes resource quantity (k8s.io/apimachinery resource.Quantity):
 * a decimal number and an optional suffix; "" leaves the resource unset. */
static int check_quantity(const char *v)
{
	static const char *const suffixes[] = {"",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
					       "m", "k",  "M",	"G",  "T",  "P",  "E",	NULL};
	const char *s = v;
	size_t int_digits, frac_digits = 0;

	if (!*v)
		return 0;
	if (*s == '+')
		s++;
	int_digits = strspn(s, "0123456789");
	s += int_digits;
	if (*s == '.') {
		frac_digits = strspn(s + 1, "0123456789");
		s += 1 + frac_digits;
	}
	if (int_digits + frac_digits > 0) {
		if (*s == 'e' || *s == 'E') {
			const char *e = s + 1 + (s[1] == '+' || s[1] == '-');

			if (*e && strspn(e, "0123456789") == strlen(e))
				return 0;
		}
		for (const char *const *x = suffixes; *x; x++)
			if (!strcmp(s, *x))
				return 0;
	}
	return ward_err_set(WARD_ERR_INVALID,
			    "'%s' is not a Kubernetes quantity (e.g. 100m, 0.5, 64Mi, 1G)", v);
}

static int check_nonempty(const char *v)
{
	ENSURE(*v, WARD_ERR_INVALID, "must not be empty");
	return 0;
}

static int check_abs_path(const char *v)
{
	ENSURE(v[0] == '/', WARD_ERR_INVALID, "'%s' is not an absolute path", v);
	return 0;
}

static int check_file_name(const char *v)
{
	ENSURE(*v && !strchr(v, '/') && strcmp(v, ".") && strcmp(v, ".."), WARD_ERR_INVALID,
	       "'%s' is not a file name", v);
	return 0;
}

/* A ConfigMap name: a DNS-1123 subdomain. */
static int check_dns_name(const char *v)
{
	size_t n = strlen(v);

	ENSURE(n > 0 && n <= 253 && strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-.") == n &&
		   v[0] != '-' && v[0] != '.' && v[n - 1] != '-' && v[n - 1] != '.',
	       WARD_ERR_INVALID, "'%s' is not a valid object name (lowercase DNS-1123)", v);
	return 0;
}

struct setting {
	const char *key; /* config key; the annotation swaps '_' for '-' */
	size_t offset;	 /* of a char * in struct ward_inject_opts */
	bool per_pod;	 /* also a ward.io/ annotation */
	int (*check)(const char *v);
};

#define FIELD(f) offsetof(struct ward_inject_opts, f)
static const struct setting settings[] = {
    {"image", FIELD(image), false, check_nonempty},
    {"image_pull_policy", FIELD(image_pull_policy), false, check_pull_policy},
    {"agent_config_map", FIELD(agent_config_map), true, check_dns_name},
    {"workload_socket_hostpath", FIELD(workload_socket_hostpath), false, check_abs_path},
    {"workload_socket_name", FIELD(workload_socket_name), false, check_file_name},
    {"include_inbound_ports", FIELD(include_inbound_ports), true, check_ports_all},
    {"exclude_inbound_ports", FIELD(exclude_inbound_ports), true, check_ports},
    {"include_outbound_ports", FIELD(include_outbound_ports), true, check_ports_all},
    {"exclude_outbound_ports", FIELD(exclude_outbound_ports), true, check_ports},
    {"include_outbound_cidrs", FIELD(include_outbound_cidrs), true, check_cidrs_all},
    {"exclude_outbound_cidrs", FIELD(exclude_outbound_cidrs), true, check_cidrs},
    {"inbound_mode", FIELD(inbound_mode), true, check_mode},
    {"log_level", FIELD(log_level), true, check_level},
    {"mesh_cidrs", FIELD(mesh_cidrs), false, check_cidrs},
    {"proxy_protocol_ports", FIELD(proxy_protocol_ports), true, check_ports},
    {"preserve_source", FIELD(preserve_source), true, check_flag},
    {"proxy_cpu_request", FIELD(cpu_request), true, check_quantity},
    {"proxy_cpu_limit", FIELD(cpu_limit), true, check_quantity},
    {"proxy_memory_request", FIELD(memory_request), true, check_quantity},
    {"proxy_memory_limit", FIELD(memory_limit), true, check_quantity},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static char **field_of(struct ward_inject_opts *o, const struct setting *s)
{
	return (char **)((char *)o + s->offset);
}

int ward_inject_opts_set(char **field, const char *value)
{
	char *copy = value ? strdup(value) : NULL;

	if (value && !copy)
		return ward_err_set(WARD_ERR_NOMEM, "setting");
	free(*field);
	*field = copy;
	return 0;
}

int ward_inject_opts_init(struct ward_inject_opts *o)
{
	static const struct {
		size_t offset;
		const char *value;
	} defaults[] = {
	    {FIELD(image), "ghcr.io/ward-mesh/ward:" WARD_VERSION},
	    {FIELD(image_pull_policy), "IfNotPresent"},
	    {FIELD(agent_config_map), "ward-agent-config"},
	    {FIELD(cpu_request), "10m"},
	    {FIELD(cpu_limit), ""},
	    {FIELD(memory_request), "16Mi"},
	    {FIELD(memory_limit), "128Mi"},
	};

	memset(o, 0, sizeof(*o));
	o->proxy_uid = 1337;
	o->rewrite_probes = true;
	o->agent_defaults = json_pack("{s:s}", "trust_domain", DEFAULT_TRUST_DOMAIN);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		char **f = (char **)((char *)o + defaults[i].offset);

		if (ward_inject_opts_set(f, defaults[i].value) < 0) {
			ward_inject_opts_free(o);
			return WARD_ERR_NOMEM;
		}
	}
	return 0;
}

void ward_inject_opts_free(struct ward_inject_opts *o)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		free(*field_of(o, &settings[i]));
	json_decref(o->agent_defaults);
	memset(o, 0, sizeof(*o));
}

/* agent_defaults: the mesh-wide agent config every proxy gets as `ward
 * agent --defaults` (a namespace's ConfigMap overrides it). Checked here with
 * the agent's own loader, over a stand-in trust domain and identity where it
 * names none, so that a bad key fails the injector rather than every proxy. */
static int load_agent_defaults(struct ward_inject_opts *o, json_t *v)
{
	json_t *probe;
	char *text = NULL;
	struct ward_config *cfg = NULL;
	int rc;

	ENSURE(json_is_object(v), WARD_ERR_INVALID, "agent_defaults: must be a JSON object");
	probe = json_pack("{s:s,s:{s:s}}", "trust_domain", DEFAULT_TRUST_DOMAIN, "identity",
			  "workload_api", "unix:///spiffe-workload-api/agent.sock");
	if (!probe || json_object_update(probe, v) < 0 || !(text = json_dumps(probe, JSON_COMPACT)))
		rc = ward_err_set(WARD_ERR_NOMEM, "agent_defaults: out of memory");
	else if (strlen(text) > AGENT_DEFAULTS_MAX)
		rc = ward_err_set(WARD_ERR_INVALID, "agent_defaults: more than %d bytes",
				  AGENT_DEFAULTS_MAX);
	else
		rc = ward_config_load_string(text, "/etc/ward", &cfg);
	ward_config_free(cfg);
	free(text);
	json_decref(probe);
	if (rc < 0)
		return rc == WARD_ERR_NOMEM ? rc : ward_err_prefix(rc, "agent_defaults");
	json_decref(o->agent_defaults);
	o->agent_defaults = json_deep_copy(v);
	ENSURE(o->agent_defaults, WARD_ERR_NOMEM, "agent_defaults: out of memory");
	return 0;
}

static int load_bool_or_uid(struct ward_inject_opts *o, const char *key, json_t *v)
{
	if (!strcmp(key, "legacy_sidecar") || !strcmp(key, "rewrite_probes")) {
		ENSURE(json_is_boolean(v), WARD_ERR_INVALID, "%s: must be true or false", key);
		*(key[0] == 'l' ? &o->legacy_sidecar : &o->rewrite_probes) = json_is_true(v);
		return 0;
	}
	if (!strcmp(key, "agent_defaults"))
		return load_agent_defaults(o, v);
	ENSURE(json_is_integer(v) && json_integer_value(v) > 0 &&
		   json_integer_value(v) < 4294967295LL,
	       WARD_ERR_INVALID, "proxy_uid: must be an integer between 1 and 4294967294");
	o->proxy_uid = (uint32_t)json_integer_value(v);
	return 0;
}

static int load_one(struct ward_inject_opts *o, const char *key, json_t *v)
{
	if (!strcmp(key, "legacy_sidecar") || !strcmp(key, "proxy_uid") ||
	    !strcmp(key, "rewrite_probes") || !strcmp(key, "agent_defaults"))
		return load_bool_or_uid(o, key, v);
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (strcmp(key, settings[i].key))
			continue;
		if (json_is_null(v))
			return ward_inject_opts_set(field_of(o, &settings[i]), NULL);
		ENSURE(json_is_string(v), WARD_ERR_INVALID, "%s: must be a string", key);
		if (settings[i].check(json_string_value(v)) < 0)
			return ward_err_prefix(WARD_ERR_INVALID, "%s", key);
		return ward_inject_opts_set(field_of(o, &settings[i]), json_string_value(v));
	}
	return ward_err_set(WARD_ERR_INVALID, "%s: unknown key", key);
}

int ward_inject_opts_load_json(struct ward_inject_opts *o, json_t *cfg)
{
	const char *key;
	json_t *v;

	ENSURE(json_is_object(cfg), WARD_ERR_INVALID, "the injector config must be a JSON object");
	json_object_foreach(cfg, key, v) GUARD(load_one(o, key, v));
	return 0;
}

int ward_inject_opts_load(struct ward_inject_opts *o, const char *path)
{
	json_error_t err;
	json_t *cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	int rc;

	ENSURE(cfg, WARD_ERR_INVALID, "%s: line %d: %s", path, err.line, err.text);
	rc = ward_inject_opts_load_json(o, cfg);
	json_decref(cfg);
	return rc < 0 ? ward_err_prefix(rc, "%s", path) : 0;
}

int ward_inject_flag(json_t *value, const char *field, int *out)
{
	const char *v = json_string_value(value);

	*out = -1;
	if (!value)
		return 0;
	if (v && (!strcmp(v, "true") || !strcmp(v, "enabled")))
		*out = 1;
	else if (v && (!strcmp(v, "false") || !strcmp(v, "disabled")))
		*out = 0;
	else
		return ward_err_set(WARD_ERR_INVALID,
				    "%s: must be \"true\" or \"false\" (or enabled/disabled)",
				    field);
	return 0;
}

/* "ward.io/exclude-inbound-ports" → its setting, or NULL. */
static const struct setting *annotation_setting(const char *name)
{
	char key[64];
	size_t n = strlen(name) - strlen(ANNOTATION_PREFIX);

	if (n >= sizeof(key))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		key[i] = name[strlen(ANNOTATION_PREFIX) + i] == '-'
			     ? '_'
			     : name[strlen(ANNOTATION_PREFIX) + i];
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (settings[i].per_pod && !strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

/* The annotations that are not strings to copy: a uid and a flag. */
static int pod_special(struct ward_inject_opts *pod, const char *name, json_t *v, const char *where)
{
	const char *text = json_string_value(v);
	char *end;
	unsigned long long uid;
	int flag;

	if (!strcmp(name, "ward.io/rewrite-probes")) {
		char field[96];

		snprintf(field, sizeof(field), "%smetadata.annotations[\"%s\"]", where, name);
		GUARD(ward_inject_flag(v, field, &flag));
		pod->rewrite_probes = flag == 1;
		return 0;
	}
	uid = text && text[0] >= '1' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
	ENSURE(uid > 0 && uid < 4294967295ULL && !*end && strlen(text) <= 10, WARD_ERR_INVALID,
	       "%smetadata.annotations[\"%s\"]: must be a uid between 1 and 4294967294, "
	       "as a string",
	       where, name);
	pod->proxy_uid = (uint32_t)uid;
	return 0;
}

int ward_inject_pod_settings(const struct ward_inject_opts *o, json_t *annotations,
			     const char *where, struct ward_inject_opts *pod)
{
	const char *name;
	json_t *v;

	*pod = *o;
	json_object_foreach(annotations, name, v)
	{
		const struct setting *s;

		if (strncmp(name, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) ||
		    !strcmp(name, "ward.io/inject") || !strcmp(name, WARD_INJECT_STATUS))
			continue;
		if (!strcmp(name, "ward.io/proxy-uid") || !strcmp(name, "ward.io/rewrite-probes")) {
			GUARD(pod_special(pod, name, v, where));
			continue;
		}
		ENSURE((s = annotation_setting(name)), WARD_ERR_INVALID,
		       "%smetadata.annotations[\"%s\"]: unknown ward annotation", where, name);
		ENSURE(json_is_string(v), WARD_ERR_INVALID,
		       "%smetadata.annotations[\"%s\"]: must be a string", where, name);
		if (s->check(json_string_value(v)) < 0)
			return ward_err_prefix(WARD_ERR_INVALID, "%smetadata.annotations[\"%s\"]",
					       where, name);
		*field_of(pod, s) = (char *)json_string_value(v);
	}
	return 0;
}
