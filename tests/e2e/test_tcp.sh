#!/usr/bin/env bash
# TCP knobs on proxied sockets: tcp.congestion on upstream sockets, keepalive,
# TCP Fast Open on listeners and upstream connects (tcp.fastopen).
# The direct path (one mTLS connection per app connection); the tunnel has
# its own suite (test_tunnel.sh).
export WARD_TUNNEL=never
source "$(dirname "$0")/lib.sh"
trap ward_cleanup EXIT
need_root

cc=cubic
grep -qw bbr /proc/sys/net/ipv4/tcp_available_congestion_control && cc=bbr
pod_add a 1
pod_add b 2
certs_for a b
for p in a b; do pod "$p" sysctl -qw net.ipv4.tcp_fastopen=3; done
tcp='"tcp": {"fastopen": true, "congestion": "'$cc'", "keepalive": {"idle_s": 30, "interval_s": 5, "count": 4}}'
agent_start a "$(agent_config a ", $tcp")"
agent_start b "$(agent_config b ", $tcp")"
echo tcp-knobs >"$WARD_TMP/index.html"
pod_bg b /usr/bin/python3 -m http.server 8080 --directory "$WARD_TMP" --bind 0.0.0.0 2>/dev/null
wait_port b 8080

ok=0
for _ in 1 2 3; do
  [ "$(pod a curl -sS --max-time 5 "http://$(pod_ip b):8080/index.html")" = tcp-knobs ] && ok=$((ok + 1))
done
check "requests with fast open on succeed" test "$ok" -eq 3
check "b accepted connections with data on the SYN (TFO)" \
  sh -c "ip netns exec $WARD_RUN-b nstat -az TcpExtTCPFastOpenPassive | awk 'NR>1 && \$2 > 0 {f=1} END {exit !f}'"

# A long-lived connection to inspect: a's upstream socket to b:8080.
pod_bg a /usr/bin/python3 -c "
import socket, time
s = socket.create_connection(('$(pod_ip b)', 8080)); s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'); time.sleep(20)"
sleep 1
sockinfo=$(pod a ss -tnoi "dst $(pod_ip b):8080" | tr -s ' \n\t' ' ')
check "upstream socket uses congestion control $cc" grep -q " $cc " <<<"$sockinfo"
check "upstream socket has keepalive armed (30 s idle)" grep -Eq 'timer:\(keepalive,(29|30)' <<<"$sockinfo"
check "no socket-option warnings logged" sh -c "! grep -q sockopt_failed '$WARD_TMP/a.log' '$WARD_TMP/b.log'"
summary "tcp e2e"
