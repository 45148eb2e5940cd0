#!/usr/bin/env bash
# make soak: ward under steady load for a long time, its SVIDs rotating, in the
# bench's two-pod topology (tests/e2e/lib.sh): pod a's wrk -> ward a -> mTLS ->
# ward b -> HAProxy in pod b returning 1 KiB. The agents take their SVIDs from
# `ward server` (short TTL: each SVID rotates at half its life). Half the
# requests ride kept-alive connections, half open a new app connection each:
# through the tunnel (the agents' default) a new stream on the pooled mTLS
# connection, which drains and is replaced at every rotation; with
# WARD_TUNNEL=never a full mTLS handshake each. Sampled every SOAK_SAMPLE_S: RSS, PSS, USS and descriptors of
# both agents and the server, the agents' handshake histograms and rotations.
# Reported per minute, then the verdict: PASS when no request failed and the
# private memory and descriptors at the end are those of minute 3 (within 10%).
#   tests/bench/soak.sh             (make soak; needs root, wrk, haproxy, curl)
# Env: WARD_BIN (build/ward), SOAK_DURATION seconds (1800), SOAK_RATE requests/s
#   (1000), SOAK_NEW_PERCENT of them on new connections (50), SOAK_SVID_TTL_S (20:
#   a rotation every 10 s), SOAK_SAMPLE_S (10), SOAK_OUT report file
#   (build/soak-<date>.txt), WORKERS per agent (1), WARD_TUNNEL (the agents'
#   outbound.tunnel: unset = auto, never = direct mTLS).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WARD_ROOT=${WARD_ROOT:-$(cd "$BENCH_DIR/../.." && pwd)}
export WARD_BIN=${WARD_BIN:-$WARD_ROOT/build/ward}
export LOG_LEVEL=${LOG_LEVEL:-info}
export WORKERS=${WORKERS:-1}
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$WARD_ROOT/tests/e2e/lib.sh"
# shellcheck source=app.sh
source "$BENCH_DIR/app.sh"
need_root
trap ward_cleanup EXIT

DUR=${SOAK_DURATION:-1800}
RATE=${SOAK_RATE:-1000}
NEW_PERCENT=${SOAK_NEW_PERCENT:-50}
TTL=${SOAK_SVID_TTL_S:-20}
SAMPLE=${SOAK_SAMPLE_S:-10}
OUT=${SOAK_OUT:-$WARD_ROOT/build/soak-$(date +%Y%m%d-%H%M%S).txt}
DELAY_MS=10 # each wrk connection sends one request every 10 ms: 100 req/s
APP_PORT=8080

die() { echo "soak: $*" >&2; exit 1; }
for tool in wrk haproxy curl; do
  command -v "$tool" >/dev/null || die "$tool missing (make deps-bench)"
done
[ -x "$WARD_BIN" ] || die "$WARD_BIN not built"
new_conns=$(((RATE * NEW_PERCENT / 100 + 50) / 100))
ka_conns=$(((RATE - new_conns * 100 + 50) / 100))
mkdir -p "$(dirname "$OUT")"

pod_add a 1
pod_add b 2
B=$(pod_ip b)
wlserver_config "$TTL" 1337:a 1338:b
sed -i 's/"log": { "level": "debug" }/"log": { "level": "info" }/' "$WARD_WL/server.json"
wlserver_start
PROXY_UID=1337 agent_start a "$(agent_config_wl a 1337)"
PROXY_UID=1338 agent_start b "$(agent_config_wl b 1338)"
bench_app b "$APP_PORT"
wait_port b "$APP_PORT"
a_pid=$(agent_pid 1) b_pid=$(agent_pid 2)

{
  echo "ward soak, $(date -Is): $(git -C "$WARD_ROOT" describe --always --dirty 2>/dev/null || echo '?'),"
  echo "  $(nproc) CPUs (shared with other work: load average $(cut -d' ' -f1-3 /proc/loadavg)),"
  echo "  ${DUR}s at $RATE req/s: $((ka_conns * 100)) on $ka_conns kept-alive connections," \
    "$((new_conns * 100)) on a new connection each; SVID TTL ${TTL}s (a rotation every $((TTL / 2))s);"
  echo "  outbound.tunnel ${WARD_TUNNEL:-auto (the default)}"
} | tee "$OUT"
"$WARD_PY" "$BENCH_DIR/soak_sample.py" sample "$WARD_TMP/samples.jsonl" "$SAMPLE" \
  "a=$a_pid@$WARD_RUN-a" "b=$b_pid@$WARD_RUN-b" "server=$WARD_SERVER_PID" &
WARD_PIDS+=($!)
pod_bg a wrk -t1 -c"$ka_conns" -d"${DUR}s" --timeout 5s -s "$BENCH_DIR/wrk-report.lua" \
  "http://$B:$APP_PORT/" -- "$DELAY_MS" >"$WARD_TMP/wrk-ka.txt" 2>&1
ka=${WARD_PIDS[-1]}
pod_bg a wrk -t1 -c"$new_conns" -d"${DUR}s" --timeout 5s -s "$BENCH_DIR/wrk-report.lua" \
  -H "Connection: close" "http://$B:$APP_PORT/" -- "$DELAY_MS" >"$WARD_TMP/wrk-new.txt" 2>&1
new=${WARD_PIDS[-1]}
wait "$ka" "$new" || true
sleep "$SAMPLE"
for p in "$a_pid" "$b_pid" "$WARD_SERVER_PID"; do
  kill -0 "$p" 2>/dev/null || die "process $p died during the soak (logs: $WARD_TMP)"
done
echo | tee -a "$OUT"
for w in ka new; do grep -h '^WRK' "$WARD_TMP/wrk-$w.txt" | sed "s/^/  wrk $w: /" | tee -a "$OUT"; done
rc=0
"$WARD_PY" "$BENCH_DIR/soak_sample.py" report "$WARD_TMP/samples.jsonl" \
  "$WARD_TMP/wrk-ka.txt" "$WARD_TMP/wrk-new.txt" | tee -a "$OUT" || rc=1
grep -q '^soak: PASS' "$OUT" || rc=1
echo "soak: report in $OUT"
exit $rc
