# The app of `make bench` and `make soak`, in a pod of tests/e2e/lib.sh: HAProxy
# answering every HTTP request with 1 KiB (`http-request return`), one thread.
# Source it after lib.sh; bench_app POD PORT... starts it (pod_bg) on every
# PORT, its files in $WARD_TMP. The caller waits for the ports.
bench_app() {
  head -c 1024 /dev/zero | tr '\0' x >"$WARD_TMP/1k.txt"
  cat >"$WARD_TMP/app.cfg" <<CFG
global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout client 120s
  timeout http-request 10s
  timeout http-keep-alive 120s
frontend app
$(for port in "${@:2}"; do echo "  bind 0.0.0.0:$port"; done)
  http-request return status 200 content-type text/plain file $WARD_TMP/1k.txt
CFG
  pod_bg "$1" haproxy -db -f "$WARD_TMP/app.cfg"
}
