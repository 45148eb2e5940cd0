#!/usr/bin/env bash
# `make drill`: the demo's topology (pods frontend and backend in network
# namespaces, their agents on ward server's Workload API) and a cert-rotation
# drill run from inside frontend: SVID, CA and root rotations forced through
# ward server's admin socket and a 5 s Workload API outage, under load (new
# HTTP connections at 30 a second and 8 long-lived ones). Prints the drill's
# summary and where its HTML and JSON reports are. Exits with the drill's
# status: 0 PASS, 1 FAIL. Needs root.
#   WARD_BIN=path/to/ward   the binary (default build/ward)
#   DRILL_OUT=dir           where the reports go (default build/drill)
#   DRILL_ARGS="..."        more `ward drill` flags (e.g. "--plan ca:5 --interval 3s")
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
trap ward_cleanup EXIT
trap 'echo; echo "drill interrupted; cleaning up" >&2; exit 130' INT TERM
[ -x "$WARD_BIN" ] || { echo "no ward binary at $WARD_BIN (make builds it)" >&2; exit 1; }
OUT=${DRILL_OUT:-$WARD_ROOT/build/drill}
mkdir -p "$OUT"
LOG_LEVEL=info

pod_add frontend 1
pod_add backend 2
BE=$(pod_ip backend)
echo "ward drill demo: pods frontend $(pod_ip frontend) and backend $BE, ward server on this host"
wlserver_config 3600 "1337:frontend" "1338:backend"
wlserver_start
wl_pods_start frontend 1337 backend 1338
serve backend http 8080
echo "agents ready; the app in backend answers plain HTTP on :8080"
echo "running: ward drill --target http://$BE:8080/hello --plan svids,ca,root" \
  "--fault workload-api-down:5s ..."
echo

rc=0
# shellcheck disable=SC2086 # DRILL_ARGS is a list of flags
pod frontend "$WARD_BIN" drill --target "http://$BE:8080/hello" --rate 30 --long 8 \
  --agent 127.0.0.1:15020 --agent "$BE:15020" \
  --server-admin "$WARD_WL/admin.sock" --server-pid "$WARD_SERVER_PID" \
  --plan svids,ca,root --fault workload-api-down:5s --interval 4s \
  --json "$OUT/drill-report.json" --html "$OUT/drill-report.html" ${DRILL_ARGS:-} || rc=$?
echo
echo "open $OUT/drill-report.html in a browser (one self-contained page)"
exit "$rc"
