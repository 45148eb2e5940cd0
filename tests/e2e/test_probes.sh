#!/usr/bin/env bash
# e2e: the app's kubelet probes under strict mTLS (agent/app_probe.h), and
# POST /quitquitquit. Pod web runs an agent in strict mode with the probes
# ward inject hands over in WARD_APP_PROBES, and an app with an HTTP health
# endpoint and a real gRPC health service (python3-grpcio). The "kubelet" is
# another network namespace, outside web's, as the node is: its plain-text
# probe of the app port is refused, the same probe through the agent's
# admin port passes and fails with the app (httpGet, tcpSocket, grpc), a
# silent app fails at the probe's timeout without holding the admin port up,
# a bad WARD_APP_PROBES stops the agent with a reason. /quitquitquit is
# refused from outside the pod and drains and exits from inside.
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "probes e2e: $WARD_BIN not built" >&2; exit 1; }
"$WARD_PY" -c 'import grpc' 2>/dev/null ||
  { echo "probes e2e: python3-grpcio missing (make deps-test)" >&2; exit 1; }

pod_add web 1
pod_add kubelet 2
W=$(pod_ip web)
certs_for web
FLAG=$WARD_TMP/healthy
touch "$FLAG"

# The app: /healthz is 200 while $FLAG exists, 503 otherwise; it records the
# User-Agent and X-Probe headers it got. /hang never answers.
cat >"$WARD_TMP/app.py" <<'EOF'
import http.server, os, sys, time
flag, seen = sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/hang":
            time.sleep(30)
            return
        with open(seen, "a") as f:
            f.write("%s|%s\n" % (self.headers.get("User-Agent"), self.headers.get("X-Probe")))
        self.send_response(200 if os.path.exists(flag) else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[4], int(sys.argv[1])), H).serve_forever()
EOF
pod_bg web "$WARD_PY" "$WARD_TMP/app.py" 8080 "$FLAG" "$WARD_TMP/seen" 0.0.0.0
# An app bound to the pod's address alone (not loopback), as the kubelet reaches it.
pod_bg web "$WARD_PY" "$WARD_TMP/app.py" 8081 "$FLAG" "$WARD_TMP/seen" "$W"
pod_bg web "$WARD_PY" "$WARD_ROOT/tests/e2e/grpchealth.py" 9090 web "$FLAG"
wait_port web 8080
wait_port web 9090
wait_port web 8081

# What ward inject writes for probes on 8080 and 9090 (see tests/kube/golden/probes.yaml).
PROBES='{"/app-health/app/readiness": {"httpGet": {"path": "/healthz", "port": 8080,
  "httpHeaders": [{"name": "X-Probe", "value": "kubelet"}]}, "timeoutSeconds": 1},
 "/app-health/app/liveness": {"tcpSocket": {"port": 8080}},
 "/app-health/app/closed": {"tcpSocket": {"port": 8099}},
 "/app-health/app/hang": {"httpGet": {"path": "/hang", "port": 8080}, "timeoutSeconds": 2},
 "/app-health/app/startup": {"grpc": {"port": 9090, "service": "web"}},
 "/app-health/app/other": {"grpc": {"port": 9090, "service": "nope"}},
 "/app-health/app/not-grpc": {"grpc": {"port": 8080}},
 "/app-health/app/pod-ip": {"httpGet": {"path": "/healthz", "port": 8081}}}'
export WARD_APP_PROBES=$PROBES
agent_start web "$(agent_config web)"
unset WARD_APP_PROBES
agent=${WARD_PIDS[-1]}

# kubelet PATH: the status and body of a probe sent from outside web's netns.
kubelet() {
  pod kubelet curl -s -m 10 -o "$WARD_TMP/body" -w '%{http_code}' "http://$W:15020$1" || true
}
answers() { # PATH STATUS [BODY TEXT]
  local got
  got=$(kubelet "$1")
  [ "$got" = "$2" ] || { echo "  $1: HTTP $got ($(cat "$WARD_TMP/body")), want $2" >&2; return 1; }
  [ -z "${3:-}" ] || grep -qF "$3" "$WARD_TMP/body" ||
    { echo "  $1: body '$(cat "$WARD_TMP/body")', want '$3'" >&2; return 1; }
}

echo "== strict inbound refuses the kubelet's own plain-text probe"
plain_refused() { ! pod kubelet curl -s -m 5 -o /dev/null "http://$W:8080/healthz"; }
check "GET $W:8080/healthz from outside the pod fails (not mTLS)" plain_refused

echo "== the same probes through the agent"
check "httpGet: 200 while the app says 200" answers /app-health/app/readiness 200 ok
check "  the app got kube-probe's User-Agent and the probe's header" \
  grep -q '^kube-probe/ward|kubelet$' "$WARD_TMP/seen"
check "tcpSocket: 200 while the app listens" answers /app-health/app/liveness 200 ok
check "grpc: 200 while the service is SERVING" answers /app-health/app/startup 200 ok
rm "$FLAG"
check "httpGet: 503 once the app says 503" answers /app-health/app/readiness 503 "HTTP status 503"
check "grpc: 503 once it is NOT_SERVING" answers /app-health/app/startup 503 "health status NOT_SERVING"
touch "$FLAG"
check "... and 200 again once it is healthy" answers /app-health/app/readiness 200 ok
check "grpc: an unknown service is 503 NOT_FOUND" answers /app-health/app/other 503 "grpc-status not_found"
check "grpc against an HTTP/1 server: 503" answers /app-health/app/not-grpc 503
check "tcpSocket to a closed port: 503" answers /app-health/app/closed 503 "cannot connect to 127.0.0.1:8099"
check "a path no probe has: 404" answers /app-health/app/nope 404
check "an app on the pod's address only: refused on loopback, 200 there" \
  answers /app-health/app/pod-ip 200 ok
pod kubelet curl -s -m 10 -o "$WARD_TMP/hang.body" -w '%{http_code}' \
  "http://$W:15020/app-health/app/hang" >"$WARD_TMP/hang.code" &
hang=$!
sleep 0.3
quick() { # the admin port answers while a probe hangs
  local t
  t=$(pod kubelet curl -s -m 5 -o /dev/null -w '%{time_total}' "http://$W:15020/healthz")
  awk -v t="$t" 'BEGIN { exit !(t < 0.5) }'
}
check "while a probe waits on a silent app, /healthz answers at once" quick
wait "$hang" || true
check "the silent app's probe fails at its 2 s timeout" \
  bash -c '[ "$(cat "$1.code")" = 503 ] && grep -q "within 2000 ms" "$1.body"' _ "$WARD_TMP/hang"

echo "== a bad WARD_APP_PROBES stops the agent with a reason"
bad_env() {
  local rc=0
  WARD_APP_PROBES='{"/app-health/a/b": {"httpGet": {"port": 80, "host": "10.0.0.9"}}}' \
    "$WARD_BIN" agent --config "$WARD_TMP/web.json" --check 2>"$WARD_TMP/bad.err" || rc=$?
  [ "$rc" -eq 2 ] && grep -q 'WARD_APP_PROBES./app-health/a/b.httpGet.host: not supported' "$WARD_TMP/bad.err"
}
check "exit 2 naming the field" bad_env

echo "== POST /quitquitquit"
check "from outside the pod: 403" \
  test "$(pod kubelet curl -s -o /dev/null -w '%{http_code}' -X POST "http://$W:15020/quitquitquit")" = 403
check "GET is 405" \
  test "$(pod web curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:15020/quitquitquit")" = 405
check "from the app (loopback): 200" \
  test "$(pod web curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:15020/quitquitquit")" = 200
gone() { for _ in $(seq 1 50); do kill -0 "$agent" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "the agent drains and exits" gone
check "  exit status 0" wait "$agent"
check "  it logged draining" log_grep web 0 '"event":"draining"'

summary "probes e2e"
