/* Finding the pod templates of Kubernetes objects: which kinds carry one,
 * under which field, at which apiVersions; Lists are walked item by item. */
#include "kube/inject.h"

#include <stdio.h>
#include <string.h>

#define MAX_LIST_DEPTH 4

struct workload {
	const char *kind;
	const char *api[3];  /* apiVersions that carry the template there */
	const char *path[5]; /* fields down to the template; none: the object */
};

static const struct workload workloads[] = {
    {"Pod", {"v1"}, {NULL}},
    {"Deployment", {"apps/v1"}, {"spec", "template"}},
    {"StatefulSet", {"apps/v1"}, {"spec", "template"}},
    {"DaemonSet", {"apps/v1"}, {"spec", "template"}},
    {"ReplicaSet", {"apps/v1"}, {"spec", "template"}},
    {"ReplicationController", {"v1"}, {"spec", "template"}},
    {"Job", {"batch/v1"}, {"spec", "template"}},
    {"CronJob", {"batch/v1", "batch/v1beta1"}, {"spec", "jobTemplate", "spec", "template"}},
};

static const struct workload *find_workload(const char *kind)
{
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (!strcmp(workloads[i].kind, kind))
			return &workloads[i];
	return NULL;
}

/* "document 2 (Deployment shop/web)": how errors and notes name an object. */
static void label_of(json_t *obj, const char *kind, const char *base, char *out, size_t len)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	if (!name)
		name = json_string_value(json_object_get(meta, "generateName"));
	snprintf(out, len, "%s (%s %s%s%s)", base, kind, ns ? ns : "", ns ? "/" : "",
		 name ? name : "unnamed");
}

static bool is_list(const char *kind, json_t *obj)
{
	size_t n = strlen(kind);

	return n >= 4 && !strcmp(kind + n - 4, "List") && json_object_get(obj, "items");
}

static int process(const struct ward_inject_opts *o, enum ward_inject_action act, json_t *obj,
		   const char *base, json_t *notes, int depth);

static int process_list(const struct ward_inject_opts *o, enum ward_inject_action act, json_t *obj,
			const char *base, json_t *notes, int depth)
{
	json_t *items = json_object_get(obj, "items"), *item;
	int result = WARD_INJECT_UNCHANGED;
	char label[256];
	size_t i;

	ENSURE(json_is_array(items), WARD_ERR_INVALID, "%s: items: must be a list", base);
	ENSURE(depth < MAX_LIST_DEPTH, WARD_ERR_INVALID, "%s: Lists nested too deeply", base);
	json_array_foreach(items, i, item)
	{
		int rc;

		snprintf(label, sizeof(label), "%s items[%zu]", base, i);
		rc = process(o, act, item, label, notes, depth + 1);
		if (rc < 0)
			return rc;
		if (rc == WARD_INJECT_CHANGED)
			result = WARD_INJECT_CHANGED;
	}
	return result;
}

static bool api_known(const struct workload *w, const char *api)
{
	for (size_t i = 0; i < 3 && w->api[i]; i++)
		if (!strcmp(w->api[i], api))
			return true;
	return false;
}

static int process(const struct ward_inject_opts *o, enum ward_inject_action act, json_t *obj,
		   const char *base, json_t *notes, int depth)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	const struct workload *w;
	char label[320], where[64] = "";
	json_t *tmpl = obj;
	int rc;

	ENSURE(json_is_object(obj), WARD_ERR_INVALID, "%s: not a Kubernetes object (a mapping)",
	       base);
	ENSURE(kind && *kind, WARD_ERR_INVALID, "%s: kind: required", base);
	ENSURE(api && *api, WARD_ERR_INVALID, "%s: apiVersion: required", base);
	if (is_list(kind, obj))
		return process_list(o, act, obj, base, notes, depth);
	if (!(w = find_workload(kind)))
		return WARD_INJECT_UNCHANGED;
	label_of(obj, kind, base, label, sizeof(label));
	ENSURE(api_known(w, api), WARD_ERR_INVALID,
	       "%s: apiVersion: unknown apiVersion '%s' for %s", label, api, kind);
	for (size_t i = 0; i < 5 && w->path[i]; i++) {
		size_t n = strlen(where);

		snprintf(where + n, sizeof(where) - n, "%s.", w->path[i]);
		tmpl = json_object_get(tmpl, w->path[i]);
		ENSURE(json_is_object(tmpl), WARD_ERR_INVALID, "%s: %.*s: required (a mapping)",
		       label, (int)strlen(where) - 1, where);
	}
	rc = ward_inject_template(o, act, tmpl, where, label, notes);
	return rc < 0 ? ward_err_prefix(rc, "%s", label) : rc;
}

int ward_inject_doc(const struct ward_inject_opts *o, enum ward_inject_action act, json_t *doc,
		    unsigned docno, json_t *notes)
{
	char base[32];

	snprintf(base, sizeof(base), "document %u", docno);
	return process(o, act, doc, base, notes, 0);
}
