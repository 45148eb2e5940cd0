/* YAML streams as jansson trees, typed the way Kubernetes types them.
 *
 * kubectl and the API server read YAML through sigs.k8s.io/yaml, which
 * converts it to JSON with go-yaml's YAML 1.1 resolution: quoted scalars are
 * strings; plain scalars are null (~, null, empty), booleans (true, yes, on,
 * y and their negations), integers (decimal, 0x, 0o, 0b, leading-0 octal,
 * underscores ignored), floats, and strings otherwise. ward reads them the
 * same way so that `ward inject` sees the object the cluster would see, and
 * quotes every string that would be re-typed on the way back out ("true",
 * "8080"), so that its output means what its input meant.
 *
 * libyaml does the parsing and the emitting; this module only maps events to
 * and from json_t. Anchors, aliases and merge keys (<<) are expanded, with a
 * node budget against alias bombs. Duplicate keys are errors: two parsers
 * that pick different values for one key is how policy gets smuggled. */
#ifndef WARD_KUBE_YAML_H
#define WARD_KUBE_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/err.h"

/* Upper bound on the nodes one stream may expand to (aliases included). */
#define WARD_YAML_MAX_NODES 1000000
/* Nesting deeper than this is refused. */
#define WARD_YAML_MAX_DEPTH 256

/* Parses every document of the stream into *docs (a new JSON array; empty
 * documents are dropped). On error *docs is untouched and the reason names
 * the document (1-based), the line and the column. */
WARD_MUST_CHECK int ward_yaml_load(const char *data, size_t len, json_t **docs);

/* Appends docs (an array of documents) to out as one YAML stream, block
 * style, documents separated by "---". */
WARD_MUST_CHECK int ward_yaml_dump(json_t *docs, struct ward_buf *out);

/* The JSON value a plain (unquoted, untagged) scalar stands for; NULL with a
 * reason for those JSON cannot hold (.inf, .nan). Exported for the tests
 * and for the emitter, which quotes strings this would re-type. */
json_t *ward_yaml_resolve_plain(const char *s, size_t len);

/* Shortest decimal text that reads back as exactly v, with a '.' or an
 * exponent so YAML and JSON readers keep it a float. */
void ward_yaml_format_real(double v, char *buf, size_t len);

#endif
