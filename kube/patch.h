/* JSON Patch (RFC 6902) as the difference between two documents: what the
 * admission webhook returns so that the API server's copy of a pod becomes
 * exactly what `ward inject` makes of it. Paths are JSON Pointers (RFC 6901,
 * "~" as "~0" and "/" as "~1"). Inserted list items become "add" at their
 * index, so the patch reads like what happened ("add /spec/initContainers/0"). */
#ifndef WARD_KUBE_PATCH_H
#define WARD_KUBE_PATCH_H

#include <jansson.h>

#include "lib/err.h"

/* Appends to ops (an array) the operations that turn from into to, applied
 * in order. */
WARD_MUST_CHECK int ward_patch_diff(json_t *from, json_t *to, json_t *ops);

/* Appends token to a JSON Pointer, escaped; returns a malloc'd string. */
char *ward_patch_pointer(const char *parent, const char *token);

#endif
