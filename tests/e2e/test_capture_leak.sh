#!/usr/bin/env bash
# e2e (issue 10, item 1): no app packet leaves the pod in clear on a captured
# path. When the agent's upstream connection ends with a reset from the far
# side (an app that closes with SO_LINGER 0, a port where nothing listens),
# no TIME-WAIT holds its 4-tuple; an app connection that the kernel then gives
# the same 4-tuple meets the agent's conntrack entry, skips the nat table's
# REDIRECT, and used to cross the wire in clear. Unpaced churn from pod a's app
# (uid 1000) to pod b (meshed, strict): an RST-closing app, a closed port, a
# normal app; every request carries its own marker, and tcpdump on a's wire
# must see none of them, in three runs of each, over IPv4 and over IPv6. The
# attack needs an agent flow per app connection: a's agent goes direct
# (outbound.tunnel never); through the tunnel, the default, its one pooled
# flow to b's port 15008 is checked once after.
#   a: client pod (capture rules, agent, the churning app); b: meshed server.
# Needs root. WARD_BIN overrides the binary (default build/ward); LEAK_N and
# LEAK_RUNS the connections per run (3000) and the runs (3).
set -euo pipefail
ulimit -n 20000 2>/dev/null || true
export WARD_TUNNEL=never
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "capture leak e2e: $WARD_BIN not built" >&2; exit 1; }
N=${LEAK_N:-3000}
RUNS=${LEAK_RUNS:-3}
APP_UID=1000
CHURN=$WARD_ROOT/tests/e2e/churn.py

pod_add a 1
pod_add b 2
pod a ip addr add "fd00:$WARD_NET::1/64" dev eth0 nodad
pod b ip addr add "fd00:$WARD_NET::2/64" dev eth0 nodad
B4=$(pod_ip b) B6=fd00:$WARD_NET::2
certs_for a b
agent_start a "$(LOG_LEVEL=info agent_config a)"
agent_start b "$(LOG_LEVEL=info agent_config b)"
pod_bg b "$WARD_PY" "$CHURN" serve 8080 rst
pod_bg b "$WARD_PY" "$CHURN" serve 8082 ok
wait_port b 8080
wait_port b 8082

# run SCENARIO PORT RUN [FAMILY]: one churn run to b (over IPv4, or 6); prints
# the client's counts and the markers seen in clear on a's wire, and fails if
# any was.
run() {
  local scen=$1 port=$2 r=$3 fam=${4:-4} tag="$1x$3v${4:-4}" pcap="$WARD_TMP/$1-$3.pcap" res leaked
  local B=$B4
  [ "$fam" = 4 ] || B=$B6
  capture_start a "$pcap" "tcp port $port"
  res=$(pod a setpriv --reuid $APP_UID --regid $APP_UID --clear-groups \
    "$WARD_PY" "$CHURN" client "$B" "$port" "$N" 32 "$tag")
  capture_stop
  leaked=$(tcpdump -nr "$pcap" -A 2>/dev/null | grep -ao "LEAKMARK-$tag-[0-9]*" | sort -u | wc -l)
  echo "    $scen v$fam run $r: app $res; markers in clear on the wire: $leaked of $N"
  rm -f "$pcap"
  [ "$leaked" -eq 0 ] || return 1
  # Through the mesh the normal app answers every request.
  [ "$scen" != normal ] || grep -q "\"answered\": $N," <<<"$res"
}

for fam in 4 6; do
  for scen in rst:8080 closed:8081 normal:8082; do
    echo "-- ${scen%%:*} (port ${scen#*:}), IPv$fam, $RUNS runs of $N connections"
    for r in $(seq 1 "$RUNS"); do
      check "${scen%%:*} v$fam run $r: no plaintext marker on the wire" \
        run "${scen%%:*}" "${scen#*:}" "$r" "$fam"
    done
  done
done

refused() {
  { pod a iptables -w -L WARD_GUARD -v -x -n; pod a ip6tables -w -L WARD_GUARD -v -x -n; } |
    awk '/REJECT/ && !/DNAT/ { s += $1 } END { print s + 0 }'
}
echo "  app SYNs the fail-closed rule refused: $(refused) (the agent's source ports never meet the app's)"

echo "-- the fail-closed rule alone: no source ports are left for the agent"
# With the ephemeral range up to 65535 and none reserved, the agent's upstream
# connections take ports from the apps' range, and 4-tuples do meet again.
pod a sysctl -qw net.ipv4.ip_local_port_range="32768 65535"
# restart_a TUNNEL: a's agent again with outbound.tunnel TUNNEL; its log mark in ma.
restart_a() {
  kill "$A_AGENT"
  wait "$A_AGENT" 2>/dev/null || true
  ma=$(log_mark a)
  pod_bg a "$WARD_BIN" agent --config "$WARD_TMP/a.json" \
    --override "{\"outbound\":{\"tunnel\":\"$1\"}}" 2>>"$WARD_TMP/a.log"
  A_AGENT=${WARD_PIDS[-1]}
  wait_log a "$ma" 10 '"event":"ready"' >/dev/null
}
A_AGENT=$(agent_pid 0)
restart_a never
check "the agent says it has no source ports of its own" \
  log_grep a "$ma" '"event":"source_ports_few"' '"ports":0'
before=$(refused)
check "rst, guard alone: no plaintext marker on the wire" run rst 8080 4
echo "  app SYNs the fail-closed rule refused: $(($(refused) - before))"
check "the rule did refuse app SYNs that skipped capture" test "$(refused)" -gt "$before"

echo "-- through the tunnel (outbound.tunnel auto, the default), one run of each"
restart_a auto
for scen in rst:8080 closed:8081 normal:8082; do
  check "${scen%%:*} through the tunnel: no plaintext marker on the wire" \
    run "${scen%%:*}" "${scen#*:}" 5
done
check "... and they went through the tunnel" \
  test "$(pod a curl -s --max-time 5 http://127.0.0.1:15020/metrics |
    awk '$1 ~ /^ward_tunnel_streams_total\{direction="outbound",result="opened"/ { s += $2 } END { print s + 0 }')" -gt 0

echo "-- ward doctor"
check "ward doctor finds the fail-closed rule" \
  bash -c "ip netns exec $WARD_RUN-a '$WARD_BIN' doctor --json --config '$WARD_TMP/a.json' |
    jq -e '.checks[] | select(.name == \"capture_rules\") | .status == \"ok\"' >/dev/null"
pod a iptables -w -D OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j WARD_GUARD
check "... and fails without it" \
  bash -c "ip netns exec $WARD_RUN-a '$WARD_BIN' doctor --json --config '$WARD_TMP/a.json' |
    jq -e '.checks[] | select(.name == \"capture_rules\") | .status == \"fail\"' >/dev/null"
summary "capture leak e2e"
