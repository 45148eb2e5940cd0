/* Shared between the files of the injector; not a public contract. */
#ifndef WARD_KUBE_INJECT_IMPL_H
#define WARD_KUBE_INJECT_IMPL_H

#include "kube/inject.h"

/* The settings of one pod: a shallow copy of the injector's options whose
 * string fields may point into the pod's annotations (borrowed; never freed).
 * Validates every ward.io/ annotation; an error names it. */
WARD_MUST_CHECK int ward_inject_pod_settings(const struct ward_inject_opts *o, json_t *annotations,
					     const char *where, struct ward_inject_opts *pod);

/* "true"/"enabled" → 1, "false"/"disabled" → 0, absent → -1; anything else
 * is an error naming field. */
WARD_MUST_CHECK int ward_inject_flag(json_t *value, const char *field, int *out);

/* The sidecar containers and volumes for settings s (new references). */
json_t *ward_inject_init_container(const struct ward_inject_opts *s);
json_t *ward_inject_proxy_container(const struct ward_inject_opts *s);
json_t *ward_inject_volumes(const struct ward_inject_opts *s);

/* Points the app containers' httpGet, tcpSocket and grpc probes on captured
 * ports at the proxy's admin port and adds WARD_APP_PROBES to proxy's env
 * (kube/probes.c). The replaced probes go into originals ({container:
 * {field: probe}}); probes left in plain text on a captured port get a
 * warning in warnings (strings). */
WARD_MUST_CHECK int ward_inject_probes_rewrite(json_t *spec, const struct ward_inject_opts *s,
					       json_t *proxy, json_t *originals, json_t *warnings);
/* Puts originals back (uninject); where prefixes field names in errors. */
WARD_MUST_CHECK int ward_inject_probes_restore(json_t *spec, json_t *originals, const char *where);

#endif
