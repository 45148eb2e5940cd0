/* WARD_APP_PROBES: the original probes `ward inject` hands to the proxy,
 * checked and turned into what libcurl fetches; see app_probe.h. */
#include "agent/app_probe_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/probe.h"
#include "lib/json.h"
#include "spiffe/grpc.h"
#include "spiffe/proto.h"

#define PATH_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-._/"
#define PATH_MAX_LEN 256
#define HEADER_LINE_MAX (WARD_PROBE_HEADER_NAME_MAX + WARD_PROBE_HEADER_VALUE_MAX + 4)

/* What one probe's JSON said, before it becomes a spec. */
struct fields {
	enum ward_app_probe_kind kind;
	int handlers; /* httpGet, tcpSocket, grpc: exactly one */
	long long port, timeout_s;
	const char *http_path, *scheme, *service;
	const json_t *headers;
};

static int string_value(const json_t *v, const char *path, size_t max, const char **out)
{
	char got[64];

	ENSURE(json_is_string(v), WARD_ERR_INVALID, "%s: must be a string (got %s)", path,
	       ward_json_describe(v, got, sizeof(got)));
	ENSURE(json_string_length(v) <= max, WARD_ERR_INVALID, "%s: longer than %zu bytes", path,
	       max);
	*out = json_string_value(v);
	return 0;
}

static int not_supported_host(const char *path)
{
	return ward_err_set(WARD_ERR_INVALID,
			    "%s: not supported (ward probes the app on loopback; ward inject "
			    "leaves probes with a host alone)",
			    path);
}

static int handler_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	struct fields *f = ctx;

	if (!strcmp(key, "port"))
		return ward_json_int(v, path, 1, 65535, &f->port);
	if (!strcmp(key, "host"))
		return not_supported_host(path);
	if (f->kind == WARD_APP_PROBE_HTTP && !strcmp(key, "path")) {
		GUARD(string_value(v, path, WARD_PROBE_PATH_MAX, &f->http_path));
		ENSURE(ward_probe_path_ok(f->http_path), WARD_ERR_INVALID,
		       "%s: must start with '/' and hold no spaces or control characters", path);
		return 0;
	}
	if (f->kind == WARD_APP_PROBE_HTTP && !strcmp(key, "scheme")) {
		GUARD(string_value(v, path, 8, &f->scheme));
		ENSURE(!strcmp(f->scheme, "HTTP") || !strcmp(f->scheme, "HTTPS"), WARD_ERR_INVALID,
		       "%s: must be HTTP or HTTPS", path);
		return 0;
	}
	if (f->kind == WARD_APP_PROBE_HTTP && !strcmp(key, "httpHeaders")) {
		size_t n;

		GUARD(ward_json_array(v, path, WARD_PROBE_MAX_HEADERS, &n));
		f->headers = v;
		return 0;
	}
	if (f->kind == WARD_APP_PROBE_GRPC && !strcmp(key, "service"))
		return string_value(v, path, WARD_PROBE_SERVICE_MAX, &f->service);
	return ward_json_unknown(path);
}

static int probe_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	static const char *const handlers[] = {"httpGet", "tcpSocket", "grpc"};
	struct fields *f = ctx;

	if (!strcmp(key, "timeoutSeconds"))
		return ward_json_int(v, path, 1, WARD_PROBE_MAX_TIMEOUT_S, &f->timeout_s);
	for (int k = 0; k < 3; k++) {
		if (strcmp(key, handlers[k]))
			continue;
		f->kind = (enum ward_app_probe_kind)k;
		f->handlers++;
		return ward_json_members(v, path, handler_member, f);
	}
	return ward_json_unknown(path);
}

/* "Name: value" lines for curl; names are HTTP tokens, values one line. */
static int add_headers(struct ward_app_probe_spec *s, const json_t *list, const char *path)
{
	char where[WARD_JSON_PATH_MAX], line[HEADER_LINE_MAX];
	const json_t *h;
	size_t i;

	json_array_foreach(list, i, h)
	{
		const char *name, *value;
		struct curl_slist *next;
		const json_t *jn, *jv;

		ward_json_index_path(where, sizeof(where), path, i);
		GUARD(ward_json_object(h, where));
		jn = json_object_get(h, "name");
		jv = json_object_get(h, "value");
		ENSURE(jn && jv && json_object_size(h) == 2, WARD_ERR_INVALID,
		       "%s: needs name and value, and nothing else", where);
		GUARD(string_value(jn, where, WARD_PROBE_HEADER_NAME_MAX, &name));
		GUARD(string_value(jv, where, WARD_PROBE_HEADER_VALUE_MAX, &value));
		ENSURE(ward_probe_header_name_ok(name), WARD_ERR_INVALID,
		       "%s.name: not an HTTP header name", where);
		ENSURE(ward_probe_header_value_ok(value), WARD_ERR_INVALID,
		       "%s.value: control characters are not allowed", where);
		/* "Name:" alone makes curl drop a header; "Name;" sends it empty. */
		snprintf(line, sizeof(line), "%s%s %s", name, *value ? ":" : ";", value);
		next = curl_slist_append(s->headers, line);
		ENSURE(next, WARD_ERR_NOMEM, "%s: out of memory", where);
		s->headers = next;
	}
	return 0;
}

/* HealthCheckRequest{service} in a gRPC frame (grpc/health/v1/health.proto). */
static int grpc_request(struct ward_app_probe_spec *s, const char *service)
{
	struct ward_buf msg, frame;
	int rc = 0;

	ward_buf_init(&msg, WARD_PROBE_SERVICE_MAX + 16);
	ward_buf_init(&frame, WARD_PROBE_SERVICE_MAX + 32);
	if (*service)
		rc = ward_proto_write_bytes(&msg, 1, (const uint8_t *)service, strlen(service));
	if (rc == 0)
		rc = ward_grpc_frame_append(&frame, ward_buf_peek(&msg), ward_buf_len(&msg));
	if (rc == 0) {
		s->grpc_req_len = ward_buf_len(&frame);
		s->grpc_req = malloc(s->grpc_req_len);
		if (s->grpc_req)
			memcpy(s->grpc_req, ward_buf_peek(&frame), s->grpc_req_len);
		else
			rc = ward_err_set(WARD_ERR_NOMEM, "gRPC probe request");
	}
	ward_buf_free(&msg);
	ward_buf_free(&frame);
	return rc;
}

static int build_spec(struct ward_app_probe_spec *s, const struct fields *f, const char *path)
{
	const char *scheme = f->scheme && !strcmp(f->scheme, "HTTPS") ? "https" : "http";
	int n;

	s->kind = f->kind;
	s->port = (unsigned)f->port;
	s->timeout_ms = (long)(f->timeout_s ? f->timeout_s : 1) * 1000;
	if (f->kind == WARD_APP_PROBE_HTTP)
		n = asprintf(&s->url, "%s://127.0.0.1:%u%s", scheme, s->port,
			     f->http_path ? f->http_path : "/");
	else if (f->kind == WARD_APP_PROBE_GRPC)
		n = asprintf(&s->url, "http://127.0.0.1:%u/grpc.health.v1.Health/Check", s->port);
	else
		n = asprintf(&s->url, "http://127.0.0.1:%u/", s->port);
	if (n < 0) {
		s->url = NULL;
		return ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", path);
	}
	if (f->headers)
		GUARD(add_headers(s, f->headers, path));
	return f->kind == WARD_APP_PROBE_GRPC ? grpc_request(s, f->service ? f->service : "") : 0;
}

static int check_path(const char *key, const char *path)
{
	size_t n = strlen(key), pre = strlen(WARD_APP_PROBE_PREFIX);

	ENSURE(n > pre && n <= PATH_MAX_LEN && !strncmp(key, WARD_APP_PROBE_PREFIX, pre) &&
		   strspn(key, PATH_CHARS) == n && !strstr(key, ".."),
	       WARD_ERR_INVALID,
	       "%s: a probe's key must be a path under " WARD_APP_PROBE_PREFIX
	       " (lowercase letters, digits, '-', '.', '_', '/'; at most %d bytes)",
	       path, PATH_MAX_LEN);
	return 0;
}

static int top_member(void *ctx, const char *key, const json_t *v, const char *path)
{
	struct ward_app_probes *p = ctx;
	struct ward_app_probe_spec *s;
	struct fields f = {0};

	GUARD(check_path(key, path));
	ENSURE(p->n < WARD_APP_PROBE_MAX, WARD_ERR_RANGE, "more than %d probes",
	       WARD_APP_PROBE_MAX);
	GUARD(ward_json_members(v, path, probe_member, &f));
	ENSURE(f.handlers == 1, WARD_ERR_INVALID,
	       "%s: needs exactly one of httpGet, tcpSocket, grpc", path);
	ENSURE(f.port, WARD_ERR_INVALID, "%s: the port is required", path);
	s = &p->specs[p->n++];
	s->path = strdup(key);
	ENSURE(s->path, WARD_ERR_NOMEM, "%s: out of memory", path);
	return build_spec(s, &f, path);
}

static void spec_free(struct ward_app_probe_spec *s)
{
	free(s->path);
	free(s->url);
	free(s->grpc_req);
	curl_slist_free_all(s->headers);
}

void ward_app_probes_specs_free(struct ward_app_probes *p)
{
	for (unsigned i = 0; i < p->n; i++)
		spec_free(&p->specs[i]);
	p->n = 0;
}

int ward_app_probes_parse(const char *text, struct ward_app_probes **out)
{
	struct ward_app_probes *p;
	json_error_t err;
	json_t *v;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	ENSURE(p, WARD_ERR_NOMEM, WARD_APP_PROBES_ENV ": out of memory");
	if (!text || !*text) {
		*out = p;
		return 0;
	}
	v = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	rc = v ? ward_json_members(v, WARD_APP_PROBES_ENV, top_member, p)
	       : ward_err_set(WARD_ERR_INVALID, WARD_APP_PROBES_ENV ": column %d: %s", err.column,
			      err.text);
	json_decref(v);
	if (rc < 0) {
		ward_app_probes_specs_free(p);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

unsigned ward_app_probes_count(const struct ward_app_probes *p)
{
	return p ? p->n : 0;
}

const struct ward_app_probe_spec *ward_app_probes_find(const struct ward_app_probes *p,
						       const char *path, size_t len)
{
	for (unsigned i = 0; p && i < p->n; i++)
		if (strlen(p->specs[i].path) == len && !memcmp(p->specs[i].path, path, len))
			return &p->specs[i];
	return NULL;
}
