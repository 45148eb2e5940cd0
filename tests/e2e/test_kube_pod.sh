#!/usr/bin/env bash
# e2e: run what an injected pod spec says. Two Pod manifests go through
# `ward inject`; the init container's and the proxy's command lines, uid/gid,
# capabilities and environment are taken out of the output and run, as
# written, in network-namespace pods (tests/e2e/lib.sh). The proxy's config
# is the agent ConfigMap of deploy/kubernetes/agent-config.yaml, mounted
# where the manifest mounts it, with an identity from files (the stand-in for
# the Workload API socket the cluster provides). So a manifest whose uid,
# capture flags, ports or agent settings do not fit together fails here.
# Also `ward wait` against a readiness endpoint. Needs root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "kube pod e2e: $WARD_BIN not built" >&2; exit 1; }

TD=cluster.local
pod_add frontend 1
pod_add backend 2
pod_add outsider 3
B=$(pod_ip backend)
OWNER=$PROXY_UID bash "$WARD_ROOT/tests/e2e/mkcerts.sh" "$WARD_TMP/certs" "$TD" frontend backend

cat >"$WARD_TMP/pods.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: frontend
  annotations:
    ward.io/log-level: debug
    ward.io/exclude-outbound-ports: "9000"
spec:
  containers: [{name: app, image: app}]
---
apiVersion: v1
kind: Pod
metadata:
  name: backend
  annotations:
    ward.io/log-level: debug
    ward.io/exclude-inbound-ports: "9000"
spec:
  containers: [{name: app, image: app}]
EOF
"$WARD_BIN" inject -f "$WARD_TMP/pods.yaml" -o "$WARD_TMP/injected.yaml"

# The agent ConfigMap's config.json, plus the identity files.
python3 - "$WARD_ROOT/deploy/kubernetes/agent-config.yaml" "$WARD_TMP" <<'EOF'
import json, sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
cfg = json.loads(cm["data"]["config.json"])
for name in ("frontend", "backend"):
    d = "%s/certs/%s" % (sys.argv[2], name)
    cfg["identity"] = {"files": {"cert": d + "/svid.pem", "key": d + "/svid.key",
                                 "bundle": d + "/bundle.pem"}}
    json.dump(cfg, open("%s/%s-config.json" % (sys.argv[2], name), "w"))
EOF

# Shell variables for each pod, from the injected spec: <pod>_init and
# <pod>_proxy (argv), <pod>_uid/_gid, <pod>_caps, <pod>_env, <pod>_config_dir.
python3 - "$WARD_TMP/injected.yaml" >"$WARD_TMP/spec.sh" <<'EOF'
import shlex, sys, yaml
def arr(name, items):
    print("%s=(%s)" % (name, " ".join(shlex.quote(str(i)) for i in items)))
for pod in yaml.safe_load_all(open(sys.argv[1])):
    n = pod["metadata"]["name"]
    inits = {c["name"]: c for c in pod["spec"]["initContainers"]}
    init, proxy = inits["ward-init"], inits["ward-proxy"]
    assert proxy.get("restartPolicy") == "Always", "not a native sidecar"
    assert list(inits)[:2] == ["ward-init", "ward-proxy"], "capture must run first"
    arr(n + "_init", init["command"])
    arr(n + "_caps", init["securityContext"]["capabilities"]["add"])
    print("%s_init_uid=%d" % (n, init["securityContext"]["runAsUser"]))
    arr(n + "_proxy", proxy["command"])
    sc = proxy["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc.get("capabilities", {}).get("add")
    print("%s_uid=%d\n%s_gid=%d" % (n, sc["runAsUser"], n, sc["runAsGroup"]))
    arr(n + "_env", ["%s=%s" % (e["name"], e["value"]) for e in proxy["env"]])
    mount = [m for m in proxy["volumeMounts"] if m["name"] == "ward-config"][0]
    print("%s_config_dir=%s" % (n, shlex.quote(mount["mountPath"])))
    probe = proxy["readinessProbe"]["httpGet"]
    print("%s_ready=%s" % (n, shlex.quote("http://127.0.0.1:%d%s" % (probe["port"], probe["path"]))))
EOF
source "$WARD_TMP/spec.sh"

# "ward" in a command is the image's binary; here, the one under test.
as_run() { # NAME ARGV... -> ARGV with ward and the config mount mapped
  local name=$1 dir=${2}
  shift 2
  local a out=()
  for a in "$@"; do
    case $a in
      ward) out+=("$WARD_BIN") ;;
      "$dir"/config.json) out+=("$WARD_TMP/$name-config.json") ;;
      *) out+=("$a") ;;
    esac
  done
  printf '%s\0' "${out[@]}"
}

start_pod() { # NAME
  local name=$1 init proxy caps env dir uid gid init_uid i
  eval "init=(\"\${${name}_init[@]}\") proxy=(\"\${${name}_proxy[@]}\")"
  eval "caps=(\"\${${name}_caps[@]}\") env=(\"\${${name}_env[@]}\")"
  eval "dir=\$${name}_config_dir uid=\$${name}_uid gid=\$${name}_gid init_uid=\$${name}_init_uid"
  mapfile -d '' init < <(as_run "$name" "$dir" "${init[@]}")
  mapfile -d '' proxy < <(as_run "$name" "$dir" "${proxy[@]}")
  # The init container: its uid, and no capability but those it adds.
  local bound
  bound=$(printf ',+%s' "${caps[@],,}")
  pod "$name" setpriv --reuid "$init_uid" --regid "$init_uid" --clear-groups \
    --bounding-set "-all$bound" --inh-caps "-all" "${init[@]}"
  # The proxy: the manifest's uid/gid, no capabilities, only its env.
  pod_bg "$name" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${env[@]}" \
    setpriv --reuid "$uid" --regid "$gid" --clear-groups --inh-caps=-all --bounding-set=-all \
    "${proxy[@]}" 2>>"$WARD_TMP/$name.log"
  for i in $(seq 1 100); do
    grep -q '"event":"ready"' "$WARD_TMP/$name.log" 2>/dev/null && return 0
    kill -0 "${WARD_PIDS[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "proxy of $name did not start:" >&2
  cat "$WARD_TMP/$name.log" >&2
  return 1
}

echo "== the injected pods"
check "frontend: init container (NET_ADMIN, NET_RAW only) and proxy start" start_pod frontend
check "backend: init container and proxy start" start_pod backend
check "the proxy runs as the manifest's uid" bash -c \
  'grep -q "^Uid:\s*$1\s" /proc/$2/status' _ "$backend_uid" "$(pgrep -f -n "$WARD_TMP/backend-config.json")"

probe_ok() { # the injected probes, from outside the mesh as the kubelet sends them
  pod outsider curl -sS -o /dev/null -f --max-time 5 "http://$B:$1"
}
check "the readiness probe (/ready) answers" probe_ok "${backend_ready#http://127.0.0.1:}"
check "the liveness probe (/healthz) answers" probe_ok "15020/healthz"
check "ward wait (the legacy postStart hook) returns for the running proxy" \
  pod backend "$WARD_BIN" wait --timeout 10 --url "$backend_ready"

serve backend echo 8080
serve backend echo 9000
mark_b=$(log_mark backend)
check "frontend -> backend:8080 over mTLS" mesh frontend send "$B" 8080 hello-mesh
check "backend saw frontend's SPIFFE ID (debug log: the pod's --override arrived)" wait_log backend "$mark_b" 5 '"event":"conn_close"' \
  "spiffe://$TD/ns/default/sa/frontend"
mark_f=$(log_mark frontend)
check "port 9000, excluded both ways, works in plain text" mesh frontend send "$B" 9000 plain
check "... without passing through the frontend proxy" \
  bash -c '! grep -q ":9000" <(tail -n "+$(($1 + 1))" "$2")' _ "$mark_f" "$WARD_TMP/frontend.log"
refused() { ! mesh outsider send "$B" 8080 x >/dev/null 2>&1; }
check "a pod outside the mesh is refused on 8080 (strict)" refused

echo "== ward wait"
# A readiness endpoint that answers 503 until a file exists, then 200.
cat >"$WARD_TMP/ready.py" <<'EOF'
import http.server, os, sys
flag = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/ready" and os.path.exists(flag)
        self.send_response(200 if ok else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
pod_bg outsider "$WARD_PY" "$WARD_TMP/ready.py" 15020 "$WARD_TMP/ready.flag"
wait_port outsider 15020
gives_up() {
  local rc=0
  pod outsider "$WARD_BIN" wait --timeout 1 --url "$backend_ready" 2>"$WARD_TMP/wait.err" || rc=$?
  [ "$rc" -eq 1 ] && grep -q "not ready after 1s (last: HTTP 503)" "$WARD_TMP/wait.err"
}
check "not ready: ward wait gives up with exit 1 and says why" gives_up
pod outsider "$WARD_BIN" wait --timeout 60 --url "$backend_ready" &
waiter=$!
check "ward wait is still waiting while the endpoint says 503" kill -0 "$waiter"
touch "$WARD_TMP/ready.flag"
check "ward wait returns 0 once it says 200" wait "$waiter"

summary "kube pod"
