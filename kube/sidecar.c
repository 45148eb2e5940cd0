/* The containers and volumes ward adds to a pod, built from one pod's
 * settings. The init container and the proxy are the same `ward` image. */
#include "kube/inject_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/capture.h"

#define CONFIG_DIR "/etc/ward"
#define SOCKET_DIR "/spiffe-workload-api"
#define SOCKET_VOLUME "ward-workload-socket"
#define CONFIG_VOLUME "ward-config"
/* Native sidecar: how long the app waits for the proxy's first /ready. */
#define STARTUP_SECONDS 120

/* Appends "--flag value" when the pod sets the value. */
static void add_flag(json_t *argv, const char *flag, const char *value)
{
	if (!value)
		return;
	json_array_append_new(argv, json_string(flag));
	json_array_append_new(argv, json_string(value));
}

static json_t *resources(const struct ward_inject_opts *s)
{
	json_t *req = json_object(), *lim = json_object(), *r = json_object();

	if (*s->cpu_request)
		json_object_set_new(req, "cpu", json_string(s->cpu_request));
	if (*s->memory_request)
		json_object_set_new(req, "memory", json_string(s->memory_request));
	if (*s->cpu_limit)
		json_object_set_new(lim, "cpu", json_string(s->cpu_limit));
	if (*s->memory_limit)
		json_object_set_new(lim, "memory", json_string(s->memory_limit));
	if (json_object_size(req))
		json_object_set(r, "requests", req);
	if (json_object_size(lim))
		json_object_set(r, "limits", lim);
	json_decref(req);
	json_decref(lim);
	return r;
}

/* ward.io/preserve-source: "true" or "enabled" (validated already). */
static bool preserving(const struct ward_inject_opts *s)
{
	return s->preserve_source &&
	       (!strcmp(s->preserve_source, "true") || !strcmp(s->preserve_source, "enabled"));
}

json_t *ward_inject_init_container(const struct ward_inject_opts *s)
{
	char uid[16];
	json_t *argv;

	snprintf(uid, sizeof(uid), "%u", s->proxy_uid);
	argv =
	    json_pack("[s,s,s,s,s,s]", "ward", "iptables", "--proxy-uid", uid, "--proxy-gid", uid);
	add_flag(argv, "--include-inbound-ports", s->include_inbound_ports);
	add_flag(argv, "--exclude-inbound-ports", s->exclude_inbound_ports);
	add_flag(argv, "--include-outbound-ports", s->include_outbound_ports);
	add_flag(argv, "--exclude-outbound-ports", s->exclude_outbound_ports);
	add_flag(argv, "--include-outbound-cidrs", s->include_outbound_cidrs);
	add_flag(argv, "--exclude-outbound-cidrs", s->exclude_outbound_cidrs);
	if (preserving(s))
		json_array_append_new(argv, json_string("--preserve-source"));
	/* Root for iptables-restore, but only the two capabilities it needs.
	 * The root filesystem stays writable for iptables' lock file. */
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:{s:i,s:i,s:b,s:b,s:b,s:b,s:{s:[s,s],s:[s]}}}",
			 "name", WARD_INJECT_INIT_NAME, "image", s->image, "imagePullPolicy",
			 s->image_pull_policy, "command", argv, "resources", resources(s),
			 "securityContext", "runAsUser", 0, "runAsGroup", 0, "runAsNonRoot", 0,
			 "privileged", 0, "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem",
			 0, "capabilities", "add", "NET_ADMIN", "NET_RAW", "drop", "ALL");
}

static void add_json_flag(json_t *argv, const char *flag, json_t *value)
{
	char *text = json_object_size(value) ? json_dumps(value, JSON_COMPACT) : NULL;

	add_flag(argv, flag, text);
	free(text);
}

/* "10.244.0.0/16,fd00:10:244::/56" (checked when loaded) as a JSON list. */
static json_t *cidr_list(const char *text)
{
	json_t *list = json_array();

	while (*text) {
		size_t n = strcspn(text, ",");

		json_array_append_new(list, json_stringn(text, n));
		text += n + (text[n] == ',');
	}
	return list;
}

/* The agent's inbound settings a pod's annotations ask for, or NULL. */
static json_t *inbound_override(const struct ward_inject_opts *s)
{
	json_t *in = json_object(), *ports = json_array();
	struct ward_capture_ports list;

	if (s->inbound_mode)
		json_object_set_new(in, "mode", json_string(s->inbound_mode));
	if (s->preserve_source)
		json_object_set_new(in, "preserve_source", json_boolean(preserving(s)));
	if (s->proxy_protocol_ports &&
	    ward_capture_parse_ports(s->proxy_protocol_ports, false, &list) == 0) {
		for (size_t i = 0; i < list.n; i++)
			json_array_append_new(ports, json_integer(list.port[i]));
		json_object_set(in, "proxy_protocol_ports", ports);
	}
	json_decref(ports);
	if (json_object_size(in))
		return in;
	json_decref(in);
	return NULL;
}

/* The agent's config in three layers: the mesh-wide defaults (--defaults),
 * the namespace's ConfigMap when it exists (--config, optional), and the
 * pod's own settings (--override: its annotations, the injector's mesh
 * scope, and the proxy uid that ward-init's capture rules exempt). */
static json_t *proxy_command(const struct ward_inject_opts *s)
{
	json_t *argv = json_pack("[s,s,s,s,s]", "ward", "agent", "--config",
				 CONFIG_DIR "/config.json", "--config-optional");
	json_t *over = json_pack("{s:{s:I,s:I}}", "proxy", "uid", (json_int_t)s->proxy_uid, "gid",
				 (json_int_t)s->proxy_uid);
	json_t *in = inbound_override(s);

	add_json_flag(argv, "--defaults", s->agent_defaults);
	if (s->mesh_cidrs)
		json_object_set_new(over, "outbound",
				    json_pack("{s:o}", "mesh_cidrs", cidr_list(s->mesh_cidrs)));
	if (in)
		json_object_set_new(over, "inbound", in);
	if (s->log_level)
		json_object_set_new(over, "log", json_pack("{s:s}", "level", s->log_level));
	add_json_flag(argv, "--override", over);
	json_decref(over);
	return argv;
}

static json_t *http_probe(const char *path, int period, int failures)
{
	return json_pack("{s:{s:s,s:i},s:i,s:i,s:i}", "httpGet", "path", path, "port",
			 WARD_INJECT_ADMIN_PORT, "periodSeconds", period, "timeoutSeconds", 1,
			 "failureThreshold", failures);
}

/* The socket's name where none is set: the SPIRE Helm chart's through the
 * CSI driver; agent.sock in a node directory, as deploy/kubernetes/server.yaml
 * serves it and SPIRE's own hostPath layout names it. */
static const char *socket_name(const struct ward_inject_opts *s)
{
	if (s->workload_socket_name)
		return s->workload_socket_name;
	return s->workload_socket_hostpath ? "agent.sock" : "spire-agent.sock";
}

/* The proxy runs as its uid with no capabilities. With preserve-source it
 * needs CAP_NET_ADMIN, which Kubernetes cannot give a non-root container
 * (no ambient capabilities): it starts as root with NET_ADMIN, SETUID and
 * SETGID only, and the agent switches to the proxy uid at once, keeping
 * NET_ADMIN alone (README, What the app sees). */
static json_t *proxy_security(const struct ward_inject_opts *s)
{
	json_int_t uid = preserving(s) ? 0 : (json_int_t)s->proxy_uid;
	json_t *caps = preserving(s) ? json_pack("{s:[s,s,s],s:[s]}", "add", "NET_ADMIN", "SETUID",
						 "SETGID", "drop", "ALL")
				     : json_pack("{s:[s]}", "drop", "ALL");

	return json_pack("{s:I,s:I,s:b,s:b,s:b,s:b,s:o}", "runAsUser", uid, "runAsGroup", uid,
			 "runAsNonRoot", uid != 0, "privileged", 0, "allowPrivilegeEscalation", 0,
			 "readOnlyRootFilesystem", 1, "capabilities", caps);
}

json_t *ward_inject_proxy_container(const struct ward_inject_opts *s)
{
	char socket[512];
	json_t *c;

	snprintf(socket, sizeof(socket), "unix://" SOCKET_DIR "/%s", socket_name(s));
	c = json_pack("{s:s,s:s,s:s,s:o,s:[{s:s,s:s}],s:[{s:s,s:i,s:s}]}", "name",
		      WARD_INJECT_PROXY_NAME, "image", s->image, "imagePullPolicy",
		      s->image_pull_policy, "command", proxy_command(s), "env", "name",
		      "SPIFFE_ENDPOINT_SOCKET", "value", socket, "ports", "name", "ward-admin",
		      "containerPort", WARD_INJECT_ADMIN_PORT, "protocol", "TCP");
	if (!c)
		return NULL;
	if (s->legacy_sidecar) {
		/* kubelet starts the next container only once this hook returns. */
		json_object_set_new(c, "lifecycle",
				    json_pack("{s:{s:{s:[s,s,s,s]}}}", "postStart", "exec",
					      "command", "ward", "wait", "--timeout", "120"));
	} else {
		/* A native sidecar's startup probe holds the app containers. */
		json_object_set_new(c, "restartPolicy", json_string("Always"));
		json_object_set_new(c, "startupProbe", http_probe("/ready", 1, STARTUP_SECONDS));
	}
	json_object_set_new(c, "readinessProbe", http_probe("/ready", 5, 3));
	json_object_set_new(c, "livenessProbe", http_probe("/healthz", 10, 3));
	json_object_set_new(c, "resources", resources(s));
	json_object_set_new(c, "securityContext", proxy_security(s));
	json_object_set_new(c, "volumeMounts",
			    json_pack("[{s:s,s:s,s:b},{s:s,s:s,s:b}]", "name", SOCKET_VOLUME,
				      "mountPath", SOCKET_DIR, "readOnly", 1, "name", CONFIG_VOLUME,
				      "mountPath", CONFIG_DIR, "readOnly", 1));
	return c;
}

json_t *ward_inject_volumes(const struct ward_inject_opts *s)
{
	json_t *socket;

	if (s->workload_socket_hostpath)
		socket = json_pack("{s:s,s:{s:s,s:s}}", "name", SOCKET_VOLUME, "hostPath", "path",
				   s->workload_socket_hostpath, "type", "Directory");
	else
		socket = json_pack("{s:s,s:{s:s,s:b}}", "name", SOCKET_VOLUME, "csi", "driver",
				   "csi.spiffe.io", "readOnly", 1);
	/* Optional: without the namespace's ConfigMap the mesh-wide defaults
	 * apply, and the pod still starts. */
	return json_pack("[o,{s:s,s:{s:s,s:b}}]", socket, "name", CONFIG_VOLUME, "configMap",
			 "name", s->agent_config_map, "optional", 1);
}
