/* Sidecar injection: what `ward inject`, `ward uninject` and `ward webhook`
 * do to Kubernetes objects.
 *
 * Injecting a pod template adds
 *   - ward-init: an init container running `ward iptables` with the pod's
 *     capture settings, as root with NET_ADMIN and NET_RAW only;
 *   - ward-proxy: `ward agent`, as a native sidecar (an init container with
 *     restartPolicy Always, Kubernetes 1.29+) or, legacy, as the first
 *     container with a postStart `ward wait` that holds the app until the
 *     proxy is ready; its own non-root uid, read-only root, no capabilities,
 *     probes on the admin port;
 *   - volumes for the Workload API socket (SPIFFE CSI driver or a hostPath)
 *     and the agent config (a ConfigMap);
 *   - the annotation ward.io/status, a JSON record of all of the above, so
 *     that injecting twice changes nothing and uninject removes exactly what
 *     was added and nothing else.
 * Per-pod settings come from ward.io/ annotations (see README, Kubernetes),
 * defaults from struct ward_inject_opts. */
#ifndef WARD_KUBE_INJECT_H
#define WARD_KUBE_INJECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define WARD_INJECT_STATUS "ward.io/status"
#define WARD_INJECT_INIT_NAME "ward-init"
#define WARD_INJECT_PROXY_NAME "ward-proxy"
#define WARD_INJECT_ADMIN_PORT 15020

/* Injector defaults. Strings are owned; NULL port/CIDR lists and agent
 * settings mean "whatever `ward iptables` / the agent config says". */
struct ward_inject_opts {
	char *image;
	char *image_pull_policy;
	char *agent_config_map;
	char *workload_socket_hostpath; /* NULL: the SPIFFE CSI driver */
	char *workload_socket_name;	/* its file name; NULL: by where it comes from */
	bool legacy_sidecar;
	bool rewrite_probes; /* hand the app's probes to the proxy (README) */
	uint32_t proxy_uid;
	json_t *agent_defaults; /* owned: the mesh-wide agent config (--defaults) */
	char *include_inbound_ports, *exclude_inbound_ports;
	char *include_outbound_ports, *exclude_outbound_ports;
	char *include_outbound_cidrs, *exclude_outbound_cidrs;
	char *inbound_mode, *log_level;
	char *mesh_cidrs; /* the cluster's pod CIDRs: the agent's outbound.mesh_cidrs */
	char *proxy_protocol_ports, *preserve_source; /* what the app sees (README) */
	char *cpu_request, *cpu_limit, *memory_request, *memory_limit; /* "" = none */
};

/* The documented defaults (README, Kubernetes). */
WARD_MUST_CHECK int ward_inject_opts_init(struct ward_inject_opts *o);
/* Overrides defaults from a JSON file of the same keys (README); unknown
 * keys and bad values are errors naming the key. */
WARD_MUST_CHECK int ward_inject_opts_load(struct ward_inject_opts *o, const char *path);
WARD_MUST_CHECK int ward_inject_opts_load_json(struct ward_inject_opts *o, json_t *cfg);
/* Replaces one string setting (frees the old one). */
WARD_MUST_CHECK int ward_inject_opts_set(char **field, const char *value);
void ward_inject_opts_free(struct ward_inject_opts *o);

enum ward_inject_action { WARD_INJECT, WARD_UNINJECT };

enum ward_inject_result {
	WARD_INJECT_CHANGED = 0,
	WARD_INJECT_UNCHANGED = 1, /* skipped (a note says why) or nothing to do */
};

/* Injects (or uninjects) every pod template of one document: a Pod, a
 * workload (Deployment, StatefulSet, DaemonSet, ReplicaSet,
 * ReplicationController, Job, CronJob), or a List of them; other objects are
 * left alone. docno (1-based) names the document in errors and notes. Notes
 * ("document 2 (Pod default/web): skipped: hostNetwork pod") are appended to
 * notes as strings. Returns a ward_inject_result or, for bad input, a
 * negative error naming the document and the field; doc may then be half
 * changed, so callers work on a copy or throw it away. */
WARD_MUST_CHECK int ward_inject_doc(const struct ward_inject_opts *o, enum ward_inject_action act,
				    json_t *doc, unsigned docno, json_t *notes);

/* One pod template ({metadata, spec}): what ward_inject_doc does per
 * template. where prefixes field names in errors ("spec.template."). */
WARD_MUST_CHECK int ward_inject_template(const struct ward_inject_opts *o,
					 enum ward_inject_action act, json_t *tmpl,
					 const char *where, const char *name, json_t *notes);

#endif
