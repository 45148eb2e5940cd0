/* Kubernetes manifest streams: what `ward inject` reads and writes.
 *
 * A stream is YAML (one or more documents) or JSON (one or more objects one
 * after the other, as `kubectl get -o json` and `kubectl apply -f` accept).
 * Either way it becomes a JSON array of documents, and goes back out in the
 * format it came in. JSON is told apart by its first non-blank byte being
 * '{'; everything else is read as YAML. */
#ifndef WARD_KUBE_MANIFEST_H
#define WARD_KUBE_MANIFEST_H

#include <jansson.h>
#include <stdio.h>

#include "lib/buf.h"
#include "lib/err.h"

/* Bounds what ward reads from a file or stdin, and what it writes. */
#define WARD_MANIFEST_MAX_BYTES (64u << 20)

enum ward_manifest_format { WARD_MANIFEST_YAML, WARD_MANIFEST_JSON };

struct ward_manifest {
	enum ward_manifest_format format;
	json_t *docs; /* owned: array of documents, in stream order */
};

/* Parses data into m. On error m is untouched and the reason names the
 * document and the line/column. */
WARD_MUST_CHECK int ward_manifest_parse(const char *data, size_t len, struct ward_manifest *m);
/* Reads a whole file ("-" = stdin) into a NUL-terminated malloc'd block. */
WARD_MUST_CHECK int ward_manifest_slurp(const char *path, char **data, size_t *len);
/* Appends the documents to out in m->format. */
WARD_MUST_CHECK int ward_manifest_render(const struct ward_manifest *m, struct ward_buf *out);
/* Writes bytes to path ("-" = stdout) all at once: a file is written next to
 * its target and renamed over it, so nobody sees half of it. */
WARD_MUST_CHECK int ward_manifest_write_out(const char *path, const void *bytes, size_t len);
void ward_manifest_free(struct ward_manifest *m);

#endif
