/* JSON Patch by difference (see patch.h). */
#include "kube/patch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

char *ward_patch_pointer(const char *parent, const char *token)
{
	size_t plen = strlen(parent), n = plen + 2;
	char *out, *w;

	for (const char *t = token; *t; t++)
		n += (*t == '~' || *t == '/') ? 2 : 1;
	if (!(out = malloc(n)))
		return NULL;
	memcpy(out, parent, plen);
	w = out + plen;
	*w++ = '/';
	for (const char *t = token; *t; t++) {
		if (*t == '~' || *t == '/') {
			*w++ = '~';
			*w++ = *t == '~' ? '0' : '1';
		} else {
			*w++ = *t;
		}
	}
	*w = '\0';
	return out;
}

static int op(json_t *ops, const char *name, const char *path, json_t *value)
{
	json_t *o = value ? json_pack("{s:s,s:s,s:O}", "op", name, "path", path, "value", value)
			  : json_pack("{s:s,s:s}", "op", name, "path", path);

	if (!o || json_array_append_new(ops, o) < 0)
		return ward_err_set(WARD_ERR_NOMEM, "patch");
	return 0;
}

static int diff(json_t *a, json_t *b, const char *path, json_t *ops, int depth);

static int child(json_t *a, json_t *b, const char *path, const char *token, json_t *ops, int depth)
{
	char *p = ward_patch_pointer(path, token);
	int rc;

	if (!p)
		return ward_err_set(WARD_ERR_NOMEM, "patch path");
	rc = !a	  ? op(ops, "add", p, b)
	     : !b ? op(ops, "remove", p, NULL)
		  : diff(a, b, p, ops, depth);
	free(p);
	return rc;
}

static int diff_objects(json_t *a, json_t *b, const char *path, json_t *ops, int depth)
{
	const char *k;
	json_t *v;

	json_object_foreach(a, k, v) if (!json_object_get(b, k))
	    GUARD(child(v, NULL, path, k, ops, depth));
	json_object_foreach(b, k, v) GUARD(child(json_object_get(a, k), v, path, k, ops, depth));
	return 0;
}

/* True when a's items appear in b in the same order (b only inserted). */
static bool only_inserted(json_t *a, json_t *b)
{
	size_t i = 0, j = 0;

	for (; i < json_array_size(a) && j < json_array_size(b); j++)
		if (json_equal(json_array_get(a, i), json_array_get(b, j)))
			i++;
	return i == json_array_size(a);
}

static int diff_arrays(json_t *a, json_t *b, const char *path, json_t *ops, int depth)
{
	char idx[24];

	if (json_array_size(a) < json_array_size(b) && only_inserted(a, b)) {
		for (size_t i = 0, j = 0; j < json_array_size(b); j++) {
			if (i < json_array_size(a) &&
			    json_equal(json_array_get(a, i), json_array_get(b, j))) {
				i++;
				continue;
			}
			snprintf(idx, sizeof(idx), "%zu", j);
			GUARD(child(NULL, json_array_get(b, j), path, idx, ops, depth));
		}
		return 0;
	}
	if (json_array_size(a) != json_array_size(b))
		return op(ops, "replace", path, b);
	for (size_t i = 0; i < json_array_size(a); i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		GUARD(child(json_array_get(a, i), json_array_get(b, i), path, idx, ops, depth));
	}
	return 0;
}

static int diff(json_t *a, json_t *b, const char *path, json_t *ops, int depth)
{
	if (json_equal(a, b))
		return 0;
	ENSURE(depth < MAX_DEPTH, WARD_ERR_RANGE, "patch: documents nested too deeply");
	if (json_is_object(a) && json_is_object(b))
		return diff_objects(a, b, path, ops, depth + 1);
	if (json_is_array(a) && json_is_array(b))
		return diff_arrays(a, b, path, ops, depth + 1);
	return op(ops, "replace", path, b);
}

int ward_patch_diff(json_t *from, json_t *to, json_t *ops)
{
	return diff(from, to, "", ops, 0);
}
