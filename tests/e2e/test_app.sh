#!/usr/bin/env bash
# e2e: what the app sees (README "What the app sees").
#   1. reach the app where it listens: pod IP only, loopback only (and the
#      remembered fallback), both, neither; IPv4 and IPv6
#   2. PROXY protocol v2 towards the app, read by real consumers: HAProxy
#      (accept-proxy; addresses, v4 and v6) and Squid (the caller's address and
#      the SPIFFE ID TLV in its access log); ports not listed get no header;
#      both consumers refuse a malformed header
#   3. the caller's address preserved without PROXY protocol (IP_TRANSPARENT +
#      ward iptables --preserve-source), v4 and v6, with a 4-tuple clash forced;
#      refused without CAP_NET_ADMIN
#   4. /stats/connections and conn_close show what the app was told
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "app e2e: $WARD_BIN not built" >&2; exit 1; }

WHOAMI=$WARD_ROOT/tests/e2e/whoami.py
pod_add a 1
pod_add b 2
A=$(pod_ip a) B=$(pod_ip b)
A6=fd00:$WARD_NET::1 B6=fd00:$WARD_NET::2
pod a ip addr add "$A6/64" dev eth0 nodad
pod b ip addr add "$B6/64" dev eth0 nodad
ID_A=spiffe://example.org/ns/default/sa/a
certs_for a b

fails() { ! "$@" >/dev/null 2>&1; }
# app NAME ADDR PORT: a whoami app in pod b listening on ADDR:PORT only.
app() {
  pod_bg b "$WARD_PY" "$WHOAMI" serve "$2" "$3" "$1"
  wait_port b "$3"
}
# ask HOST PORT WANT: from pod a through both agents, the app's first line starts with WANT.
ask() {
  local got
  got=$(pod a timeout 15 "$WARD_PY" "$WHOAMI" ask "$1" "$2" 2>&1) || true
  case "$got" in
    "$3"*) return 0 ;;
    *) echo "  app said '$got', want '$3...'" >&2; return 1 ;;
  esac
}

agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"

echo "-- 1. the app is reached where it listens"
app podip "$B" 8100
app lo 127.0.0.1 8101
app both-pod "$B" 8102
app both-lo 127.0.0.1 8102
app podip6 "$B6" 8103
app lo6 ::1 8104
mb=$(log_mark b)
check "app bound to the pod IP only answers, and sees the pod IP" ask "$B" 8100 "podip peer=$B:"
check "b logs it reached the app at the pod IP" wait_log b "$mb" 3 '"event":"conn_close"' \
  "\"addr\":\"$B:8100\"" '"via":"pod_ip"' '"retried":false'
mb=$(log_mark b)
check "app bound to loopback only answers (after a refused connect on the pod IP)" \
  ask "$B" 8101 "lo peer=127.0.0.1:"
check "b logs the loopback fallback" wait_log b "$mb" 3 '"event":"conn_close"' \
  '"addr":"127.0.0.1:8101"' '"via":"loopback"' '"retried":true'
mb=$(log_mark b)
check "the next connection goes to loopback at once" ask "$B" 8101 "lo peer=127.0.0.1:"
check "b remembered the port: no refused connect" wait_log b "$mb" 3 '"event":"conn_close"' \
  '"addr":"127.0.0.1:8101"' '"via":"loopback"' '"retried":false'
check "app on both: the pod IP wins" ask "$B" 8102 "both-pod peer=$B:"
mb=$(log_mark b)
check "no app at all: the connection fails" fails ask "$B" 8105 "x"
check "b says it tried both addresses" wait_log b "$mb" 3 '"event":"connect_failed"' \
  'ECONNREFUSED on the pod IP and on loopback, port 8105'
check "IPv6: app on the pod IP only" ask "$B6" 8103 "podip6 peer=[$B6]:"
check "IPv6: app on [::1] only" ask "$B6" 8104 "lo6 peer=[::1]:"

summary "app e2e"
