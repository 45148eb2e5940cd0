#!/usr/bin/env bash
# e2e (issue 10, item 3): the admin port is never captured, so any pod can
# reach it without mTLS. An attacker pod x holds connections with requests it
# never finishes (slowloris: the request line, then a header line every 2 s,
# reopening whatever is closed). Meanwhile the pod's own /healthz and /ready
# (loopback) and the kubelet's probes (from the node, here pod n) must keep
# getting answered. A 403 closes its connection.
#   a: the agent under attack; x: the attacker (8 addresses); n: the "node".
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
ulimit -n 20000 2>/dev/null || true
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "admin slowloris e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add n 2
A=$(pod_ip a)
attacker_pod x 3
certs_for a
agent_start a "$(LOG_LEVEL=info agent_config a)"

# probes POD URL N: how many of N GETs (one every 0.1 s, 2 s each) got a 200.
probes() {
  local ok=0 code
  for _ in $(seq 1 "$3"); do
    code=$(pod "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$2" || true)
    [ "$code" = 200 ] && ok=$((ok + 1))
    sleep 0.1
  done
  echo "$ok"
}
# all_answered: loopback /healthz and /ready from a, /ready from the node.
all_answered() {
  local h r k
  h=$(probes a http://127.0.0.1:15020/healthz 20)
  r=$(probes a http://127.0.0.1:15020/ready 20)
  k=$(probes n "http://$A:15020/ready" 20)
  echo "  answered: loopback /healthz $h/20, loopback /ready $r/20, node /ready $k/20"
  [ "$h" -eq 20 ] && [ "$r" -eq 20 ] && [ "$k" -eq 20 ]
}
metric() {
  pod a curl -s --max-time 5 http://127.0.0.1:15020/metrics | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}

echo "-- 64 slow requests from one address"
attack x slowloris "$A" 15020 64 "$(pod_ip x)"
check "the attacker opened 64 connections" attack_wait 64
sleep 2
check "every probe is answered" all_answered
check "the attacker's own oldest made way (counted)" \
  test "$(metric 'ward_admin_clients_dropped_total{reason="address_limit"}')" -gt 0
kill "$ATTACK_PID"

echo "-- 256 slow requests from 8 addresses"
attack x slowloris "$A" 15020 256 "$SOURCES"
check "the attacker opened 256 connections" attack_wait 256
sleep 2
check "every probe is answered" all_answered
check "clients were shed to make room (counted)" \
  test "$(metric 'ward_admin_clients_dropped_total{reason="full"}')" -gt 0
kill "$ATTACK_PID"

echo "-- one slow request alone is cut at admin.header_timeout_ms (1 s)"
slow=$(pod n timeout 20 "$WARD_PY" -c '
import select, socket, sys, time
s = socket.create_connection((sys.argv[1], 15020), timeout=15)
t0 = time.monotonic()
s.sendall(b"GET /healthz HTTP/1.1\r\n")
while not select.select([s], [], [], 0.3)[0]:  # a header line every 0.3 s until answered
    s.sendall(b"X-a: b\r\n")
took = time.monotonic() - t0
print("%s %.1f" % (s.recv(65536).split(b"\r\n")[0].decode().replace(" ", "_"), took))
' "$A" || true)
echo "  answer and seconds: $slow"
check "408 after about 1 s (not 10), however the head trickles in" \
  awk -v s="$slow" 'BEGIN { split(s, f, " "); exit !(f[1] == "HTTP/1.1_408_Request_Timeout" && f[2] < 4) }'
check "counted as a timeout" \
  test "$(metric 'ward_admin_clients_dropped_total{reason="timeout"}')" -gt 0

echo "-- a 403 closes the connection"
# Two requests on one connection: the refused POST, then a GET that must not be answered.
two=$(pod n timeout 5 "$WARD_PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 15020), timeout=4)
s.sendall(b"POST /drain HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
print(out.count(b"HTTP/1.1 "), out.split(b"\r\n")[0].decode(), "close" if b"Connection: close" in out else "keep")
' "$A" || true)
echo "  answers on the connection: $two"
check "one answer, 403, Connection: close, then the close" test "$two" = "1 HTTP/1.1 403 Forbidden close"
check "the agent was not drained" test "$(probes a http://127.0.0.1:15020/ready 1)" -eq 1
summary "admin slowloris e2e"
