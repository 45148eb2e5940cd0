#!/usr/bin/env bash
# e2e (issue 10, item 4): `ward server`'s Workload API socket is open to every
# local user (mode 0777, attestation decides). A uid with no entry opens 1100
# connections and keeps them open without a word (reopening whatever is
# closed); registered workloads must still get their SVIDs: an agent started
# during the attack loads its identity, one-shot fetches by another registered
# uid succeed, and the server holds the attacker within its limits.
#   uids: 1337 and 1338 have entries; 4242 has none (the attacker).
# Needs root. WARD_BIN overrides the binary (default build/ward).
ulimit -n 20000 2>/dev/null || true
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT

pod_add a 1
wlserver_config 3600 1337:a 1338:b
wlserver_start
ATTACKER=4242

open_conns() { # connections the server holds now (its socket fds; the listener is one)
  ls -l "/proc/$WARD_SERVER_PID/fd" 2>/dev/null | grep -c 'socket:' || true
}
# fetches N: how many of N one-shot SVID fetches by uid 1338 (ward agent --check) succeed.
fetches() {
  local ok=0
  for _ in $(seq 1 "$1"); do
    setpriv --reuid 1338 --regid 1338 --clear-groups timeout 10 \
      "$WARD_BIN" agent --check --config "$WARD_TMP/b.json" >/dev/null 2>&1 && ok=$((ok + 1))
  done
  echo "$ok"
}
agent_config_wl b 1338 >/dev/null
check "before the attack, a fetch works" test "$(fetches 1)" -eq 1

echo "-- uid $ATTACKER (no entry) holds 1100 silent connections"
ATTACK_UID=$ATTACKER attack - unix "$WARD_WL/api.sock" 1100
check "the attacker opened 1100 connections" attack_wait 1100
sleep 1
n=$(fetches 10)
held=$(open_conns)
echo "  one-shot fetches by uid 1338: $n of 10; the server holds $held sockets"
check "registered uids still get their SVIDs (10 of 10)" test "$n" -eq 10
PROXY_UID=1337 agent_start a "$(agent_config_wl a 1337)"
check "an agent started during the attack loads its identity" \
  wait_log a 0 10 '"event":"identity_loaded"' 'sa/a'
check "the server holds at most max_pending (128) of the attacker's connections" \
  test "$held" -le 136
check "the server says what it shed" grep -q '"event":"workload_api_shed"' "$WARD_TMP/wlserver.log"

kill "$ATTACK_PID"

echo "-- a connection that never sends the HTTP/2 preface is closed"
t0=$(date +%s%N)
setpriv --reuid $ATTACKER --regid $ATTACKER --clear-groups timeout 20 "$WARD_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
while s.recv(4096):  # the server'"'"'s SETTINGS, then its close
    pass' "$WARD_WL/api.sock" || true
ms=$((($(date +%s%N) - t0) / 1000000))
echo "  closed after ${ms} ms"
check "within idle_timeout_ms (5 s, not never)" test "$ms" -lt 8000
summary "workload API flood e2e"
