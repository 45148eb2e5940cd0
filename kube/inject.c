/* Injecting and uninjecting one pod template ({metadata, spec}). Inject
 * records in ward.io/status every name it added and every field it had to
 * create; uninject removes exactly those, so inject then uninject gives the
 * original back. */
#include "kube/inject_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cli.h"

#define DEFAULT_CONTAINER "kubectl.kubernetes.io/default-container"

struct pod {
	json_t *tmpl, *spec, *meta, *annotations, *labels; /* borrowed */
	const char *where;				   /* field prefix */
	const char *name;				   /* for notes */
	json_t *notes;
};

static void note(struct pod *p, const char *fmt, ...) WARD_PRINTF(2, 3);
static void note(struct pod *p, const char *fmt, ...)
{
	char text[512];
	int n = snprintf(text, sizeof(text), "%s: ", p->name);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	json_array_append_new(p->notes, json_string(text));
}

/* A list of named objects (containers, volumes), absent or an array. */
static int check_named_list(struct pod *p, const char *field, bool required)
{
	json_t *list = json_object_get(p->spec, field), *item;
	size_t i;

	if (!list && !required)
		return 0;
	ENSURE(json_is_array(list) && (!required || json_array_size(list) > 0), WARD_ERR_INVALID,
	       "%sspec.%s: %s", p->where, field,
	       required ? "a pod needs at least one container" : "must be a list");
	json_array_foreach(list, i, item)
	{
		json_t *name = json_object_get(item, "name");

		ENSURE(json_is_string(name) && json_string_length(name) > 0, WARD_ERR_INVALID,
		       "%sspec.%s[%zu].name: required", p->where, field, i);
	}
	return 0;
}

static int check_object_or_absent(json_t *v, const char *where, const char *field)
{
	ENSURE(!v || json_is_object(v), WARD_ERR_INVALID, "%s%s: must be a mapping", where, field);
	return 0;
}

static int open_pod(struct pod *p)
{
	p->spec = json_object_get(p->tmpl, "spec");
	ENSURE(json_is_object(p->spec), WARD_ERR_INVALID, "%sspec: required (a pod spec)",
	       p->where);
	GUARD(check_named_list(p, "containers", true));
	GUARD(check_named_list(p, "initContainers", false));
	GUARD(check_named_list(p, "volumes", false));
	p->meta = json_object_get(p->tmpl, "metadata");
	GUARD(check_object_or_absent(p->meta, p->where, "metadata"));
	p->annotations = json_object_get(p->meta, "annotations");
	p->labels = json_object_get(p->meta, "labels");
	GUARD(check_object_or_absent(p->annotations, p->where, "metadata.annotations"));
	return check_object_or_absent(p->labels, p->where, "metadata.labels");
}

static json_t *find_named(json_t *list, const char *name)
{
	json_t *item;
	size_t i;

	json_array_foreach(
	    list, i,
	    item) if (!strcmp(json_string_value(json_object_get(item, "name")), name)) return item;
	return NULL;
}

/* A pod that another mesh's proxy already sits in would get two sets of
 * capture rules fighting over every connection. */
static const char *other_mesh(struct pod *p)
{
	static const char *const proxies[] = {"istio-proxy", "linkerd-proxy", NULL};

	for (const char *const *n = proxies; *n; n++)
		if (find_named(json_object_get(p->spec, "containers"), *n) ||
		    find_named(json_object_get(p->spec, "initContainers"), *n))
			return *n;
	return NULL;
}

/* Why this pod is left alone, or NULL to inject it. */
static int skip_reason(struct pod *p, const char **why)
{
	int flag;

	*why = NULL;
	if (json_object_get(p->annotations, WARD_INJECT_STATUS)) {
		*why = "already injected (" WARD_INJECT_STATUS " is set)";
		return 0;
	}
	GUARD(ward_inject_flag(json_object_get(p->annotations, "ward.io/inject"),
			       "metadata.annotations[\"ward.io/inject\"]", &flag));
	if (flag < 0)
		GUARD(ward_inject_flag(json_object_get(p->labels, "ward.io/inject"),
				       "metadata.labels[\"ward.io/inject\"]", &flag));
	if (flag == 0)
		*why = "ward.io/inject is false";
	else if (json_is_true(json_object_get(p->spec, "hostNetwork")))
		*why = "hostNetwork pod: its traffic is the node's, not the pod's";
	else if (other_mesh(p))
		*why = other_mesh(p)[0] == 'i' ? "already has the istio-proxy sidecar"
					       : "already has the linkerd-proxy sidecar";
	return 0;
}

/* Gets spec[field] (or metadata[field]), creating an empty one and noting
 * its path in created when it is absent. */
static json_t *get_or_create(json_t *parent, const char *field, bool array, json_t *created,
			     const char *path)
{
	json_t *v = json_object_get(parent, field);

	if (v)
		return v;
	v = array ? json_array() : json_object();
	json_object_set_new(parent, field, v);
	json_array_append_new(created, json_string(path));
	return v;
}

static int check_free_name(json_t *list, json_t *added, const char *where, const char *field)
{
	json_t *item;
	size_t i;

	json_array_foreach(added, i, item)
	{
		const char *name = json_string_value(json_object_get(item, "name"));

		ENSURE(!find_named(list, name), WARD_ERR_INVALID,
		       "%sspec.%s: the name '%s' is ward's and already used", where, field, name);
	}
	return 0;
}

static json_t *names_of(json_t *items)
{
	json_t *names = json_array(), *item;
	size_t i;

	json_array_foreach(items, i, item) json_array_append(names, json_object_get(item, "name"));
	return names;
}

/* Inserts items at the front of list (ours run first: capture rules before
 * anything else starts, the proxy before the app). */
static void prepend(json_t *list, json_t *items)
{
	for (size_t i = json_array_size(items); i-- > 0;)
		json_array_insert(list, 0, json_array_get(items, i));
}

static void set_status(struct pod *p, json_t *init, json_t *containers, json_t *volumes,
		       json_t *annotations, json_t *created, json_t *probes)
{
	json_t *status =
	    json_pack("{s:s,s:o,s:o,s:o,s:O,s:O}", "version", WARD_VERSION, "initContainers",
		      names_of(init), "containers", names_of(containers), "volumes",
		      names_of(volumes), "annotations", annotations, "created", created);
	char *text;

	if (json_object_size(probes))
		json_object_set(status, "probes", probes);
	text = json_dumps(status, JSON_COMPACT);

	json_object_set_new(p->annotations, WARD_INJECT_STATUS, json_string(text));
	free(text);
	json_decref(status);
}

/* The app's probes on captured ports go to the proxy (kube/probes.c); the
 * ones left in plain text get a warning. */
static int take_probes(struct pod *p, const struct ward_inject_opts *s, json_t *proxy,
		       json_t *originals)
{
	json_t *warnings = json_array(), *w;
	size_t i;
	int rc;

	ENSURE(warnings, WARD_ERR_NOMEM, "out of memory");
	rc = ward_inject_probes_rewrite(p->spec, s, proxy, originals, warnings);
	json_array_foreach(warnings, i, w) note(p, "%s", json_string_value(w));
	json_decref(warnings);
	return rc;
}

/* An app container that runs as the proxy's uid is exempt from capture by
 * the same rule that keeps the proxy's own traffic out: its connections
 * would leave the pod in plain text. */
static void warn_uid_clash(struct pod *p, const struct ward_inject_opts *s)
{
	json_t *pod_uid = json_object_get(json_object_get(p->spec, "securityContext"), "runAsUser");
	json_t *c, *uid;
	size_t i;

	json_array_foreach(json_object_get(p->spec, "containers"), i, c)
	{
		uid = json_object_get(json_object_get(c, "securityContext"), "runAsUser");
		if (!uid)
			uid = pod_uid;
		if (json_is_integer(uid) && json_integer_value(uid) == (json_int_t)s->proxy_uid)
			note(
			    p,
			    "warning: container %s runs as uid %u, the proxy's: its traffic is not "
			    "captured; give the proxy another uid with ward.io/proxy-uid",
			    json_string_value(json_object_get(c, "name")), s->proxy_uid);
	}
}

static int inject(struct pod *p, const struct ward_inject_opts *o)
{
	struct ward_inject_opts s;
	json_t *init, *app, *vols, *created, *added_ann, *initc, *ctrs, *vlist, *probes, *proxy;
	const char *why;
	int rc = 0;

	GUARD(skip_reason(p, &why));
	if (why) {
		note(p, "skipped: %s", why);
		return WARD_INJECT_UNCHANGED;
	}
	GUARD(ward_inject_pod_settings(o, p->annotations, p->where, &s));
	init = json_pack("[o]", ward_inject_init_container(&s));
	app = json_array();
	json_array_append_new(s.legacy_sidecar ? app : init, ward_inject_proxy_container(&s));
	vols = ward_inject_volumes(&s);
	probes = json_object();
	if (check_free_name(json_object_get(p->spec, "initContainers"), init, p->where,
			    "initContainers") < 0 ||
	    check_free_name(json_object_get(p->spec, "containers"), app, p->where, "containers") <
		0 ||
	    check_free_name(json_object_get(p->spec, "volumes"), vols, p->where, "volumes") < 0) {
		rc = WARD_ERR_INVALID;
		goto out;
	}
	created = json_array();
	added_ann = json_array();
	if (!p->meta)
		p->meta = get_or_create(p->tmpl, "metadata", false, created, "metadata");
	if (!p->annotations)
		p->annotations =
		    get_or_create(p->meta, "annotations", false, created, "metadata.annotations");
	initc = get_or_create(p->spec, "initContainers", true, created, "spec.initContainers");
	ctrs = json_object_get(p->spec, "containers");
	vlist = get_or_create(p->spec, "volumes", true, created, "spec.volumes");
	/* With the proxy first among the containers, kubectl logs/exec would
	 * pick it; keep the app the default, as Istio does. */
	if (s.legacy_sidecar && !json_object_get(p->annotations, DEFAULT_CONTAINER)) {
		json_object_set(p->annotations, DEFAULT_CONTAINER,
				json_object_get(json_array_get(ctrs, 0), "name"));
		json_array_append_new(added_ann, json_string(DEFAULT_CONTAINER));
	}
	warn_uid_clash(p, &s);
	/* The proxy: the first regular container, or the second init one. */
	proxy = s.legacy_sidecar ? json_array_get(app, 0) : json_array_get(init, 1);
	rc = take_probes(p, &s, proxy, probes);
	if (rc == 0) {
		prepend(initc, init);
		prepend(ctrs, app);
		json_array_extend(vlist, vols);
		set_status(p, init, app, vols, added_ann, created, probes);
	}
	json_decref(created);
	json_decref(added_ann);
out:
	json_decref(init);
	json_decref(app);
	json_decref(vols);
	json_decref(probes);
	return rc;
}

/* --- uninject --- */

static void remove_named(json_t *list, json_t *names)
{
	json_t *n;
	size_t i;

	json_array_foreach(names, i, n)
	{
		json_t *item;
		size_t k;

		json_array_foreach(list, k, item) if (json_equal(json_object_get(item, "name"), n))
		{
			json_array_remove(list, k);
			break;
		}
	}
}

static bool is_string_list(json_t *v)
{
	json_t *s;
	size_t i;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, s) if (!json_is_string(s)) return false;
	return true;
}

static int parse_status(struct pod *p, json_t **out)
{
	static const char *const keys[] = {"initContainers", "containers", "volumes",
					   "annotations",    "created",	   NULL};
	const char *text = json_string_value(json_object_get(p->annotations, WARD_INJECT_STATUS));
	json_t *status = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
	bool ok = json_is_object(status);

	for (const char *const *k = keys; ok && *k; k++)
		ok = is_string_list(json_object_get(status, *k));
	if (!ok) {
		json_decref(status);
		return ward_err_set(WARD_ERR_INVALID,
				    "%smetadata.annotations[\"" WARD_INJECT_STATUS
				    "\"]: not the record ward inject writes",
				    p->where);
	}
	*out = status;
	return 0;
}

/* Drops a field inject created, if nothing but ward ever put anything in it. */
static void drop_if_created_and_empty(struct pod *p, json_t *created, const char *path)
{
	const char *dot = strchr(path, '.');
	json_t *parent = p->tmpl, *v, *c;
	size_t i;

	json_array_foreach(created, i, c) if (!strcmp(json_string_value(c), path)) break;
	if (i == json_array_size(created))
		return;
	if (dot)
		parent = json_object_get(p->tmpl, !strncmp(path, "spec.", 5) ? "spec" : "metadata");
	v = json_object_get(parent, dot ? dot + 1 : path);
	if ((json_is_array(v) && !json_array_size(v)) ||
	    (json_is_object(v) && !json_object_size(v)))
		json_object_del(parent, dot ? dot + 1 : path);
}

static int uninject(struct pod *p)
{
	static const char *const created_fields[] = {"spec.initContainers", "spec.volumes",
						     "metadata.annotations", "metadata", NULL};
	json_t *status = NULL, *n, *created;
	size_t i;

	if (!json_object_get(p->annotations, WARD_INJECT_STATUS)) {
		note(p, "not injected, left alone");
		return WARD_INJECT_UNCHANGED;
	}
	GUARD(parse_status(p, &status));
	remove_named(json_object_get(p->spec, "initContainers"),
		     json_object_get(status, "initContainers"));
	remove_named(json_object_get(p->spec, "containers"), json_object_get(status, "containers"));
	remove_named(json_object_get(p->spec, "volumes"), json_object_get(status, "volumes"));
	json_array_foreach(json_object_get(status, "annotations"), i, n)
	    json_object_del(p->annotations, json_string_value(n));
	if (json_object_get(status, "probes") &&
	    ward_inject_probes_restore(p->spec, json_object_get(status, "probes"), p->where) < 0) {
		json_decref(status);
		return WARD_ERR_INVALID;
	}
	json_object_del(p->annotations, WARD_INJECT_STATUS);
	created = json_object_get(status, "created");
	for (const char *const *f = created_fields; *f; f++)
		drop_if_created_and_empty(p, created, *f);
	json_decref(status);
	return WARD_INJECT_CHANGED;
}

int ward_inject_template(const struct ward_inject_opts *o, enum ward_inject_action act,
			 json_t *tmpl, const char *where, const char *name, json_t *notes)
{
	struct pod p = {.tmpl = tmpl, .where = where, .name = name, .notes = notes};

	ENSURE(json_is_object(tmpl), WARD_ERR_INVALID, "the pod template must be a mapping");
	GUARD(open_pod(&p));
	return act == WARD_INJECT ? inject(&p, o) : uninject(&p);
}
