#!/usr/bin/env bash
# Past the file-descriptor limit the agent refuses new connections (logged),
# keeps the ones it has, and serves again once descriptors are free. At start
# the agent raises its soft limit to the hard one and says when the hard
# limit cannot carry limits.max_connections; `ward doctor` reports the
# agent's limit, not its own.
source "$(dirname "$0")/lib.sh"
trap ward_cleanup EXIT
need_root

pod_add a 1
pod_add b 2
certs_for a b
# a: soft 256, hard as this shell's (a root without CAP_SYS_RESOURCE cannot
# raise it), 1000 connections (2064 descriptors).
hard=$(ulimit -Hn)
cfg_a=$(LOG_LEVEL=info agent_config a ', "limits": { "max_connections": 1000 }')
pod a "$WARD_BIN" iptables --proxy-uid "$PROXY_UID" >/dev/null
pod_bg a prlimit --nofile="256:$hard" "$WARD_BIN" agent --config "$cfg_a" 2>>"$WARD_TMP/a.log"
a_pid=${WARD_PIDS[-1]}
for _ in $(seq 100); do grep -q '"event":"ready"' "$WARD_TMP/a.log" && break; sleep 0.05; done
check "a raised its soft limit to the hard one" \
  grep -Eq "^Max open files +$hard +$hard " "/proc/$a_pid/limits"
check "... and said so" grep -q "\"event\":\"fd_limit_raised\",\"from\":256,\"to\":$hard" \
  "$WARD_TMP/a.log"
check "... and no warning: the hard limit carries 1000 connections" \
  bash -c "! grep -q fd_limit_low '$WARD_TMP/a.log'"
doctor_fd() { # POD CONFIG: the doctor's fd_limit check, as "status value"
  pod "$1" prlimit --nofile=4096: "$WARD_BIN" doctor --json --config "$2" |
    "$WARD_PY" -c 'import json,sys
c = [c for c in json.load(sys.stdin)["checks"] if c["name"] == "fd_limit"][0]
print(c["status"], c["value"])'
}
# The doctor runs with a soft limit of 4096: what it reports is the agent's.
check "ward doctor reports a's limit (ok), not its own" \
  grep -q "^ok $hard for the agent (pid $a_pid, hard limit $hard; limits.max_connections: 1000)" \
  <(doctor_fd a "$cfg_a")
# b gets 64 descriptors: each inbound connection needs two (peer + app).
cfg=$(LOG_LEVEL=info agent_config b)
pod b "$WARD_BIN" iptables --proxy-uid "$PROXY_UID" >/dev/null
pod_bg b prlimit --nofile=64:64 "$WARD_BIN" agent --config "$cfg" 2>>"$WARD_TMP/b.log"
b_pid=${WARD_PIDS[-1]}
for _ in $(seq 100); do grep -q '"event":"ready"' "$WARD_TMP/b.log" && break; sleep 0.05; done
check "b warns that its hard limit cannot carry limits.max_connections" grep -q \
  '"event":"fd_limit_low","soft":64,"hard":64,"needed":20064,"max_connections":10000' \
  "$WARD_TMP/b.log"
check "ward doctor reports b's limit (fail), not its own" \
  grep -q "^fail 64 for the agent (pid $b_pid, hard limit 64;" <(doctor_fd b "$cfg")
pod_bg b socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'cat'
wait_port b 8080

# A long-lived connection made before the flood.
exec 7> >(pod a socat -t 30 - "TCP:$(pod_ip b):8080" >"$WARD_TMP/long.out")
echo before >&7
# 60 more held open: far past what 64 descriptors allow.
pod_bg a /usr/bin/python3 "$WARD_ROOT/tests/bench/hold_conns.py" "$(pod_ip b)" 8080 60 connect
flood=${WARD_PIDS[-1]}
# Where the limit bites depends on the build: Debian's wolfSSL opens /dev/urandom
# for every new session, so wolfSSL_new fails first (conn_refused); ward's
# wolfSSL 5.9 seeds with getrandom(), so the connection to the app does
# (connect_failed, "too many open files"). Connections libuv sheds at accept
# (its reserve-descriptor trick) are reset without a callback.
out_of_fds='"event":"(conn_refused|connect_failed)".*"reason":"[^"]*(too many open files|wolfSSL_new failed)'
for _ in $(seq 60); do grep -Eq "$out_of_fds" "$WARD_TMP/b.log" && break; sleep 0.1; done
check "b refused connections past its descriptor limit (logged)" grep -Eq "$out_of_fds" "$WARD_TMP/b.log"
check "b is still running" kill -0 "$b_pid"
echo after >&7
sleep 0.5
check "the connection made before the flood still echoes" grep -q after "$WARD_TMP/long.out"
kill "$flood" 2>/dev/null || true
sleep 1
got=$(echo again | timeout 5 ip netns exec "$WARD_RUN-a" socat -t 2 - "TCP:$(pod_ip b):8080" || true)
check "with descriptors free again, a new connection works" test "$got" = again
exec 7>&-
summary "fd limit e2e"
