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
# Traffic goes through the tunnel (outbound.tunnel auto), except ports 3130
# and 8097, which a excludes from it (outbound.tunnel_exclude_ports): Squid
# is read both ways, and the 4-tuple clash exists only on the direct path.
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "app e2e: $WARD_BIN not built" >&2; exit 1; }

WHOAMI=$WARD_ROOT/tests/e2e/whoami.py
pod_add a 1
pod_add b 2
pod_add c 3
pod_add d 4
A=$(pod_ip a) B=$(pod_ip b) C=$(pod_ip c)
A6=fd00:$WARD_NET::1 B6=fd00:$WARD_NET::2 C6=fd00:$WARD_NET::3
pod a ip addr add "$A6/64" dev eth0 nodad
pod b ip addr add "$B6/64" dev eth0 nodad
pod c ip addr add "$C6/64" dev eth0 nodad
ID_A=spiffe://example.org/ns/default/sa/a
certs_for a b c d

fails() { ! "$@" >/dev/null 2>&1; }
# wait_log_file FILE SECONDS TEXT: a line of FILE holds TEXT.
wait_log_file() {
  local i
  for i in $(seq 1 $(($2 * 10))); do
    grep -qF -- "$3" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "  no line with '$3' in $1:" >&2
  tail -n 5 "$1" >&2 || true
  return 1
}
# app NAME ADDR PORT [first]: a whoami app in pod b (or $APP_POD) listening on ADDR:PORT only.
app() {
  pod_bg "${APP_POD:-b}" "$WARD_PY" "$WHOAMI" serve "$2" "$3" "$1" "${@:4}"
  wait_port "${APP_POD:-b}" "$3"
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

agent_start a "$(agent_config a ', "outbound": { "tunnel_exclude_ports": [3130, 8097] }')"
agent_start b "$(agent_config b ', "inbound": { "proxy_protocol_ports": [8090, 8093, 3129, 3130] }')"
PRESERVE=', "inbound": { "preserve_source": true }'
IPTABLES_ARGS=--preserve-source agent_start c "$(agent_config c "$PRESERVE")"

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

echo "-- 2. PROXY protocol v2 towards the app, read by HAProxy and Squid"
cat >"$WARD_TMP/haproxy.cfg" <<CFG
global
  log stdout format raw local0
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend listed
  bind :8090 accept-proxy
  bind [::]:8090 v6only accept-proxy
  log-format "haproxy src=%[src]:%[src_port] dst=%[dst]:%[dst_port]"
  http-request return status 200 content-type text/plain lf-string "haproxy src=%[src]:%[src_port] dst=%[dst]:%[dst_port]\n"
frontend unlisted
  bind :8092 accept-proxy
  http-request return status 200 content-type text/plain lf-string "haproxy src=%[src]\n"
CFG
mkdir -p "$WARD_TMP/squid"
chmod 777 "$WARD_TMP/squid"
cat >"$WARD_TMP/squid/squid.conf" <<CFG
http_port 3129 require-proxy-header
http_port 3130 require-proxy-header
proxy_protocol_access allow all
http_access allow all
logformat ward squid client=%>a tlv208=%proxy_protocol::>h{208} dst=%proxy_protocol::>h{:dst_addr}:%proxy_protocol::>h{:dst_port} %rm %ru %>Hs
access_log stdio:$WARD_TMP/squid/access.log ward
cache_log stdio:$WARD_TMP/squid/cache.log
cache deny all
pid_filename none
coredump_dir $WARD_TMP/squid
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
pinger_enable off
CFG
echo "hello-through-squid" >"$WARD_TMP/index.html"
chmod 644 "$WARD_TMP/index.html"
pod_bg b haproxy -db -f "$WARD_TMP/haproxy.cfg" >"$WARD_TMP/haproxy.log" 2>&1
pod_bg b squid -N -f "$WARD_TMP/squid/squid.conf" >"$WARD_TMP/squid/stderr.log" 2>&1
pod_bg b "$WARD_PY" -m http.server 8000 --bind 127.0.0.1 --directory "$WARD_TMP" >/dev/null 2>&1
app pp "$B" 8093 first
wait_port b 8090
wait_port b 8092
wait_port b 3129
wait_port b 3130
wait_port b 8000
# body POD URL [curl args]: the body curl got
body() { pod a curl -sS --max-time 5 "${@:2}" "$1" 2>&1 || true; }
got=$(body "http://$B:8090/")
# Through the tunnel the port is curl's own, from the stream's Forwarded header.
check "HAProxy read the caller's address and the dialled one from the header" \
  grep -q "^haproxy src=$A:[1-9][0-9]* dst=$B:8090\$" <<<"$got"
got6=$(body "http://[$B6]:8090/" -g)
check "IPv6: HAProxy read the v6 addresses" grep -q "^haproxy src=$A6:[1-9][0-9]* dst=$B6:8090\$" <<<"$got6"
check "a port not listed gets no header: HAProxy (accept-proxy) refuses it" \
  fails grep -q haproxy <<<"$(body "http://$B:8092/")"
for port in 3129 3130; do
  how=$([ $port = 3129 ] && echo "through the tunnel" || echo "direct mTLS")
  mb=$(log_mark b)
  got=$(body "http://127.0.0.1:8000/index.html" -x "http://$B:$port")
  check "Squid (require-proxy-header) served a request through it, $how" \
    test "$got" = "hello-through-squid"
  check "Squid logged the caller's address and its SPIFFE ID from TLV 0xD0, $how" \
    wait_log_file "$WARD_TMP/squid/access.log" 3 \
    "squid client=$A tlv208=$ID_A dst=$B:$port GET http://127.0.0.1:8000/index.html 200"
  check "... b's conn_close says $how" wait_log b "$mb" 5 '"event":"conn_close"' \
    "\"addr\":\"$B:$port\"" "\"mode\":\"$([ $port = 3129 ] && echo tunnel || echo mtls)\""
done
got=$(pod a timeout 10 "$WARD_PY" "$WHOAMI" lines "$B" 8093 2 2>&1 || true)
check "server-first app: the header arrives first, though the client sent nothing" \
  grep -q "^first16=0d0a0d0a000d0a515549540a2111" <<<"$got"
# The consumers are strict: a header whose TLV overruns its length is refused.
good=0d0a0d0a000d0a515549540a2111000c0a0000010a0000029c401f9a
bad=0d0a0d0a000d0a515549540a211100110a0000010a0000029c401f9ad000100000
req=$(printf 'GET / HTTP/1.0\r\n\r\n' | od -An -tx1 | tr -d ' \n')
raw() { pod b timeout 10 "$WARD_PY" "$WHOAMI" raw 127.0.0.1 "$1" "$2$req" 2>&1 || true; }
check "control: HAProxy takes a well-formed header sent by hand" \
  grep -q "haproxy src=10.0.0.1:40000" <<<"$(raw 8090 "$good")"
check "HAProxy refuses a header whose TLV overruns it" \
  fails grep -q haproxy <<<"$(raw 8090 "$bad")"
check "Squid refuses it too" fails grep -q "HTTP/1" <<<"$(raw 3129 "$bad")"

echo "-- 3. the caller's address, preserved (inbound.preserve_source)"
APP_POD=c app keep "$C" 8095
APP_POD=c app keep6 "$C6" 8096
APP_POD=c app keeplo 127.0.0.1 8098
mc=$(log_mark c)
check "the app's accept() returns the caller's address" ask "$C" 8095 "keep peer=$A:"
check "c logs the preserved source" wait_log c "$mc" 3 '"event":"conn_close"' \
  "\"addr\":\"$C:8095\"" "\"source\":\"$A:" '"preserve_source":true' '"proxy_header":false'
check "IPv6: the app sees the caller's v6 address" ask "$C6" 8096 "keep6 peer=[$A6]:"
mc=$(log_mark c)
check "an app only on loopback is not reached with a preserved source" fails ask "$C" 8098 x
check "c says why" wait_log c "$mc" 3 '"event":"connect_failed"' \
  'with inbound.preserve_source the app must listen on the pod IP'
cpid=$(agent_pid 2)
check "c's agent runs as the proxy uid with CAP_NET_ADMIN alone" \
  grep -q "^CapEff:.*0000000000001000$" "/proc/$cpid/status"
check "... and uid $PROXY_UID" grep -qP "^Uid:\t$PROXY_UID\t" "/proc/$cpid/status"
# One port for every new connection of c, and the same one for a's agent (its
# source ports, lib/ports.h: none above the ephemeral range, 40000 reserved;
# read again within 5 s): ward c's connection to the app then has the same
# 4-tuple as a's connection to it, which iptables REDIRECTed; only the
# conntrack zone of --preserve-source keeps them apart.
pod a sysctl -qw net.ipv4.ip_local_port_range="32768 65535"
pod a sysctl -qw net.ipv4.ip_local_reserved_ports="40000"
pod c sysctl -qw net.ipv4.ip_local_port_range="40000 40001"
APP_POD=c app clash "$C" 8097
sleep 6
# The client's own port is outside the range, so the agents get 40000.
pod_bg a timeout 10 "$WARD_PY" "$WHOAMI" lines "$C" 8097 1 5 45000 >"$WARD_TMP/clash.out" 2>&1
stats_show() { # POD PY-CONDITION-ON-c: some live connection c satisfies it
  pod "$1" curl -s --max-time 3 "http://127.0.0.1:15020/stats/connections" >"$WARD_TMP/stats-$1.json"
  "$WARD_PY" -c 'import json, sys
conns = json.load(open(sys.argv[1]))["connections"]
sys.exit(0 if any(eval("(" + sys.argv[2] + ")") for c in conns) else 1)' "$WARD_TMP/stats-$1.json" "$2"
}
check "a 4-tuple clash with the caller's own connection: the app still answers" \
  wait_log_file "$WARD_TMP/clash.out" 5 "clash peer=$A:40000"
check "/stats/connections: the caller and the app's view of it share port 40000" \
  stats_show c "c.get('peer') == '$A:40000' and c.get('app', {}).get('source') == '$A:40000'"
pod a sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
pod a sysctl -qw net.ipv4.ip_local_reserved_ports=""
pod c sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
agent_refused() { # how...: ward agent with preserve_source in pod d exits 1 and says why
  local out
  out=$(pod d timeout 10 "$@" "$WARD_BIN" agent --config "$(agent_config d "$PRESERVE")" 2>&1) &&
    { echo "  agent started" >&2; return 1; }
  grep -q 'inbound.preserve_source.*CAP_NET_ADMIN' <<<"$out" || { echo "  said: $out" >&2; return 1; }
}
check "without CAP_NET_ADMIN the agent refuses to start (as the proxy uid)" \
  agent_refused setpriv --reuid="$PROXY_UID" --regid="$PROXY_UID" --clear-groups --inh-caps=-all
check "... and as root with NET_ADMIN out of its bounding set" \
  agent_refused setpriv --bounding-set=-net_admin

echo "-- 4. what the app was told, in /stats/connections"
pod_bg a timeout 10 "$WARD_PY" "$WHOAMI" lines "$B" 8093 2 5 >"$WARD_TMP/held.out" 2>&1
wait_log_file "$WARD_TMP/held.out" 5 "first16=" >/dev/null
check "b shows the app's address, the pod IP route and the PROXY header" \
  stats_show b "'app' in c and c['app'] == dict(addr='$B:8093', via='pod_ip', retried=False,
    source=c['app'].get('source'), preserve_source=False, proxy_header=True) and
    c['app']['source'].startswith('$B:')"

summary "app e2e"
