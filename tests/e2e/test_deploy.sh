#!/usr/bin/env bash
# deploy/: the Dockerfile and the Kubernetes manifests, checked without a
# cluster or a container engine: every manifest parses, the fields the
# webhook relies on are right and agree with each other (names, ports,
# paths, selectors), the config files inside the ConfigMaps are accepted by
# ward's own loaders, webhook-cert.sh makes a certificate that verifies and
# patches caBundle with its CA, and the runtime image installs the package
# of every shared library the binary needs. Needs no root.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ward=$(realpath "${WARD_BIN:-$root/build/ward}")
deploy=$root/deploy
source "$root/tests/e2e/lib.sh" # check, summary, and $WARD_TMP removed on exit
tmp=$WARD_TMP
trap ward_cleanup EXIT

echo "== manifests"
check "structure, cross-references, selectors" python3 - "$deploy/kubernetes" "$tmp" <<'EOF'
import glob, json, os, sys, yaml
d, tmp = sys.argv[1], sys.argv[2]
objs = {}
for path in sorted(glob.glob(d + "/*.yaml") + glob.glob(d + "/spire/*.yaml")):
    for doc in yaml.safe_load_all(open(path)):
        assert doc, path + ": empty document"
        for k in ("apiVersion", "kind", "metadata"):
            assert k in doc, "%s: %s missing" % (path, k)
        objs[(doc["kind"], doc["metadata"]["name"])] = doc
def get(kind, name):
    assert (kind, name) in objs, "no %s %s" % (kind, name)
    return objs[(kind, name)]

mwc = get("MutatingWebhookConfiguration", "ward-sidecar-injector")
svc = get("Service", "ward-webhook")
dep = get("Deployment", "ward-webhook")
assert len(mwc["webhooks"]) == 2
for w in mwc["webhooks"]:
    assert w["admissionReviewVersions"] == ["v1"], w["name"]
    assert w["sideEffects"] == "None"
    assert w["failurePolicy"] in ("Fail", "Ignore")
    cc = w["clientConfig"]["service"]
    assert (cc["name"], cc["namespace"], cc["path"]) == ("ward-webhook", "ward-system", "/inject")
    assert cc["port"] in [p["port"] for p in svc["spec"]["ports"]]
    assert "caBundle" in w["clientConfig"]
    assert w["rules"] == [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods"], "scope": "Namespaced"}]
    ns_exprs = w["namespaceSelector"]["matchExpressions"]
    assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
            "values": ["kube-system", "ward-system"]} in ns_exprs
ns_hook, obj_hook = mwc["webhooks"]
assert {"key": "ward.io/inject", "operator": "In", "values": ["enabled"]} in \
    ns_hook["namespaceSelector"]["matchExpressions"]
assert ns_hook["objectSelector"]["matchExpressions"] == [
    {"key": "ward.io/inject", "operator": "NotIn", "values": ["false"]}]
assert obj_hook["objectSelector"]["matchExpressions"] == [
    {"key": "ward.io/inject", "operator": "In", "values": ["true"]}]

# Service -> Deployment: selector, port name, --listen port.
pod = dep["spec"]["template"]
assert svc["metadata"]["namespace"] == dep["metadata"]["namespace"] == "ward-system"
assert all(pod["metadata"]["labels"][k] == v for k, v in svc["spec"]["selector"].items())
assert pod["metadata"]["labels"]["ward.io/inject"] == "false"
c = pod["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
target = svc["spec"]["ports"][0]["targetPort"]
assert target in ports
cmd = c["command"]
assert cmd[:2] == ["ward", "webhook"]
assert cmd[cmd.index("--listen") + 1].endswith(":%d" % ports[target])
for probe in ("readinessProbe", "livenessProbe"):
    assert c[probe]["httpGet"]["path"] == "/healthz" and c[probe]["httpGet"]["scheme"] == "HTTPS"
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["spec"]["volumes"]}
assert cmd[cmd.index("--tls-cert") + 1] == mounts["tls"] + "/tls.crt"
assert cmd[cmd.index("--tls-key") + 1] == mounts["tls"] + "/tls.key"
assert vols["tls"]["secret"]["secretName"] == "ward-webhook-tls"
assert get("Certificate", "ward-webhook")["spec"]["secretName"] == "ward-webhook-tls"
assert "ward-webhook.ward-system.svc" in get("Certificate", "ward-webhook")["spec"]["dnsNames"]
cm_name = vols["config"]["configMap"]["name"]
config_path = cmd[cmd.index("--config") + 1]
key = os.path.basename(config_path)
assert os.path.dirname(config_path) == mounts["config"]
injector = get("ConfigMap", cm_name)["data"][key]
open(os.path.join(tmp, "injector.json"), "w").write(injector)
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
assert sc["capabilities"]["drop"] == ["ALL"]
assert get("ServiceAccount", "ward-webhook")["automountServiceAccountToken"] is False

# The agent ConfigMap the injector names.
agent_cm = get("ConfigMap", json.loads(injector)["agent_config_map"])
open(os.path.join(tmp, "agent.json"), "w").write(agent_cm["data"]["config.json"])

# ward server: a DaemonSet whose socket is on a hostPath, config with its keys.
ds = get("DaemonSet", "ward-server")
srv = json.loads(get("ConfigMap", "ward-server-config")["data"]["server.json"])
for k in ("trust_domain", "socket", "admin_socket", "data_dir", "entries", "svid_ttl_s", "ca_ttl_s"):
    assert k in srv, "server.json: " + k
sc = ds["spec"]["template"]["spec"]["containers"][0]
smounts = {m["name"]: m["mountPath"] for m in sc["volumeMounts"]}
svols = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
sock_vol = [n for n, p in smounts.items() if os.path.dirname(srv["socket"]) == p]
assert sock_vol and "hostPath" in svols[sock_vol[0]], "socket not on a hostPath"
host_dir = svols[sock_vol[0]]["hostPath"]["path"]
open(os.path.join(tmp, "hostpath.json"), "w").write(json.dumps(
    {"workload_socket_hostpath": host_dir,
     "workload_socket_name": os.path.basename(srv["socket"])}))
entries_path = srv["entries"]
entries = [m for n, m in smounts.items() if entries_path.startswith(m + "/")]
assert entries, "entries file not mounted"
json.loads(get("ConfigMap", "ward-server-config")["data"][os.path.basename(entries_path)])
assert ds["spec"]["template"]["metadata"]["labels"]["ward.io/inject"] == "false"
# Cross-node mTLS: every node's server under the one upstream CA of a Secret.
up = srv["upstream"]
up_dir = os.path.dirname(up["cert"])
assert os.path.dirname(up["key"]) == os.path.dirname(up["bundle"]) == up_dir
up_vol = [n for n, p in smounts.items() if p == up_dir]
assert up_vol and svols[up_vol[0]]["secret"]["secretName"] == "ward-upstream-ca", "upstream CA"
open(os.path.join(tmp, "server.json"), "w").write(json.dumps(srv))
# One image everywhere, and the one render.sh replaces.
images = {c["image"] for o in objs.values() if o["kind"] in ("Deployment", "DaemonSet")
          for c in o["spec"]["template"]["spec"]["containers"]}
images.add(json.loads(injector)["image"])
assert images == {"ghcr.io/ward-mesh/ward:0.1.0"}, images

# SPIRE: the ClusterSPIFFEID gives spiffe://<td>/ns/<ns>/sa/<sa>.
cs = get("ClusterSPIFFEID", "ward-mesh")["spec"]
assert cs["spiffeIDTemplate"] == \
    "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"
assert cs["namespaceSelector"]["matchLabels"] == {"ward.io/inject": "enabled"}

# The drill Job: ward drill, never retried, its agent leaves admin ports alone.
job = get("Job", "ward-drill")
assert job["spec"]["backoffLimit"] == 0
jt = job["spec"]["template"]
assert jt["spec"]["restartPolicy"] == "Never"
assert jt["metadata"]["annotations"]["ward.io/exclude-outbound-ports"] == "15020"
jc = jt["spec"]["containers"][0]
script = jc["args"][0]
assert "exec ward drill " in script and "--agent 127.0.0.1:15020" in script
jm = {m["name"]: m["mountPath"] for m in jc["volumeMounts"]}
assert "--json %s/" % jm["report"] in script and "--html %s/" % jm["report"] in script
assert jc["securityContext"]["runAsNonRoot"] and jc["securityContext"]["readOnlyRootFilesystem"]
open(os.path.join(tmp, "drill-job.json"), "w").write(json.dumps(job))
open(os.path.join(tmp, "drill-args.txt"), "w").write(
    script.split("exec ward drill", 1)[1].replace("\\\n", " "))
EOF

echo "== config files inside the manifests"
cat >"$tmp/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers: [{name: app, image: app}]
EOF
check "the webhook's injector.json is accepted by ward" \
  bash -c '"$1" inject --config "$2/injector.json" -f "$2/pod.yaml" >"$2/injected.yaml"' _ "$ward" "$tmp"
check "the injected pod mounts the agent ConfigMap of agent-config.yaml" \
  grep -q "name: ward-agent-config" "$tmp/injected.yaml"
check "ward server hostPath settings are accepted by ward inject" \
  bash -c '"$1" inject --config "$2/hostpath.json" -f "$2/pod.yaml" | grep -q "path: /run/ward/sockets"' \
  _ "$ward" "$tmp"
# The agent ConfigMap, with an identity from files (the cluster's comes from
# SPIFFE_ENDPOINT_SOCKET), must pass the agent's own loader and self-check.
OWNER=0 bash "$root/tests/e2e/mkcerts.sh" "$tmp/certs" cluster.local p >/dev/null 2>&1
check "agent-config.yaml's config.json passes ward agent --check" bash -c \
  '"$1" agent --config "$2/agent.json" --check --override "{\"identity\":{\"files\":{
     \"cert\":\"$2/certs/p/svid.pem\",\"key\":\"$2/certs/p/svid.key\",
     \"bundle\":\"$2/certs/p/bundle.pem\"}}}" >/dev/null' _ "$ward" "$tmp"

check "the drill Job is injected like any pod" bash -c \
  '"$1" inject -f "$2/drill-job.json" | grep -q "\"name\": \"ward-proxy\""' _ "$ward" "$tmp"
# Its flags, with the shell's variables given values, are ward drill's own.
check "the drill Job's flags are accepted by ward drill" bash -c '
  ward=$2
  args=$(sed "s/\$WEB_SERVICE_HOST/10.0.0.1/; s/\$WEB_SERVICE_PORT/80/; s/\$agents//" "$1")
  eval "set -- $args"
  out=$("$ward" drill "$@" --agent 300.0.0.1:1 2>&1); rc=$?
  # Only the deliberately bad --agent may be refused.
  [ $rc = 2 ] && grep -q "300.0.0.1:1\" is not ip:port" <<<"$out"' _ "$tmp/drill-args.txt" "$ward"

cat >"$tmp/kubectl" <<'EOF'
#!/bin/sh
# Records what webhook-cert.sh asks of kubectl; prints a manifest for --dry-run.
echo "$*" >>"$KUBECTL_LOG"
case "$*" in *--dry-run=client*) echo "kind: Secret" ;; *"apply -f -"*) cat >>"$KUBECTL_LOG" ;; esac
EOF
chmod +x "$tmp/kubectl"
export KUBECTL_LOG=$tmp/kubectl.log
check "webhook-cert.sh runs" bash -c 'KUBECTL="$1" "$2" --out "$3" --days 30 2>/dev/null' _ \
  "$tmp/kubectl" "$deploy/kubernetes/webhook-cert.sh" "$tmp/wh"
check "the certificate verifies against its CA" bash -c \
  'openssl verify -CAfile "$1/ca.pem" "$1/tls.crt" >/dev/null' _ "$tmp/wh"
check "... names the Service" bash -c \
  'openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "DNS:ward-webhook.ward-system.svc,"' \
  _ "$tmp/wh/tls.crt"
check "... and the key matches it" bash -c '[ "$(openssl pkey -in "$1" -pubout)" = \
  "$(openssl x509 -in "$2" -noout -pubkey)" ]' _ "$tmp/wh/tls.key" "$tmp/wh/tls.crt"
check "the key file is 0600" test "$(stat -c %a "$tmp/wh/tls.key")" = 600
check "the Secret is created in ward-system" grep -q \
  "^-n ward-system create secret tls ward-webhook-tls" "$KUBECTL_LOG"
check "caBundle of both webhooks is patched with the CA" bash -c '
  ca=$(base64 -w0 <"$1")
  grep -F "/webhooks/0/clientConfig/caBundle\",\"value\":\"$ca\"" "$2" >/dev/null &&
  grep -F "/webhooks/1/clientConfig/caBundle\",\"value\":\"$ca\"" "$2" >/dev/null' \
  _ "$tmp/wh/ca.pem" "$KUBECTL_LOG"
check "--no-apply without --out is refused" bash -c '! "$1" --no-apply 2>/dev/null' _ \
  "$deploy/kubernetes/webhook-cert.sh"

echo "== upstream-ca.sh (cross-node mTLS under one CA)"
: >"$KUBECTL_LOG"
check "upstream-ca.sh runs" bash -c 'KUBECTL="$1" "$2" --out "$3" --days 30 2>/dev/null' _ \
  "$tmp/kubectl" "$deploy/kubernetes/upstream-ca.sh" "$tmp/up"
check "the Secret ward-upstream-ca is created in ward-system" grep -q \
  "^-n ward-system create secret generic ward-upstream-ca" "$KUBECTL_LOG"
check "... a CA, its key 0600" bash -c 'openssl x509 -in "$1/tls.crt" -noout -ext basicConstraints |
  grep -q "CA:TRUE" && [ "$(stat -c %a "$1/tls.key")" = 600 ]' _ "$tmp/up"
# server.yaml's server.json with its mounts mapped here: under that upstream CA.
check "server.yaml's server.json passes ward server --check under the upstream CA" bash -c '
  sed -e "s|/etc/ward-upstream|$2/up|g" -e "s|/etc/ward-server/entries.json|$2/entries.json|" \
    -e "s|/var/lib/ward|$2/srvdata|" -e "s|/run/ward|$2/run|g" "$2/server.json" >"$2/server-local.json"
  echo "{\"entries\": [{\"spiffe_id\": \"spiffe://cluster.local/ward/proxy\", \"selectors\": [\"unix:uid:1337\"]}]}" \
    >"$2/entries.json"
  "$1" server --config "$2/server-local.json" --check | grep -q "^config ok: trust domain cluster.local"' \
  _ "$ward" "$tmp"

echo "== render.sh: one image, the mesh scope, ward server"
check "render.sh with no setting prints the manifests as they are" bash -c \
  'diff <("$1") <(cat "$2/namespace.yaml"; echo ---; cat "$2/injector-config.yaml"; echo ---;
    cat "$2/webhook.yaml")' _ "$deploy/kubernetes/render.sh" "$deploy/kubernetes"
"$deploy/kubernetes/render.sh" --image reg.example/ward:7 \
  --mesh-cidrs 10.244.0.0/16,fd00:10:244::/56 --ward-server >"$tmp/rendered.yaml"
check "--image reaches every workload and the injector, nothing else is left" python3 - \
  "$tmp/rendered.yaml" "$tmp" <<'EOF'
import json, os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
images = {c["image"] for d in docs if d["kind"] in ("Deployment", "DaemonSet")
          for c in d["spec"]["template"]["spec"]["containers"]}
inj = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ward-injector-config"]
injector = json.loads(inj[0]["data"]["injector.json"])
assert images == {"reg.example/ward:7"} and injector["image"] == "reg.example/ward:7", images
assert "ghcr.io/ward-mesh/ward" not in open(sys.argv[1]).read()
assert {d["kind"] for d in docs} >= {"Namespace", "DaemonSet", "MutatingWebhookConfiguration"}
open(os.path.join(sys.argv[2], "rendered-injector.json"), "w").write(json.dumps(injector))
EOF
"$ward" inject --config "$tmp/rendered-injector.json" -f "$tmp/pod.yaml" >"$tmp/rendered-pod.yaml"
check "--mesh-cidrs reaches every injected proxy" grep -qF \
  '"outbound":{"mesh_cidrs":["10.244.0.0/16","fd00:10:244::/56"]}' "$tmp/rendered-pod.yaml"
check "--ward-server: the proxies' socket is the one server.yaml serves" bash -c '
  sock=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"socket\"])" "$2")
  grep -q "path: $(dirname "$sock")" "$1" &&
  grep -q "value: unix:///spiffe-workload-api/$(basename "$sock")" "$1"' \
  _ "$tmp/rendered-pod.yaml" "$tmp/server.json"
check "a bad --image is refused" bash -c '! "$1" --image "a b" >/dev/null 2>&1' _ \
  "$deploy/kubernetes/render.sh"

echo "== Dockerfile"
# Every shared library the binary links (NEEDED) must come from a package the
# runtime stage installs (libc6 is in the base image).
runtime_pkgs=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$deploy/Dockerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' || true)
missing=
for lib in $(readelf -d "$ward" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  path=$(ldd "$ward" | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$path" ] || continue # the dynamic loader itself (libc6)
  pkg=$( (dpkg -S "$path" || dpkg -S "/usr$path") 2>/dev/null | head -n 1 | cut -d: -f1)
  [ "$pkg" = libc6 ] && continue
  grep -qx "$pkg" <<<"$runtime_pkgs" || missing="$missing $lib($pkg)"
done
check "the runtime image installs every library ward needs${missing:+ (missing:$missing)}" \
  test -z "$missing"
check "the runtime image has iptables for the init container" grep -qx iptables <<<"$runtime_pkgs"
check "the build stage uses deploy/deps.sh and deploy/wolfssl.sh" bash -c \
  'grep -q "deploy/deps.sh build" "$1" && grep -q "deploy/wolfssl.sh" "$1"' _ "$deploy/Dockerfile"
check "ward lands on PATH where the injected commands expect it" \
  grep -q "^COPY --from=build /out/ward /usr/local/bin/ward" "$deploy/Dockerfile"

summary deploy
