#!/usr/bin/env bash
# e2e: the data path between meshed pods, with real clients and servers.
#   pods a, b: agents, default strict mTLS; p: agent in permissive mode;
#   u (inside a's mesh_cidrs) and c (outside them): no agent.
# Scenarios: transparent mTLS (curl), only TLS on the wire (tcpdump + pcap
# parse), 12 MB both ways at once, half-close, server-first banner, 200
# concurrent connections, permissive mode, passthrough (port and CIDR).
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
# The direct path (one mTLS connection per app connection); the tunnel has
# its own suite (test_tunnel.sh).
export WARD_TUNNEL=never
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "mesh e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add p 3
pod_add u 50
pod_add c 200
B=$(pod_ip b) P=$(pod_ip p) U=$(pod_ip u) C=$(pod_ip c)
ID_A=spiffe://example.org/ns/default/sa/a
ID_B=spiffe://example.org/ns/default/sa/b
certs_for a b p

# a: port 9000 is passed through; only 10.N.0.0/25 is meshed (c at .200 is not).
agent_start a "$(agent_config a ', "outbound": { "passthrough_ports": [9000, 9002],
  "mesh_cidrs": ["10.'"$WARD_NET"'.0.0/25"] }')"
agent_start b "$(agent_config b)"
agent_start p "$(agent_config p ', "inbound": { "mode": "permissive" }')"

echo "hello-from-b" >"$WARD_TMP/index.html"
chmod 644 "$WARD_TMP/index.html"
pod_bg b "$WARD_PY" -m http.server 8000 --bind 0.0.0.0 --directory "$WARD_TMP" >/dev/null 2>&1
pod_bg p "$WARD_PY" -m http.server 8000 --bind 0.0.0.0 --directory "$WARD_TMP" >/dev/null 2>&1
wait_port b 8000
wait_port p 8000
serve b echo 8080
serve b banner 8081
serve b eof 8082
serve u echo 9000
serve u echo 9001
serve u eof 9002
serve c echo 9001

fails() { ! "$@" >/dev/null 2>&1; }
curl_ok() { # POD URL: the page served from $WARD_TMP/index.html
  local got
  got=$(pod "$1" curl -sS --max-time 5 "$2") || return 1
  [ "$got" = "hello-from-b" ] || { echo "  curl got '$got'" >&2; return 1; }
}

echo "-- 1. transparent mTLS"
ma=$(log_mark a) mb=$(log_mark b)
check "curl in a reaches b by IP through both agents" curl_ok a "http://$B:8000/index.html"
check "a logs mtls to b's ID over TLSv1.3" wait_log a "$ma" 3 '"event":"conn_close"' \
  '"direction":"outbound"' "\"dst\":\"$B:8000\"" '"mode":"mtls"' "\"peer_id\":\"$ID_B\"" \
  "\"local_id\":\"$ID_A\"" '"tls_version":"TLSv1.3"'
check "b logs mtls from a's ID over TLSv1.3" wait_log b "$mb" 3 '"event":"conn_close"' \
  '"direction":"inbound"' '"mode":"mtls"' "\"peer_id\":\"$ID_A\"" "\"local_id\":\"$ID_B\"" \
  '"tls_version":"TLSv1.3"'

echo "-- 2. only TLS on the wire"
marker="WARD-PLAINTEXT-MARKER-$RANDOM$RANDOM"
capture_start b "$WARD_TMP/wire.pcap" tcp port 8080
check "request with a plaintext marker goes through" mesh a send "$B" 8080 "$marker $marker $marker"
capture_stop
check "capture: no plaintext marker, only TLS records, a ClientHello" \
  "$WARD_PY" "$WARD_ROOT/tests/e2e/tlscheck.py" "$WARD_TMP/wire.pcap" 8080 "$marker"

echo "-- 3. bulk both ways"
check "control without the mesh (passthrough to u): 12 MiB up, server reads to EOF" \
  mesh a halfclose "$U" 9002 $((12 * 1024 * 1024))
check "control without the mesh: 12 MiB both ways at once, python and socat" \
  eval 'mesh a bulk "$U" 9000 $((12 * 1024 * 1024)) && socat_bulk a "$U" 9000'
check "12 MiB up, server reads to EOF, sha256 equal" mesh a halfclose "$B" 8082 $((12 * 1024 * 1024))
check "12 MiB up and down at once on one connection, sha256 equal" \
  mesh a bulk "$B" 8080 $((12 * 1024 * 1024))
check "socat: 12 MiB through an echo both ways, sha256 equal" socat_bulk a "$B" 8080

echo "-- 4. half-close"
check "client half-closes, server reads to EOF, full reply arrives" \
  mesh a halfclose "$B" 8082 300000

echo "-- 5. server speaks first"
check "banner arrives before the client speaks" mesh a banner-get "$B" 8081

echo "-- 6. concurrency"
mb=$(log_mark b)
check "200 concurrent connections each echo their own payload" mesh a many "$B" 8080 200
check "no handshake failures on b meanwhile" fails grep -q handshake_failed <(log_since b "$mb")

echo "-- 8. permissive mode"
mp=$(log_mark p)
check "plain curl from an unmeshed pod reaches permissive p" curl_ok u "http://$P:8000/index.html"
check "p logs the plaintext connection" wait_log p "$mp" 3 '"event":"conn_close"' \
  '"mode":"plaintext"'
mp=$(log_mark p)
check "meshed curl from a reaches permissive p" curl_ok a "http://$P:8000/index.html"
check "p logs it as mtls from a" wait_log p "$mp" 3 '"event":"conn_close"' '"mode":"mtls"' \
  "\"peer_id\":\"$ID_A\"" '"tls_version":"TLSv1.3"'

echo "-- 9. passthrough"
ma=$(log_mark a)
capture_start u "$WARD_TMP/plain.pcap" tcp port 9000
check "passthrough port 9000 reaches unmeshed u in plain TCP" mesh a send "$U" 9000 "$marker"
capture_stop
check "negative control: tlscheck flags that plaintext capture" \
  fails "$WARD_PY" "$WARD_ROOT/tests/e2e/tlscheck.py" "$WARD_TMP/plain.pcap" 9000 "$marker"
check "a logs it as passthrough" wait_log a "$ma" 3 '"event":"conn_close"' "\"dst\":\"$U:9000\"" \
  '"mode":"passthrough"'
ma=$(log_mark a)
check "destination outside mesh_cidrs reaches unmeshed c in plain TCP" mesh a send "$C" 9001 pass-cidr
check "a logs it as passthrough" wait_log a "$ma" 3 '"event":"conn_close"' "\"dst\":\"$C:9001\"" \
  '"mode":"passthrough"'
ma=$(log_mark a)
check "negative control: meshed port on unmeshed u fails" fails mesh a send "$U" 9001 x
check "a logs the failed handshake to u:9001" wait_log a "$ma" 3 '"event":"handshake_failed"' \
  "\"dst\":\"$U:9001\""

summary "mesh e2e"
