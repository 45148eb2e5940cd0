#!/usr/bin/env bash
# e2e (issue 10, item 2): unauthenticated sockets must not take the mesh's
# connection slots. An attacker pod x opens TCP connections to b's captured
# port and never sends a byte (opening a new one whenever b drops one); b has
# limits.max_connections 200. Meanwhile a -> b (inbound mTLS) and b -> a
# (b's own outbound) must keep working, the unauthenticated connections must
# stay within b's handshake budget (here limits.max_handshakes 256 and
# limits.max_handshakes_per_source 64, small enough to fill), and what was
# shed is counted. The same for silent connections to b's tunnel port.
#   a, b: agents; x: the attacker, no agent, 8 addresses.
# Needs root. WARD_BIN overrides the binary (default build/ward); BUDGET
# overrides b's budget keys (BUDGET= for a binary that has none).
set -euo pipefail
ulimit -n 20000 2>/dev/null || true # the attacker's sockets, and b's
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "handshake budget e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add b 2
A=$(pod_ip a) B=$(pod_ip b)
attacker_pod x 3
certs_for a b
LOG_LEVEL=info agent_start a "$(LOG_LEVEL=info agent_config a)"
BUDGET=${BUDGET-', "max_handshakes": 256, "max_handshakes_per_source": 64'}
agent_start b "$(LOG_LEVEL=info agent_config b ', "limits": { "max_connections": 200'"$BUDGET"' }')"
b_pid=${WARD_PIDS[-1]}
serve a echo 8080
serve b echo 8080

metric() {
  pod b curl -s --max-time 5 http://127.0.0.1:15020/metrics | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$b_pid/status"; }
# traffic SECONDS: a -> b and b -> a, new connections back to back; prints both
# clients' "load: N ok, M failed" lines and fails if any request failed.
traffic() {
  local rc=0
  rm -f "$WARD_TMP/stop"
  mesh a load "$B" 8080 "$WARD_TMP/stop" >"$WARD_TMP/in.out" &
  local in=$!
  mesh b load "$A" 8080 "$WARD_TMP/stop" >"$WARD_TMP/out.out" &
  local out=$!
  sleep "$1"
  touch "$WARD_TMP/stop"
  wait "$in" || rc=1
  wait "$out" || rc=1
  echo "  a -> b (inbound at b):  $(cat "$WARD_TMP/in.out")"
  echo "  b -> a (outbound at b): $(cat "$WARD_TMP/out.out")"
  return $rc
}

# flood KIND PORT N SOURCES: the attacker holds N connections of KIND to b's
# PORT from SOURCES while new connections run both ways (none may fail); then
# inflight is what b holds unauthenticated.
flood() {
  attack x "$1" "$B" "$2" "$3" "$4"
  check "the attacker opened $3 connections" attack_wait "$3"
  check "requests both ways succeed, none failed" traffic 3
  inflight=$(metric ward_handshakes_in_progress)
}

rss0=$(rss_kb)
echo "-- 400 silent connections from one address (max_connections 200)"
flood silent 8080 400 "$(pod_ip x)"
echo "  unauthenticated connections held by b: $inflight"
check "b holds at most max_handshakes (256) of them" test "$inflight" -le 256 -a "$inflight" -ge 64
check "once full, the attacker's own oldest made way (counted as source_limit)" \
  test "$(metric 'ward_handshakes_shed_total{reason="source_limit"}')" -gt 0
kill "$ATTACK_PID"

echo "-- 1600 silent connections from 8 addresses"
flood silent 8080 1600 "$SOURCES"
rss1=$(rss_kb)
echo "  unauthenticated connections held by b: $inflight; b's RSS ${rss0} kB fresh, ${rss1} kB under attack"
check "b holds at most max_handshakes (256) of them" test "$inflight" -le 256 -a "$inflight" -ge 64
check "once full, the oldest made way (counted as worker_limit)" \
  test "$(metric 'ward_handshakes_shed_total{reason="worker_limit"}')" -gt 0
check "sheds are logged (handshake_shed)" grep -q '"event":"handshake_shed"' "$WARD_TMP/b.log"
kill "$ATTACK_PID"

echo "-- 1600 silent connections from 8 addresses to the tunnel port (15008)"
shed0=$(metric 'ward_handshakes_shed_total{reason="worker_limit"}')
flood silent 15008 1600 "$SOURCES"
echo "  unauthenticated connections held by b: $inflight; b's RSS $(rss_kb) kB"
check "b holds at most max_handshakes (256) of them" test "$inflight" -le 256 -a "$inflight" -ge 64
check "the tunnel listener sheds the oldest too" \
  test "$(metric 'ward_handshakes_shed_total{reason="worker_limit"}')" -gt "$shed0"
check "a's requests went through the tunnel" \
  test "$(pod a curl -s --max-time 5 http://127.0.0.1:15020/metrics |
    awk '$1 ~ /^ward_tunnel_streams_total\{direction="outbound",result="opened"/ { s += $2 } END { print s + 0 }')" -gt 0
kill "$ATTACK_PID"

echo "-- 1600 connections from one address, each sending one byte (0x16) and no more"
src0=$(metric 'ward_handshakes_shed_total{reason="source_limit"}')
flood onebyte 8080 1600 "$(pod_ip x)"
echo "  unauthenticated connections held by b: $inflight"
check "b holds at most max_handshakes (256) of them" test "$inflight" -le 256
check "a byte each does not lift the source's share: its own oldest made way (source_limit)" \
  test "$(metric 'ward_handshakes_shed_total{reason="source_limit"}')" -gt "$src0"
kill "$ATTACK_PID"
gone() { [ "$(metric ward_handshakes_in_progress)" -eq 0 ]; }
for _ in $(seq 1 50); do gone && break; sleep 0.1; done
check "once the attacker is gone, nothing unauthenticated is held" gone
check "and mesh traffic still flows" traffic 1
summary "handshake budget e2e"
