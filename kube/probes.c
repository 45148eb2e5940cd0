/* The kubelet's probes of the app under strict mTLS. The kubelet probes from
 * the node in plain text, which the proxy refuses on captured ports, so each
 * httpGet, tcpSocket or grpc probe of an app container on a captured port is
 * pointed at the proxy's admin port, at /app-health/<container>/<kind>, and
 * the original goes to the proxy in WARD_APP_PROBES (agent/app_probe.h),
 * which runs it against the app on loopback. ward.io/status keeps the
 * originals verbatim, so uninject puts them back as they were. */
#include "kube/inject_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/capture.h"
#include "config/probe.h"

#define PROBES_ENV "WARD_APP_PROBES"
#define PROBE_PREFIX "/app-health/"

static const struct {
	const char *field, *kind; /* kind: the last segment of its path */
} probe_fields[] = {
    {"readinessProbe", "readiness"},
    {"livenessProbe", "liveness"},
    {"startupProbe", "startup"},
};
#define N_PROBE_FIELDS (sizeof(probe_fields) / sizeof(probe_fields[0]))

static const char *const handlers[] = {"httpGet", "tcpSocket", "grpc"};

/* The probe's network handler (httpGet, tcpSocket, grpc), or NULL for exec
 * and anything else. */
static const char *handler_of(json_t *probe, json_t **h)
{
	for (size_t i = 0; i < 3; i++)
		if ((*h = json_object_get(probe, handlers[i])) && json_is_object(*h))
			return handlers[i];
	return NULL;
}

/* The probe's port as a number: an integer, or a name the container
 * declares (as the kubelet resolves it); 0 when neither. grpc ports are
 * numbers only. */
static long probe_port(json_t *container, json_t *handler)
{
	json_t *port = json_object_get(handler, "port"), *cp;
	size_t i;

	if (json_is_integer(port))
		return (long)json_integer_value(port);
	json_array_foreach(json_object_get(container, "ports"), i, cp)
	{
		if (json_is_string(port) && json_equal(json_object_get(cp, "name"), port) &&
		    json_is_integer(json_object_get(cp, "containerPort")))
			return (long)json_integer_value(json_object_get(cp, "containerPort"));
	}
	return 0;
}

static bool in_list(const char *list, long port, bool empty_is_all)
{
	struct ward_capture_ports ports;

	if (!list)
		return empty_is_all;
	if (ward_capture_parse_ports(list, true, &ports) < 0)
		return false;
	if (ports.all)
		return true;
	for (size_t i = 0; i < ports.n; i++)
		if (ports.port[i] == port)
			return true;
	return false;
}

static bool captured(const struct ward_inject_opts *s, long port)
{
	return in_list(s->include_inbound_ports, port, true) &&
	       !in_list(s->exclude_inbound_ports, port, false);
}

static bool is_string(json_t *v, const char *s)
{
	return json_is_string(v) && !strcmp(json_string_value(v), s);
}

static bool header_ok(json_t *h)
{
	json_t *name = json_object_get(h, "name"), *value = json_object_get(h, "value");

	return json_object_size(h) == 2 && json_is_string(name) && json_is_string(value) &&
	       ward_probe_header_name_ok(json_string_value(name)) &&
	       ward_probe_header_value_ok(json_string_value(value));
}

/* NULL when the proxy can run this probe (config/probe.h), else why not. */
static const char *not_runnable(json_t *handler)
{
	json_t *path = json_object_get(handler, "path"),
	       *scheme = json_object_get(handler, "scheme");
	json_t *headers = json_object_get(handler, "httpHeaders"), *service, *h;
	size_t i;

	if (json_object_get(handler, "host"))
		return "it names a host, which ward does not probe for it";
	if (path && !(json_is_string(path) && ward_probe_path_ok(json_string_value(path))))
		return "its path is not one ward can send";
	if (scheme && !is_string(scheme, "HTTP") && !is_string(scheme, "HTTPS"))
		return "its scheme is neither HTTP nor HTTPS";
	if (headers &&
	    (!json_is_array(headers) || json_array_size(headers) > WARD_PROBE_MAX_HEADERS))
		return "it has too many httpHeaders";
	json_array_foreach(headers, i, h) if (!header_ok(h)) return "a header ward cannot send";
	service = json_object_get(handler, "service");
	if (service &&
	    !(json_is_string(service) && ward_probe_service_ok(json_string_value(service))))
		return "its gRPC service name is too long";
	return NULL;
}

/* What the proxy needs to run the original: Kubernetes' own fields, the
 * port as a number, the timeout within the proxy's bound. */
static json_t *original_for_proxy(json_t *probe, const char *kind, json_t *handler, long port)
{
	static const char *const keep[] = {"path", "scheme", "httpHeaders", "service", NULL};
	json_t *h = json_pack("{s:I}", "port", (json_int_t)port);
	json_t *out = json_object(), *v;

	for (const char *const *k = keep; *k; k++)
		if ((v = json_object_get(handler, *k)))
			json_object_set(h, *k, v);
	json_object_set_new(out, kind, h);
	v = json_object_get(probe, "timeoutSeconds");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		json_object_set_new(out, "timeoutSeconds",
				    json_integer(json_integer_value(v) > WARD_PROBE_MAX_TIMEOUT_S
						     ? WARD_PROBE_MAX_TIMEOUT_S
						     : json_integer_value(v)));
	return out;
}

/* The probe as the kubelet will now send it: the same timing, to the
 * admin port. */
static json_t *rewritten(json_t *probe, const char *path)
{
	json_t *out =
	    json_pack("{s:{s:s,s:i}}", "httpGet", "path", path, "port", WARD_INJECT_ADMIN_PORT);
	const char *key;
	json_t *v;

	json_object_foreach(probe, key, v)
	{
		if (strcmp(key, "httpGet") && strcmp(key, "tcpSocket") && strcmp(key, "grpc"))
			json_object_set(out, key, v);
	}
	return out;
}

struct probe_ctx {
	const struct ward_inject_opts *s;
	json_t *env;	   /* path -> original, for the proxy */
	json_t *originals; /* container -> {field: original probe}, for uninject */
	json_t *warnings;  /* strings */
};

static void warn(struct probe_ctx *x, const char *container, const char *field, long port,
		 const char *why)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "warning: container %s: the kubelet's %s on port %ld is plain text and will be "
		 "refused in strict mode (%s); set ward.io/inbound-mode: permissive or exclude "
		 "the port with ward.io/exclude-inbound-ports",
		 container, field, port, why);
	json_array_append_new(x->warnings, json_string(text));
}

static void take_probe(struct probe_ctx *x, json_t *c, size_t f)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	json_t *probe = json_object_get(c, probe_fields[f].field), *handler, *mine;
	const char *kind = handler_of(probe, &handler), *why;
	long port = kind ? probe_port(c, handler) : 0;
	char path[320];

	if (!kind)
		return;
	if (!port) {
		/* An unresolved name: the kubelet will fail it as well. */
		return;
	}
	if (!captured(x->s, port))
		return;
	if (!x->s->rewrite_probes)
		return warn(x, name, probe_fields[f].field, port,
			    "ward.io/rewrite-probes is false");
	if ((why = not_runnable(handler)))
		return warn(x, name, probe_fields[f].field, port, why);
	snprintf(path, sizeof(path), PROBE_PREFIX "%s/%s", name, probe_fields[f].kind);
	json_object_set_new(x->env, path, original_for_proxy(probe, kind, handler, port));
	if (!(mine = json_object_get(x->originals, name)))
		json_object_set_new(x->originals, name, mine = json_object());
	json_object_set(mine, probe_fields[f].field, probe);
	json_object_set_new(c, probe_fields[f].field, rewritten(probe, path));
}

/* App containers: the regular ones and the app's native sidecars. */
static void each_app_container(struct probe_ctx *x, json_t *spec)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(spec, "containers"), i, c)
	{
		for (size_t f = 0; f < N_PROBE_FIELDS; f++)
			take_probe(x, c, f);
	}
	json_array_foreach(json_object_get(spec, "initContainers"), i, c)
	{
		if (!is_string(json_object_get(c, "restartPolicy"), "Always"))
			continue;
		for (size_t f = 0; f < N_PROBE_FIELDS; f++)
			take_probe(x, c, f);
	}
}

int ward_inject_probes_rewrite(json_t *spec, const struct ward_inject_opts *s, json_t *proxy,
			       json_t *originals, json_t *warnings)
{
	struct probe_ctx x = {
	    .s = s, .env = json_object(), .originals = originals, .warnings = warnings};
	char *text;

	ENSURE(x.env, WARD_ERR_NOMEM, "out of memory");
	each_app_container(&x, spec);
	if (json_object_size(x.env)) {
		text = json_dumps(x.env, JSON_COMPACT | JSON_SORT_KEYS);
		if (text)
			json_array_append_new(
			    json_object_get(proxy, "env"),
			    json_pack("{s:s,s:s}", "name", PROBES_ENV, "value", text));
		free(text);
		ENSURE(text, WARD_ERR_NOMEM, "out of memory");
	}
	json_decref(x.env);
	return 0;
}

static bool is_probe_field(const char *field)
{
	for (size_t f = 0; f < N_PROBE_FIELDS; f++)
		if (!strcmp(field, probe_fields[f].field))
			return true;
	return false;
}

static json_t *container_named(json_t *spec, const char *name)
{
	static const char *const lists[] = {"containers", "initContainers"};
	json_t *c;
	size_t i;

	for (size_t l = 0; l < 2; l++) {
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			if (is_string(json_object_get(c, "name"), name))
				return c;
		}
	}
	return NULL;
}

int ward_inject_probes_restore(json_t *spec, json_t *originals, const char *where)
{
	const char *name, *field;
	json_t *fields, *probe;

	ENSURE(json_is_object(originals), WARD_ERR_INVALID,
	       "%smetadata.annotations[\"" WARD_INJECT_STATUS "\"]: probes must be a mapping",
	       where);
	json_object_foreach(originals, name, fields)
	{
		json_t *found = container_named(spec, name);

		ENSURE(found && json_is_object(fields), WARD_ERR_INVALID,
		       "%smetadata.annotations[\"" WARD_INJECT_STATUS
		       "\"]: probes of container '%s', which the pod does not have",
		       where, name);
		json_object_foreach(fields, field, probe)
		{
			ENSURE(is_probe_field(field) && json_is_object(probe), WARD_ERR_INVALID,
			       "%smetadata.annotations[\"" WARD_INJECT_STATUS
			       "\"]: '%s' of container '%s' is not a probe ward replaced",
			       where, field, name);
			json_object_set(found, field, probe);
		}
	}
	return 0;
}
