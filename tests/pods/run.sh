#!/usr/bin/env bash
# ward's Kubernetes path on a real container runtime: podman plays the
# manifests `ward inject` writes, as pods with real network namespaces, init
# containers, capabilities and uids, on a bridge network (README, "Trying it
# on one machine: podman").
#
#   1. builds ward's image from deploy/Dockerfile and the current tree (podman
#      caches the layers), tagged with the name `ward inject` writes;
#   2. runs `ward server` as a pod made from deploy/kubernetes/server.yaml's
#      DaemonSet, its socket in a host directory, with one entry per workload
#      uid (ward.io/proxy-uid);
#   3. injects two Deployments written as users write them (web: an HTTP
#      server with httpGet, tcpSocket and grpc probes; client) and a Job, and
#      plays them; no namespace ConfigMap for web (the injected mesh-wide
#      defaults), one for client (it overrides them);
#   4. checks: the capture rules ward-init installed, and that it needs the
#      capabilities the manifest grants; the proxies' uids and capabilities;
#      two SPIFFE IDs from one ward server; plain HTTP from client to web
#      over mTLS, with only TLS on the bridge; `ward status` in the pod; the
#      app's probes from outside the pod (strict mode); a Job that ends its
#      legacy sidecar with /quitquitquit; `ward uninject` output playing as a
#      plain pod.
#
# What podman 4.3 cannot play is adapted here, and only here: a pod-level
# restartPolicy (its default restarts init containers forever), native
# sidecars become the first regular containers (it ignores restartPolicy on
# init containers), a Job runs as its pod template, a Pod's annotations longer
# than 63 bytes (ward.io/status) are dropped (podman holds them to a label's
# limit), containerPorts are dropped
# (podman 4.3 publishes them on the host's ports: two pods would collide),
# and readiness gates are this script's own waits (podman runs no probes
# without systemd).
#
# Every pod, network, container and temporary file is named after this run
# and removed at the end; kept between runs: the base images
# (deploy/podman/base-image.sh), the app image (tagged by the hash of its
# files) and ward's image under the name `ward inject` writes.
# Needs root. WARD_BIN: the host's ward (for inject); WARD_KEEP_TMP=1 keeps
# the files and logs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ward=$(realpath "${WARD_BIN:-$root/build/ward}")
# shellcheck source=deploy/podman/env.sh
. "$root/deploy/podman/env.sh"
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (podman, nsenter, tcpdump)" >&2; exit 1; }
[ -x "$ward" ] || { echo "$0: $ward not built (make)" >&2; exit 1; }
PY=/usr/bin/python3

run=wp$$
WARD_RUN=$run WARD_TMP=$(mktemp -d /tmp/ward-pods.XXXXXX)
# check, summary, and $WARD_TMP removed at the end (kept with WARD_KEEP_TMP=1).
source "$root/tests/e2e/lib.sh"
tmp=$WARD_TMP
net=$run-net
run_image=localhost/ward-pods:$run
td=cluster.local
dump_pid=
started=$(date +%s)

say() { printf '%s\n' "$*"; }
phase() { say "== $* ($(($(date +%s) - started)) s)"; }

cleanup() {
  local f
  [ -z "$dump_pid" ] || kill "$dump_pid" 2>/dev/null || true
  for f in "$tmp"/play-*.yaml; do
    [ -e "$f" ] && podman kube down "$f" >/dev/null 2>&1 || true
  done
  # kube down stops at a pod that failed half-way: remove ours by name.
  podman pod ls -q --filter "name=^$run-" 2>/dev/null | xargs -r podman pod rm -f >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
  # Only this run's name (`podman untag IMAGE` alone would remove them all).
  podman untag "$run_image" "$run_image" >/dev/null 2>&1 || true
  [ -z "${WARD_KEEP_TMP:-}" ] || say "files kept in $tmp"
  ward_cleanup
}
trap cleanup EXIT
fail_now() {
  say "pods: $*" >&2
  exit 1
}

phase "base images and podman"
"$root/deploy/podman/base-image.sh"

phase "ward's image from deploy/Dockerfile"
# The name ward inject writes, read from ward inject itself (one setting).
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: a}]\n' |
  "$ward" inject -o "$tmp/image-probe.yaml" 2>/dev/null
image=$("$PY" -c 'import sys, yaml; print(next(yaml.safe_load_all(open(sys.argv[1])))["spec"]["initContainers"][0]["image"])' "$tmp/image-probe.yaml")
t0=$(date +%s)
podman build --pull=never -q -f "$root/deploy/Dockerfile" -t "$image" "$root" \
  >"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log" >&2; fail_now "image build failed"; }
# This run's own tag: another run may move the shared name meanwhile.
podman tag "$image" "$run_image"
say "  $image built in $(($(date +%s) - t0)) s, $(podman image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

phase "the test apps' image"
app_dir=$tmp/app
mkdir -p "$app_dir"
cp "$root/tests/pods/app.py" "$root/tests/e2e/grpchealth.py" "$app_dir/"
cat >"$app_dir/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-grpcio curl \
 && rm -rf /var/lib/apt/lists/*
COPY app.py grpchealth.py /app/
EOF
app_image=localhost/ward-pods-app:$(cat "$app_dir"/* | sha256sum | cut -c1-12)
podman image exists "$app_image" ||
  podman build --pull=never -q -t "$app_image" "$app_dir" >"$tmp/app-build.log" 2>&1 ||
  { tail -n 20 "$tmp/app-build.log" >&2; fail_now "app image build failed"; }

podman network create "$net" >/dev/null
bridge=$(podman network inspect "$net" --format '{{.NetworkInterface}}')
mkdir -m 755 "$tmp/sockets"
mkdir -m 700 "$tmp/data"

# play FILE: kube play on this run's network; the file is kept for kube down.
play() {
  cp "$1" "$tmp/play-$(basename "$1")"
  podman kube play --network "$net" "$tmp/play-$(basename "$1")" >"$tmp/play.out" 2>&1
}
infra_pid() {
  podman inspect --format '{{.State.Pid}}' "$(podman pod inspect "$1" --format '{{.InfraContainerID}}')"
}
pod_ip() {
  podman inspect --format "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" \
    "$(podman pod inspect "$1" --format '{{.InfraContainerID}}')"
}
# until SECONDS CMD...: retries CMD every 0.2 s.
until_ok() {
  local end=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}

phase "ward server as a pod (deploy/kubernetes/server.yaml)"
# The DaemonSet's pod template and ConfigMap as shipped, with this run's
# names, image, host directories, and one entry per workload uid. The
# upstream CA comes from upstream-ca.sh, as the cluster's Secret would (a
# host directory here: podman plays no Kubernetes Secrets).
"$root/deploy/kubernetes/upstream-ca.sh" --no-apply --out "$tmp/upstream" --trust-domain "$td" \
  >"$tmp/upstream-ca.log" 2>&1 || { cat "$tmp/upstream-ca.log" >&2; fail_now "upstream-ca.sh failed"; }
"$PY" - "$root/deploy/kubernetes/server.yaml" "$tmp" "$run" "$run_image" "$td" \
  >"$tmp/server.yaml" <<'EOF'
import json, sys, yaml
src, tmp, run, image, td = sys.argv[1:]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(src))}
cm, ds = docs["ConfigMap"], docs["DaemonSet"]
cm["metadata"] = {"name": run + "-server-config"}
server = json.loads(cm["data"]["server.json"])
server["log"] = {"level": "debug"}  # workload_api_call lines, for the checks
cm["data"]["server.json"] = json.dumps(server)
cm["data"]["entries.json"] = json.dumps({"entries": [
    {"spiffe_id": "spiffe://%s/ns/default/sa/web" % td, "selectors": ["unix:uid:2001"]},
    {"spiffe_id": "spiffe://%s/ns/default/sa/client" % td, "selectors": ["unix:uid:2002"]}]})
spec = ds["spec"]["template"]["spec"]
for k in ("serviceAccountName", "priorityClassName", "tolerations"):
    spec.pop(k)
spec["restartPolicy"] = "OnFailure"
spec["containers"][0]["image"] = image
for v in spec["volumes"]:
    if "secret" in v:
        v.pop("secret")
        v["hostPath"] = {"path": tmp + "/upstream", "type": "Directory"}
    elif "configMap" in v:
        v["configMap"]["name"] = cm["metadata"]["name"]
    elif v["name"] == "sockets":
        v["hostPath"]["path"] = tmp + "/sockets"
    elif v["name"] == "data":
        v["hostPath"]["path"] = tmp + "/data"
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": run + "-server"}, "spec": spec}
yaml.safe_dump_all([cm, pod], sys.stdout, sort_keys=False)
EOF
play "$tmp/server.yaml" || { cat "$tmp/play.out" >&2; fail_now "ward server pod did not play"; }
until_ok 30 test -S "$tmp/sockets/agent.sock" ||
  { podman logs "$run-server-server" >&2 || true; fail_now "ward server's socket did not appear"; }
check "ward server runs as the DaemonSet says (uid 0, no capabilities)" bash -c \
  "grep -q '^CapEff:.0000000000000000' /proc/\$(podman inspect --format '{{.State.Pid}}' $run-server-server)/status"

phase "the apps, injected"
# As users write them. Identities: a proxy uid per workload.
cat >"$tmp/web.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $run-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: $run-web}
  template:
    metadata:
      labels: {app: $run-web}
      annotations:
        ward.io/proxy-uid: "2001"
        ward.io/log-level: debug
    spec:
      containers:
      - name: web
        image: $app_image
        imagePullPolicy: IfNotPresent
        command: [python3, /app/app.py, web]
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
        livenessProbe:
          tcpSocket: {port: 8080}
        startupProbe:
          grpc: {port: 9090, service: web}
EOF
cat >"$tmp/client.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: ward-agent-config
data:
  config.json: |
    {"log": {"level": "debug"}, "limits": {"drain_timeout_s": 7}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $run-client
spec:
  replicas: 1
  selector:
    matchLabels: {app: $run-client}
  template:
    metadata:
      labels: {app: $run-client}
      annotations:
        ward.io/proxy-uid: "2002"
    spec:
      containers:
      - name: client
        image: $app_image
        imagePullPolicy: IfNotPresent
        command: [python3, /app/app.py, idle]
EOF
cat >"$tmp/injector.json" <<EOF
{"image": "$run_image", "workload_socket_hostpath": "$tmp/sockets",
 "workload_socket_name": "agent.sock"}
EOF
"$ward" inject --config "$tmp/injector.json" -f "$tmp/web.yaml" -o "$tmp/web.injected.yaml" \
  2>"$tmp/inject.err"
"$ward" inject --config "$tmp/injector.json" --legacy-sidecar -f "$tmp/client.yaml" \
  -o "$tmp/client.injected.yaml" 2>>"$tmp/inject.err"

# for_podman IN OUT: what podman 4.3 needs (see the top of this file).
for_podman() {
  "$PY" - "$1" >"$2" <<'EOF'
import sys, yaml
out = []
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d["kind"] == "Job":  # podman plays no Jobs: their pod template
        t = d["spec"]["template"]
        d = {"apiVersion": "v1", "kind": "Pod",
             "metadata": dict(t.get("metadata", {}), name=d["metadata"]["name"]), "spec": t["spec"]}
    if d["kind"] == "Pod":  # podman holds Pod annotations to a label's 63 bytes
        ann = d["metadata"].get("annotations", {})
        for k in [k for k, v in ann.items() if len(v) > 63]:
            del ann[k]
    if d["kind"] in ("Pod", "Deployment"):
        spec = d["spec"] if d["kind"] == "Pod" else d["spec"]["template"]["spec"]
        if spec.get("restartPolicy", "Always") == "Always":
            spec["restartPolicy"] = "OnFailure"
        inits = spec.get("initContainers", [])
        native = [c for c in inits if c.get("restartPolicy") == "Always"]
        for c in native:
            del c["restartPolicy"]
            c.pop("startupProbe", None)
        spec["initContainers"] = [c for c in inits if c not in native]
        spec["containers"] = native + spec["containers"]
        for c in spec["containers"]:  # podman would publish them on the host
            c.pop("ports", None)
    out.append(d)
yaml.safe_dump_all(out, sys.stdout, sort_keys=False)
EOF
}
for_podman "$tmp/web.injected.yaml" "$tmp/web.podman.yaml"
for_podman "$tmp/client.injected.yaml" "$tmp/client.podman.yaml"

phase "ward-init needs the capabilities the manifest grants"
# The web pod once more, as a Pod whose ward-init lacks NET_ADMIN: it must
# fail, and the app must not start.
"$PY" - "$tmp/web.podman.yaml" "$run" >"$tmp/nocap.yaml" <<'EOF'
import sys, yaml
d = next(yaml.safe_load_all(open(sys.argv[1])))
t = d["spec"]["template"]
init = t["spec"]["initContainers"][0]
assert init["name"] == "ward-init"
init["securityContext"]["capabilities"]["add"] = ["NET_RAW"]
t["spec"]["restartPolicy"] = "Never"  # fail at once, do not retry
yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": sys.argv[2] + "-nocap"},
                "spec": t["spec"]}, sys.stdout, sort_keys=False)
EOF
nocap_fails() { ! play "$tmp/nocap.yaml"; }
check "without NET_ADMIN, ward-init fails and kube play stops" nocap_fails
check "  because iptables was not permitted (the init container's log)" bash -c \
  "podman logs $run-nocap-ward-init 2>&1 | grep -q 'needs CAP_NET_ADMIN'"
check "  and the pod's app did not start" bash -c \
  "! podman ps --format '{{.Names}}' | grep -qx '$run-nocap-web'"
podman pod rm -f "$run-nocap" >/dev/null 2>&1 || true

phase "playing web (no namespace ConfigMap) and client (with one)"
play "$tmp/web.podman.yaml" || { cat "$tmp/play.out" >&2; fail_now "web did not play"; }
play "$tmp/client.podman.yaml" || { cat "$tmp/play.out" >&2; fail_now "client did not play"; }
web=$run-web-pod-0
client=$run-client-pod-0
W=$(pod_ip "$web")
C=$(pod_ip "$client")
ready() { curl -sf -m 2 -o /dev/null "http://$1:15020/ready"; }
# The kubelet would hold the app until the proxy's /ready; podman does not.
until_ok 60 ready "$W" || { podman logs "$web-ward-proxy" >&2 || true; fail_now "web's proxy not ready"; }
until_ok 60 ready "$C" || { podman logs "$client-ward-proxy" >&2 || true; fail_now "client's proxy not ready"; }
say "  web $W, client $C, bridge $bridge"

phase "capture rules, uids, capabilities"
rules() { nsenter -t "$(infra_pid "$1")" -n iptables -t nat -S 2>/dev/null; }
check "web's netns: ward-init's rules redirect to 15006/15001" bash -c \
  "$(declare -f rules infra_pid); r=\$(rules $web); grep -q 'WARD_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006' <<<\"\$r\" &&
   grep -q 'WARD_REDIRECT -p tcp -j REDIRECT --to-ports 15001' <<<\"\$r\""
check "  and exempt the proxy's uid 2001 (ward.io/proxy-uid)" bash -c \
  "$(declare -f rules infra_pid); rules $web | grep -q 'WARD_OUTPUT -m owner --uid-owner 2001 -j RETURN'"
check "client's netns: exempt uid 2002" bash -c \
  "$(declare -f rules infra_pid); rules $client | grep -q 'owner --uid-owner 2002 -j RETURN'"
proc_status() { cat "/proc/$(podman inspect --format '{{.State.Pid}}' "$1")/status"; }
check "web's proxy runs as 2001:2001 with no capabilities" bash -c \
  "$(declare -f proc_status); s=\$(proc_status $web-ward-proxy);
   grep -qP '^Uid:\t2001\t' <<<\"\$s\" && grep -qP '^Gid:\t2001\t' <<<\"\$s\" &&
   grep -q '^CapEff:.0000000000000000' <<<\"\$s\" && grep -q '^CapBnd:.0000000000000000' <<<\"\$s\""
check "client's proxy runs as 2002 with no capabilities" bash -c \
  "$(declare -f proc_status); s=\$(proc_status $client-ward-proxy);
   grep -qP '^Uid:\t2002\t' <<<\"\$s\" && grep -q '^CapEff:.0000000000000000' <<<\"\$s\""
check "the proxy's root filesystem is read-only" bash -c \
  "! podman exec $web-ward-proxy touch /probe-rw 2>/dev/null"

phase "identities: one ward server, two SPIFFE IDs"
spiffe_id() { curl -s -m 5 "http://$1:15020/certs" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spiffe_id"])'; }
check "web's SVID: spiffe://$td/ns/default/sa/web" test "$(spiffe_id "$W")" = "spiffe://$td/ns/default/sa/web"
check "client's SVID: spiffe://$td/ns/default/sa/client" \
  test "$(spiffe_id "$C")" = "spiffe://$td/ns/default/sa/client"
upstream_bundle() {
  curl -s -m 5 "http://$W:15020/certs" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
assert len(d["chain"]) >= 2, "no intermediate"
b = d["bundles"] if isinstance(d["bundles"], list) else [d["bundles"]]
assert any("ward upstream CA" in c["subject"] for x in b for c in x["cas"]), b'
}
check "the SVIDs chain to upstream-ca.sh's CA (server.yaml's cross-node set-up)" upstream_bundle
check "ward server saw both proxies from other pods (pid 0, their uids)" bash -c \
  "podman logs $run-server-server 2>&1 | grep '\"event\":\"workload_api_call\"' | grep -q '\"pid\":0,\"uid\":2001' &&
   podman logs $run-server-server 2>&1 | grep '\"event\":\"workload_api_call\"' | grep -q '\"pid\":0,\"uid\":2002'"

phase "agent config layers"
check "web has no namespace ConfigMap: the injected defaults (config_file false)" bash -c \
  "podman logs $web-ward-proxy 2>&1 | grep '\"event\":\"ready\"' | grep -q '\"config_file\":false'"
check "client's ConfigMap is read (config_file true)" bash -c \
  "podman logs $client-ward-proxy 2>&1 | grep '\"event\":\"ready\"' | grep -q '\"config_file\":true'"
check "  and overrides the defaults (log level debug)" bash -c \
  "curl -s -m 5 http://$C:15020/stats | grep -q '\"log_level\": \"debug\"'"
check "web's trust domain comes from the defaults" bash -c \
  "curl -s -m 5 http://$W:15020/certs | grep -q '\"trust_domain\": \"$td\"'"

phase "client -> web: plain HTTP in the app, mTLS on the wire (the tunnel, port 15008)"
marker=ward-pods-$RANDOM$RANDOM
timeout 30 tcpdump -nU -i "$bridge" -w "$tmp/wire.pcap" "tcp and host $W and (port 8080 or port 15008)" \
  2>"$tmp/tcpdump.err" &
dump_pid=$!
until_ok 5 grep -q listening "$tmp/tcpdump.err"
hello() {
  podman exec "$client-client" curl -sf -m 10 -H "X-Marker: $marker" "http://$W:8080/hello" |
    grep -qx "hello from $web"
}
check "client's curl http://$W:8080/hello gets web's answer" hello
sleep 1
kill -INT "$dump_pid" 2>/dev/null || true
wait "$dump_pid" 2>/dev/null || true
dump_pid=
eval "$("$PY" "$root/tests/e2e/tlswire.py" "$tmp/wire.pcap" --port 15008 --marker "$marker" --format shell)"
to_app_port=$(tcpdump -nr "$tmp/wire.pcap" 'tcp port 8080' 2>/dev/null | wc -l)
check "the request went through the tunnel: no packet to port 8080 on the bridge ($to_app_port)" \
  test "$to_app_port" = 0
check "the bridge carried TLS 1.3 (${wire_records_application_data:-0} application data records)" \
  test "${wire_server_hello_version:-}" = TLSv1.3 -a "${wire_records_application_data:-0}" -gt 0
check "  and nothing but TLS records (${wire_non_tls_bytes:-?} other bytes)" test "${wire_non_tls_bytes:-1}" = 0
check "  the request's marker is not on the wire" test "${wire_marker_found:-yes}" = no
check "  the app got it in plain text" bash -c "podman logs $web-web 2>&1 | grep -q 'X-Marker=$marker'"
check "web's proxy saw the client's SPIFFE ID" bash -c \
  "podman logs $web-ward-proxy 2>&1 | grep '\"event\":\"conn_close\"' | grep -q 'spiffe://$td/ns/default/sa/client'"
podman exec "$client-client" curl -s -m 20 "http://$W:8080/slow" >/dev/null &
slow=$!
sleep 2
check "ward status in web's proxy shows the live inbound connection" bash -c \
  "podman exec $web-ward-proxy ward status >$tmp/status.txt && grep -q 'inbound *1 active' $tmp/status.txt &&
   grep -q 'spiffe://$td/ns/default/sa/web' $tmp/status.txt"
wait "$slow" || true
outsider_refused() { ! curl -s -m 5 -o /dev/null "http://$W:8080/hello"; }
check "plain text from outside the mesh (the host) is refused" outsider_refused

phase "the app's probes, from outside the pod (as the kubelet)"
injected_probe() { # FIELD: the path of web's injected probe
  "$PY" -c 'import sys, yaml
d = next(yaml.safe_load_all(open(sys.argv[1])))
c = [c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "web"][0]
print(c[sys.argv[2]]["httpGet"]["path"], c[sys.argv[2]]["httpGet"]["port"])' "$tmp/web.injected.yaml" "$1"
}
read -r rpath rport <<<"$(injected_probe readinessProbe)"
read -r lpath _ <<<"$(injected_probe livenessProbe)"
read -r spath _ <<<"$(injected_probe startupProbe)"
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$W:$1$2"; }
check "inject pointed the probes at $rport/app-health/web/..." \
  test "$rport:$rpath:$lpath:$spath" = "15020:/app-health/web/readiness:/app-health/web/liveness:/app-health/web/startup"
check "readiness (httpGet /healthz): 200" test "$(code "$rport" "$rpath")" = 200
check "liveness (tcpSocket 8080): 200" test "$(code "$rport" "$lpath")" = 200
check "startup (grpc health 'web'): 200" test "$(code "$rport" "$spath")" = 200
podman exec "$web-web" rm /tmp/healthy
check "the app turns unhealthy: readiness 503" test "$(code "$rport" "$rpath")" = 503
check "  grpc health too: 503" test "$(code "$rport" "$spath")" = 503
podman exec "$web-web" touch /tmp/healthy
check "  healthy again: 200" test "$(code "$rport" "$rpath")" = 200
check "the original probe, sent as the kubelet would without ward, is refused" bash -c \
  "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://$W:8080/healthz)\" = 000 ]"

phase "a Job and its legacy sidecar: /quitquitquit"
cat >"$tmp/job.yaml" <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: $run-job
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        ward.io/proxy-uid: "2002"
    spec:
      restartPolicy: Never
      containers:
      - name: job
        image: $app_image
        imagePullPolicy: IfNotPresent
        command: [sh, -c]
        args:
        - |
          # (podman runs no postStart hook: wait for the proxy as ward wait does)
          until curl -sf -o /dev/null http://127.0.0.1:15020/ready; do sleep 0.2; done
          curl -sf http://$W:8080/hello > /tmp/got && grep -q 'hello from' /tmp/got
          rc=\$?
          # Done: tell the sidecar, as README says.
          curl -sf -X POST http://127.0.0.1:15020/quitquitquit
          exit \$rc
EOF
"$ward" inject --config "$tmp/injector.json" --legacy-sidecar -f "$tmp/job.yaml" \
  -o "$tmp/job.injected.yaml" 2>>"$tmp/inject.err"
for_podman "$tmp/job.injected.yaml" "$tmp/job.podman.yaml"
play "$tmp/job.podman.yaml" || { cat "$tmp/play.out" >&2; fail_now "the job did not play"; }
exited() { [ "$(podman inspect --format '{{.State.Status}}' "$1")" = exited ]; }
check "the job's app ends" until_ok 60 exited "$run-job-job"
check "  with exit 0 (its request went through the mesh)" \
  test "$(podman inspect --format '{{.State.ExitCode}}' "$run-job-job")" = 0
check "its proxy drains and exits 0 after /quitquitquit" bash -c \
  "$(declare -f until_ok exited); until_ok 30 exited $run-job-ward-proxy &&
   [ \"\$(podman inspect --format '{{.State.ExitCode}}' $run-job-ward-proxy)\" = 0 ]"
check "  it logged draining" bash -c "podman logs $run-job-ward-proxy 2>&1 | grep -q '\"event\":\"draining\"'"

phase "ward uninject gives a plain pod back"
"$ward" uninject -f "$tmp/web.injected.yaml" -o "$tmp/web.plain.yaml"
check "uninject gives the manifest as written" bash -c \
  "$PY -c 'import sys, yaml; a, b = (list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]); sys.exit(a != b)' \
   $tmp/web.yaml $tmp/web.plain.yaml"
"$PY" - "$tmp/web.plain.yaml" "$run-plain" >"$tmp/plain.yaml" <<'EOF'
import sys, yaml
d = next(yaml.safe_load_all(open(sys.argv[1])))
d["metadata"]["name"] = sys.argv[2]
d["spec"]["selector"]["matchLabels"]["app"] = sys.argv[2]
d["spec"]["template"]["metadata"]["labels"]["app"] = sys.argv[2]
yaml.safe_dump(d, sys.stdout, sort_keys=False)
EOF
for_podman "$tmp/plain.yaml" "$tmp/plain.podman.yaml"
play "$tmp/plain.podman.yaml" || { cat "$tmp/play.out" >&2; fail_now "the plain pod did not play"; }
P=$(pod_ip "$run-plain-pod-0")
plain_hello() { curl -sf -m 2 "http://$P:8080/hello"; }
check "it plays and answers plain HTTP from the host" until_ok 30 plain_hello
check "  with no ward container in it" bash -c \
  "! podman ps -a --format '{{.Names}}' | grep -q '^$run-plain-pod-0-ward'"
check "  and no capture rules" bash -c \
  "$(declare -f rules infra_pid); ! rules $run-plain-pod-0 | grep -q WARD_"

[ -s "$tmp/inject.err" ] && sed 's/^/  inject: /' "$tmp/inject.err"
say "pods: took $(($(date +%s) - started)) s"
if [ "$WARD_FAIL" -ne 0 ]; then
  for c in "$web-ward-proxy" "$client-ward-proxy" "$run-server-server"; do
    say "--- last lines of $c"
    podman logs "$c" 2>&1 | tail -n 15
  done
fi
summary pods
