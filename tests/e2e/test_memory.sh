#!/usr/bin/env bash
# e2e (issue 10, item 6): memory taken in a burst is given back when it ends.
# 2000 connections a -> b, each proven with an echo, held, then closed; twice.
# Both agents' RSS and private memory (USS, from /proc/PID/smaps_rollup) are
# read fresh, with the connections held, and a few seconds after they closed.
# The agents must give back most of what the burst took, every time. Then
# `ward server` under clients that open streams and never read: it lets them
# go and gives their memory back.
#   a, b: agents (one worker each); b runs the echo app.
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
ulimit -n 20000 2>/dev/null || true
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "memory e2e: $WARD_BIN not built" >&2; exit 1; }
N=${MEMORY_CONNS:-2000}

pod_add a 1
pod_add b 2
certs_for a b
agent_start a "$(LOG_LEVEL=info agent_config a)"
a_pid=${WARD_PIDS[-1]}
agent_start b "$(LOG_LEVEL=info agent_config b)"
b_pid=${WARD_PIDS[-1]}
serve b echo 8080

# kb FIELD: the two agents' summed smaps_rollup FIELD (Rss, Pss, Private_*), kB.
kb() {
  local sum=0 p v
  for p in "$a_pid" "$b_pid"; do
    v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup")
    sum=$((sum + v))
  done
  echo "$sum"
}
uss() { echo $(($(kb Private_Clean) + $(kb Private_Dirty))); }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
line() { echo "  $1: RSS $(mib "$(kb Rss)") MiB, USS $(mib "$(uss)") MiB"; }

rss0=$(kb Rss)
line "fresh"
for cycle in 1 2; do
  echo "-- cycle $cycle: $N connections"
  pod_bg a "$WARD_PY" "$WARD_ROOT/tests/bench/hold_conns.py" "$(pod_ip b)" 8080 "$N" echo \
    >"$WARD_TMP/hold.out"
  holder=${WARD_PIDS[-1]}
  for _ in $(seq 1 600); do grep -q '^held' "$WARD_TMP/hold.out" && break; sleep 0.1; done
  check "$N connections held, each proven by an echo" grep -q "^held $N" "$WARD_TMP/hold.out"
  held=$(kb Rss) held_uss=$(uss)
  line "holding"
  kill "$holder"
  wait "$holder" 2>/dev/null || true
  # The agents see the closes, then their next trim tick (1 s) gives memory back.
  sleep 4
  after=$(kb Rss) after_uss=$(uss)
  line "closed"
  back=$(( (held - after) * 100 / (held - rss0 > 0 ? held - rss0 : 1) ))
  echo "  given back: ${back}% of what the burst added to RSS"
  check "most of the burst's memory is given back (>= 60%)" test "$back" -ge 60
done

echo "-- ward server: 50 clients x 100 streams that never read, 3 forced rotations"
wlserver_config 3600 "$PROXY_UID:a"
wlserver_start
srss() { awk '/^VmRSS:/ { print $2 }' "/proc/$WARD_SERVER_PID/status"; }
s0=$(srss)
echo "  fresh: RSS $(mib "$s0") MiB"
(cd "$WARD_ROOT/tests/e2e" && exec setpriv --reuid "$PROXY_UID" --regid "$PROXY_UID" --clear-groups \
  "$WARD_PY" slowread.py "$WARD_WL/api.sock" 50 100) >"$WARD_TMP/slow.out" 2>&1 &
slow=$!
WARD_PIDS+=("$slow")
for _ in $(seq 1 300); do grep -q '^open' "$WARD_TMP/slow.out" && break; sleep 0.1; done
check "50 connections with 100 streams each, open" grep -q '^open 50' "$WARD_TMP/slow.out"
# Forced rotations re-issue and push at once; their answer may wait for the
# streams that do not read (a drill's delivery check): not waited for here.
for r in 1 2 3; do
  timeout 10 "$WARD_BIN" server rotate svids --admin "$WARD_WL/admin.sock" >/dev/null 2>&1 &
  sleep 1
done
s1=$(srss)
echo "  with the slow readers: RSS $(mib "$s1") MiB"
# They never read: the server lets them go after write_stall_ms (10 s), and
# gives the memory back.
for _ in $(seq 1 30); do
  [ "$(grep -c '"reason":"stalled"' "$WARD_TMP/wlserver.log")" -ge 50 ] && break
  sleep 1
done
check "the server closed the 50 stalled connections" \
  test "$(grep -c '"reason":"stalled"' "$WARD_TMP/wlserver.log")" -ge 50
sleep 2
s2=$(srss)
echo "  after the server closed them: RSS $(mib "$s2") MiB"
back=$(( (s1 - s2) * 100 / (s1 - s0 > 0 ? s1 - s0 : 1) ))
echo "  given back: ${back}% of what the slow readers added"
check "the server gives most of it back (>= 60%)" test "$back" -ge 60
kill "$slow" 2>/dev/null || true
summary "memory e2e"
