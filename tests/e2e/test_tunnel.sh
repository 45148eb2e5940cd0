#!/usr/bin/env bash
# e2e: the mesh tunnel (HBONE: pooled mTLS to port 15008, ALPN h2, one HTTP/2
# CONNECT stream per app connection), through capture, with real peers.
#   a: agent (outbound.tunnel auto, 250 streams per connection);
#   b: agent serving apps; port 9999 left out of capture, port 8083 open to
#      spiffe://example.org/ns/default/sa/x only;
#   c: another meshed pod; o: no agent, an openssl s_server requiring a
#   client certificate (no tunnel listener: the fallback); u: no agent, runs
#   an independent HBONE client (Python's ssl + h2) with x's SVID.
# Scenarios: transparent request; only TLS to 15008 on the wire; a second
# request reuses the connection without a handshake; 12 MB both ways; half-
# close both ways; a server-first protocol; 200 concurrent streams on one
# connection; resets both ways; a denied ID refused per stream while another
# stream lives; open-proxy attempts refused; the independent client; fallback.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "tunnel e2e: $WARD_BIN not built" >&2; exit 1; }
python3_h2() { "$WARD_PY" -c "import h2" 2>/dev/null; }
python3_h2 || { echo "tunnel e2e: python3-h2 missing (deploy/deps.sh test)" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add c 3
pod_add o 4
pod_add u 50
B=$(pod_ip b) C=$(pod_ip c) O=$(pod_ip o)
TD=spiffe://example.org/ns/default/sa
certs_for a b c o x
HBONE=$WARD_ROOT/tests/e2e/hbone.py

agent_start a "$(agent_config a ', "tunnel": { "max_streams_per_connection": 250 }')"
IPTABLES_ARGS="--exclude-inbound-ports 9999" agent_start b "$(agent_config b ', "tunnel": {
  "max_streams_per_connection": 250 }, "inbound": {
  "exclude_ports": "9999",
  "allowed_client_ids": { "8083": ["'"$TD"'/x"], "*": ["spiffe://example.org/**"] } }')"
agent_start c "$(agent_config c)"

echo "hello-from-b" >"$WARD_TMP/index.html"
chmod 644 "$WARD_TMP/index.html"
pod_bg b "$WARD_PY" -m http.server 8000 --bind 0.0.0.0 --directory "$WARD_TMP" >/dev/null 2>&1
wait_port b 8000
serve b echo 8080
serve b banner 8081
serve b eof 8082
serve b echo 8083
serve b echo 9999
serve b reset 8084
pod_bg b "$WARD_PY" "$WARD_MESH_PY" shutfirst 8085 "$WARD_TMP/shutfirst.out"
wait_port b 8085
pod_bg b "$WARD_PY" "$WARD_MESH_PY" resetwatch 8086 "$WARD_TMP/resetwatch.out"
wait_port b 8086
serve c echo 8080

fails() { ! "$@" >/dev/null 2>&1; }
metric() { # POD NAME{LABELS}: one value from the agent's /metrics
  pod "$1" curl -sS --max-time 3 http://127.0.0.1:15020/metrics |
    awk -v k="$2" '$1 == k {print $2}'
}
tunnels_in() { # POD MARK: distinct tunnel ids in conn_close lines since MARK
  log_since "$1" "$2" | grep '"event":"conn_close"' | grep -o '"tunnel":[0-9]*' | sort -u | wc -l
}

echo "-- 1. transparent request, only TLS to 15008 on the wire"
marker="WARD-TUNNEL-MARKER-$RANDOM$RANDOM"
ma=$(log_mark a) mb=$(log_mark b)
capture_start b "$WARD_TMP/wire.pcap" tcp
got=$(pod a curl -sS --max-time 5 "http://$B:8000/index.html") || got="curl failed"
check "curl in a reaches b through the tunnel" test "$got" = hello-from-b
check "request with a plaintext marker goes through" mesh a send "$B" 8080 "$marker $marker"
capture_stop
check "a logs the request as a tunnel stream to b's ID" wait_log a "$ma" 3 \
  '"event":"conn_close"' '"direction":"outbound"' "\"dst\":\"$B:8000\"" '"mode":"tunnel"' \
  "\"peer_id\":\"$TD/b\"" '"tls_version":"TLSv1.3"' '"tunnel":1'
check "b logs it from a's ID, with the Forwarded source" wait_log b "$mb" 3 \
  '"event":"conn_close"' '"direction":"inbound"' '"mode":"tunnel"' "\"peer_id\":\"$TD/a\"" \
  "\"forwarded_for\":\"$(pod_ip a):"
check "the wire holds nothing but port 15008" \
  test "$(tcpdump -r "$WARD_TMP/wire.pcap" -nn 'tcp and not port 15008' 2>/dev/null | wc -l)" -eq 0
check "capture: TLS records only on 15008, a ClientHello, no marker" \
  "$WARD_PY" "$WARD_ROOT/tests/e2e/tlscheck.py" "$WARD_TMP/wire.pcap" 15008 "$marker"

echo "-- 2. a second request reuses the connection, without a handshake"
hs=$(metric a 'ward_tls_handshakes_total{direction="outbound",result="success"}')
reused=$(metric a 'ward_tunnel_pool_total{result="reused"}')
ma=$(log_mark a)
check "second request" mesh a send "$B" 8080 second
check "same tunnel connection (id 1)" wait_log a "$ma" 3 '"event":"conn_close"' '"tunnel":1' \
  '"dst":"'"$B"':8080"'
check "no new handshake" test "$(metric a 'ward_tls_handshakes_total{direction="outbound",result="success"}')" = "$hs"
check "pool counted a reuse" test "$(metric a 'ward_tunnel_pool_total{result="reused"}')" -gt "$reused"
check "one outbound tunnel connection open" \
  test "$(metric a 'ward_tunnel_connections{direction="outbound"}')" = 1

echo "-- 3. bulk both ways"
check "12 MiB up and down at once on one stream, sha256 equal" \
  mesh a bulk "$B" 8080 $((12 * 1024 * 1024))
check "socat: 12 MiB through an echo both ways, sha256 equal" socat_bulk a "$B" 8080
check "12 MiB up, server reads to EOF, sha256 equal" mesh a halfclose "$B" 8082 $((12 * 1024 * 1024))

echo "-- 4. half-close, each way"
check "client half-closes first, the full reply still arrives" mesh a halfclose "$B" 8082 300000
sent=$(mesh a shutfirst-get "$B" 8085 200000 || true)
sleep 0.3
check "server half-closes first, the client's bytes still arrive" \
  grep -qx "got ${sent#sent }" "$WARD_TMP/shutfirst.out"

echo "-- 5. server speaks first"
check "banner arrives before the client speaks" mesh a banner-get "$B" 8081

echo "-- 6. 200 concurrent streams on one connection"
mb=$(log_mark b)
check "200 concurrent connections each echo their own payload" mesh a many "$B" 8080 200
sleep 0.5
check "all 200 rode one tunnel connection" test "$(tunnels_in b "$mb")" -eq 1
check "no handshake on b meanwhile" fails grep -q handshake_failed <(log_since b "$mb")

echo "-- 7. resets carried both ways"
check "the app's reset on b reaches the client as a reset" mesh a expect-reset "$B" 8084
mesh a send-reset "$B" 8086 >/dev/null 2>&1 || true
sleep 0.5
check "the client's reset reaches the app on b as a reset" grep -qx reset "$WARD_TMP/resetwatch.out"

echo "-- 8. a denied ID is refused per stream; other streams live"
check "long-lived stream a -> b:8080 opens" hold_open h1 a "$B" 8080
check "it echoes" hold_ping h1 one
ma=$(log_mark a) mb=$(log_mark b)
check "a -> b:8083 (only x may) is refused" fails mesh a send "$B" 8083 denied
check "b logs authz_denied for a's ID on 8083" wait_log b "$mb" 3 '"event":"authz_denied"' \
  "\"peer_id\":\"$TD/a\"" "\"dst\":\"$B:8083\""
check "a logs the 401" wait_log a "$ma" 3 '"event":"tunnel_refused"' 'answered 401'
check "the long-lived stream still echoes" hold_ping h1 two
check "... on the same tunnel connection" \
  test "$(metric a 'ward_tunnel_connections{direction="outbound"}')" = 1
check "the long-lived stream closes cleanly" hold_quit h1

echo "-- 9. an independent HBONE client (Python ssl + h2, x's SVID)"
hbone() { pod u "$WARD_PY" "$HBONE" "$B" 15008 "$WARD_TMP/certs/x/svid.pem" \
  "$WARD_TMP/certs/x/svid.key" "$WARD_TMP/certs/x/bundle.pem" "$@"; }
check "CONNECT $B:8080: 200 and its echo" hbone "$B:8080" --send indep
check "10 streams on one connection, each its own echo" hbone "$B:8080" --send many --streams 10
check "x may reach 8083" hbone "$B:8083" --send x-only
check "a GET is not HBONE: 400" hbone "$B:8080" --method GET --expect 400
check "a CONNECT to a host name: 400" hbone "b.example:8080" --expect 400

echo "-- 10. never an open proxy"
mb=$(log_mark b)
forbidden=$(metric b 'ward_tunnel_streams_total{direction="inbound",result="forbidden"}')
check "another pod's address ($C): 403" hbone "$C:8080" --expect 403
check "an external address: 403" hbone "8.8.8.8:53" --expect 403
check "a port left out of capture (9999): 403" hbone "$B:9999" --expect 403
check "the admin port: 403" hbone "$B:15020" --expect 403
check "loopback: 403" hbone "127.0.0.1:8080" --expect 403
check "b logs why" wait_log b "$mb" 3 '"event":"tunnel_refused"' 'not an address of this pod'
check "b logs the uncaptured port" wait_log b "$mb" 3 '"event":"tunnel_refused"' \
  'a port capture does not redirect'
check "counted as forbidden (5)" \
  test "$(metric b 'ward_tunnel_streams_total{direction="inbound",result="forbidden"}')" -eq $((forbidden + 5))
check "the 9999 app saw nothing" fails grep -q "$B:9999" <(log_since b "$mb" | grep conn_close)

echo "-- 11. fallback: a peer without a tunnel listener"
pod_bg o openssl s_server -quiet -rev -accept 8443 -tls1_3 -cert "$WARD_TMP/certs/o/svid.pem" \
  -key "$WARD_TMP/certs/o/svid.key" -CAfile "$WARD_TMP/certs/o/bundle.pem" -Verify 1 \
  >"$WARD_TMP/s_server.out" 2>&1
wait_port o 8443
rev_ok() { # the reversed line comes back over direct mTLS
  [ "$(echo "$1" | pod a timeout 5 socat -t 2 - "TCP:$O:8443" | head -1)" = "$(echo "$1" | rev)" ]
}
ma=$(log_mark a)
fb=$(metric a 'ward_tunnel_pool_total{result="fallback"}')
check "a -> o:8443 answered (direct mTLS)" rev_ok fallback-one
check "a logs the fallback once" wait_log a "$ma" 3 '"event":"tunnel_fallback"' "$O:15008" \
  '"reason":"connect_refused"'
check "a logs the connection as mtls to o's ID" wait_log a "$ma" 3 '"event":"conn_close"' \
  "\"dst\":\"$O:8443\"" '"mode":"mtls"' "\"peer_id\":\"$TD/o\""
check "a second connection goes direct at once" rev_ok fallback-two
check "... and is not logged again" test "$(log_since a "$ma" | grep -c tunnel_fallback)" -eq 1
check "both counted as fallback" \
  test "$(metric a 'ward_tunnel_pool_total{result="fallback"}')" -eq $((fb + 2))
# A tunnel port that never answers (as a Service's ClusterIP): o's second
# address drops what comes to 15008. The wait is tunnel.connect_timeout_ms
# (1 s), not limits.connect_timeout_ms (5 s).
O2=10.$WARD_NET.0.44
pod o ip addr add "$O2/24" dev eth0
pod o iptables -w -I INPUT -d "$O2" -p tcp --dport 15008 -j DROP
ma=$(log_mark a)
t0=$(date +%s%N)
rev_to() { [ "$(echo "$1" | pod a timeout 8 socat -t 2 - "TCP:$O2:8443" | head -1)" = "$(echo "$1" | rev)" ]; }
check "a -> a silent tunnel port: answered direct" rev_to fallback-silent
waited_ms=$((($(date +%s%N) - t0) / 1000000))
echo "  answered after $waited_ms ms"
check "a logs that fallback (connect_timeout)" wait_log a "$ma" 3 '"event":"tunnel_fallback"' \
  "$O2:15008" '"reason":"connect_timeout"'
check "the wait was tunnel.connect_timeout_ms, not limits.connect_timeout_ms" \
  test "$waited_ms" -lt 4000

echo "-- 12. IPv6: the tunnel listener's [::] twin, a [v6]:port authority"
pod a ip addr add "fd00:$WARD_NET::1/64" dev eth0 nodad
pod b ip addr add "fd00:$WARD_NET::2/64" dev eth0 nodad
pod_bg b "$WARD_PY" -m http.server 8001 --bind :: --directory "$WARD_TMP" >/dev/null 2>&1
wait_port b 8001
ma=$(log_mark a) mb=$(log_mark b)
got=$(pod a curl -sS --max-time 5 "http://[fd00:$WARD_NET::2]:8001/index.html" 2>&1) || echo "  curl: $got" >&2
check "curl over IPv6 reaches b through the tunnel" test "$got" = hello-from-b
check "a took a tunnel to [fd00:$WARD_NET::2]:15008" wait_log a "$ma" 3 '"event":"conn_close"' \
  "\"dst\":\"[fd00:$WARD_NET::2]:8001\"" '"mode":"tunnel"'
check "b served the [v6]:port authority" wait_log b "$mb" 3 '"event":"conn_close"' \
  '"direction":"inbound"' '"mode":"tunnel"' "\"dst\":\"[fd00:$WARD_NET::2]:8001\""

echo "-- 13. /stats/connections shows the tunnel with its streams"
check "a's tunnel connection listed" sh -c "ip netns exec $WARD_RUN-a curl -sS \
  http://127.0.0.1:15020/stats/connections | grep -q '\"mode\": \"tunnel_connection\"'"
check "promtool accepts a's metrics" sh -c "ip netns exec $WARD_RUN-a curl -sS \
  http://127.0.0.1:15020/metrics | promtool check metrics"

summary "tunnel e2e"
