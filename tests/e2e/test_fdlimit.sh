#!/usr/bin/env bash
# Past the file-descriptor limit the agent refuses new connections (logged),
# keeps the ones it has, and serves again once descriptors are free.
source "$(dirname "$0")/lib.sh"
trap ward_cleanup EXIT
need_root

pod_add a 1
pod_add b 2
certs_for a b
agent_start a "$(LOG_LEVEL=info agent_config a)"
# b gets 64 descriptors: each inbound connection needs two (peer + app).
cfg=$(LOG_LEVEL=info agent_config b)
pod b "$WARD_BIN" iptables --proxy-uid "$PROXY_UID" >/dev/null
pod_bg b prlimit --nofile=64:64 "$WARD_BIN" agent --config "$cfg" 2>>"$WARD_TMP/b.log"
b_pid=${WARD_PIDS[-1]}
for _ in $(seq 100); do grep -q '"event":"ready"' "$WARD_TMP/b.log" && break; sleep 0.05; done
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
