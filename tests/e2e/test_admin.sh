#!/usr/bin/env bash
# e2e: the admin endpoint and metrics. Real handshakes move the right
# counters (success, no client cert, TLS 1.2, a denied SPIFFE ID), promtool
# accepts /metrics, /ready flips as the identity arrives, /stats/connections
# shows a live connection with its RTT, the log level changes at run time,
# bad admin requests are refused while the agent keeps serving, POST /drain.
#   a, b: agents, defaults; c: no agent (openssl s_client, unmeshed curl);
#   z: agent admitting only c's ID inbound; w: agent started before its
#   identity files exist.
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
# The direct path (one mTLS connection per app connection); the tunnel has
# its own suite (test_tunnel.sh).
export WARD_TUNNEL=never
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "admin e2e: $WARD_BIN not built" >&2; exit 1; }
command -v promtool >/dev/null || { echo "admin e2e: promtool missing (make deps-test)" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add c 3
pod_add z 4
pod_add w 5
A=$(pod_ip a) B=$(pod_ip b) Z=$(pod_ip z)
TD=spiffe://example.org/ns/default/sa
certs_for a b c z w
CERTS=$WARD_TMP/certs
# w's files are taken away before its agent starts, and come back later.
mv "$CERTS/w" "$CERTS/w.later"
mkdir -m 755 "$CERTS/w"

agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
agent_start z "$(agent_config z ', "inbound": { "allowed_client_ids": { "*": ["'"$TD"'/c"] } }')"
agent_start w "$(agent_config w)"
wpid=${WARD_PIDS[-1]}
for p in b z; do serve "$p" echo 8080; done

# admin POD PATH [curl args...]: body of a request to POD's admin port from inside POD.
admin() {
  local pod=$1 path=$2
  shift 2
  pod "$pod" curl -sS --max-time 10 "$@" "http://127.0.0.1:15020$path"
}
# status_of POD PATH [curl args...]: the HTTP status only.
status_of() {
  local pod=$1 path=$2
  shift 2
  pod "$pod" curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@" "http://127.0.0.1:15020$path"
}
# metric POD 'name{labels}': the sample's value (0 if absent).
metric() {
  admin "$1" /metrics | awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'
}
# grows POD SERIES BEFORE [BY]: the series is now BEFORE + BY (default 1).
grows() {
  local now
  now=$(metric "$1" "$2")
  [ "$now" -eq $(($3 + ${4:-1})) ] || { echo "  $1 $2: $3 -> $now" >&2; return 1; }
}
fails() { ! "$@" >/dev/null 2>&1; }
tls_echo() {
  local host=$1 text=$2 out
  shift 2
  out=$( (echo "$text"; sleep 1) | pod c timeout 8 openssl s_client -connect "$host:8080" \
    -CAfile "$CERTS/ca.pem" -brief "$@" 2>/dev/null) || true
  grep -qx -- "$text" <<<"$out"
}

echo "-- health and readiness"
check "a: /healthz is 200" test "$(status_of a /healthz)" = 200
check "a: /ready is 200 (identity and listeners)" test "$(status_of a /ready)" = 200
check "w: /ready is 503 while its identity files are missing" test "$(status_of w /ready)" = 503
check "w: /ready says why" grep -q "no SVID loaded yet" <<<"$(admin w /ready)"
check "w: logs identity_waiting" log_grep w 0 '"event":"identity_waiting"'
check "w: /certs has no SPIFFE ID yet" test "$(admin w /certs | jq -r .spiffe_id)" = null
mw=$(log_mark w)
mv "$CERTS/w.later/"* "$CERTS/w/"
check "w: loads the identity once the files appear" wait_log w "$mw" 5 '"event":"identity_loaded"'
ready_w() { test "$(status_of w /ready)" = 200; }
check "w: /ready turns 200" ready_w
check "w: ward_svid_expiry_timestamp_seconds is the SVID's not-after" \
  test "$(metric w ward_svid_expiry_timestamp_seconds)" = \
  "$(date -d "$(openssl x509 -in "$CERTS/w/svid.pem" -noout -enddate | cut -d= -f2)" +%s)"

echo "-- real handshakes move the right counters"
ok_a=$(metric a 'ward_tls_handshakes_total{direction="outbound",result="success"}')
ok_b=$(metric b 'ward_tls_handshakes_total{direction="inbound",result="success"}')
mtls_a=$(metric a 'ward_connections_total{direction="outbound",mode="mtls"}')
check "success: a -> b echoes" mesh a send "$B" 8080 counted
check "success: a's outbound success counter +1" \
  grows a 'ward_tls_handshakes_total{direction="outbound",result="success"}' "$ok_a"
check "success: b's inbound success counter +1" \
  grows b 'ward_tls_handshakes_total{direction="inbound",result="success"}' "$ok_b"
check "success: a's mtls connection counted" \
  grows a 'ward_connections_total{direction="outbound",mode="mtls"}' "$mtls_a"
check "success: negotiated TLSv1.3 with an IANA cipher and group" \
  grep -Eq '^ward_tls_negotiated_total\{direction="outbound",version="TLSv1.3",cipher="TLS_AES_128_GCM_SHA256",group="(X25519MLKEM768|x25519)"\} [1-9]' \
  <<<"$(admin a /metrics)"
check "success: handshake and connect histograms observed" \
  test "$(metric a 'ward_tls_handshake_duration_seconds_count{direction="outbound"}')" -ge 1 -a \
  "$(metric a 'ward_tcp_connect_duration_seconds_count{direction="outbound"}')" -ge 1
check "success: bytes to the peer counted" \
  test "$(metric a 'ward_bytes_total{direction="outbound",flow="to_peer"}')" -ge 7
check "success: RTT observed at close" \
  test "$(metric a 'ward_tcp_rtt_seconds_count{direction="outbound"}')" -ge 1

reason_case() { # WHAT REASON -- CMD...
  local what=$1 reason=$2 before fail_before
  shift 3
  before=$(metric b "ward_tls_handshake_errors_total{direction=\"inbound\",reason=\"$reason\"}")
  fail_before=$(metric b 'ward_tls_handshakes_total{direction="inbound",result="failure"}')
  check "$what: refused" fails "$@"
  check "$what: b counts reason $reason" \
    grows b "ward_tls_handshake_errors_total{direction=\"inbound\",reason=\"$reason\"}" "$before"
  check "$what: b counts a failed handshake" \
    grows b 'ward_tls_handshakes_total{direction="inbound",result="failure"}' "$fail_before"
}
reason_case "client without a certificate" no_client_cert -- tls_echo "$B" x1
reason_case "TLS 1.2 client" protocol_version -- tls_echo "$B" x2 \
  -cert "$CERTS/c/svid.pem" -key "$CERTS/c/svid.key" -tls1_2
den=$(metric z 'ward_authz_denied_total{direction="inbound"}')
idd=$(metric z 'ward_tls_handshake_errors_total{direction="inbound",reason="spiffe_id_denied"}')
check "denied SPIFFE ID: a -> z refused" fails mesh a send "$Z" 8080 x3
check "denied SPIFFE ID: z counts ward_authz_denied_total" \
  grows z 'ward_authz_denied_total{direction="inbound"}' "$den"
check "denied SPIFFE ID: z counts reason spiffe_id_denied" \
  grows z 'ward_tls_handshake_errors_total{direction="inbound",reason="spiffe_id_denied"}' "$idd"
check "denied SPIFFE ID: z's log names both identities" log_grep z 0 '"event":"authz_denied"' \
  "\"peer_id\":\"$TD/a\"" "\"local_id\":\"$TD/z\""

echo "-- promtool"
for p in a b z w; do
  admin "$p" /metrics >"$WARD_TMP/metrics-$p.txt"
  check "promtool accepts $p's /metrics" promtool check metrics <"$WARD_TMP/metrics-$p.txt"
done
check "/metrics has the exposition content type" \
  grep -qi '^content-type: text/plain; version=0.0.4' <<<"$(admin a /metrics -D - -o /dev/null)"

echo "-- /certs and /stats/connections"
check "/certs names a's SPIFFE ID and the bundle's CA" \
  test "$(admin a /certs | jq -r '.spiffe_id + " " + .bundles[0].cas[0].subject')" = \
  "$TD/a /O=ward test/CN=ca example.org"
check "long-lived connection a -> b opens" hold_open live a "$B" 8080
check "long-lived connection echoes" hold_ping live ping
live_conn() { # POD DIRECTION PEER_ID: one connection with a non-zero RTT
  admin "$1" /stats/connections >"$WARD_TMP/conns-$1.json"
  jq -e --arg d "$2" --arg p "$3" '[.connections[] | select(.direction == $d and
      .peer_id == $p and .phase == "relay" and .tls_version == "TLSv1.3" and
      .tcp.state == "established" and .tcp.rtt_us > 0 and .bytes_to_peer > 0)] | length == 1' \
    "$WARD_TMP/conns-$1.json" >/dev/null || { cat "$WARD_TMP/conns-$1.json" >&2; return 1; }
}
check "a's /stats/connections shows the live outbound connection with RTT" \
  live_conn a outbound "$TD/b"
check "b's /stats/connections shows it inbound" live_conn b inbound "$TD/a"
check "b: ward_connections_active{inbound} is 1" \
  test "$(metric b 'ward_connections_active{direction="inbound"}')" -eq 1
check "?limit=0 falls back to the default; the total is reported" \
  test "$(admin a '/stats/connections?limit=0' | jq '.total')" -ge 1
check "long-lived connection closes" hold_quit live

echo "-- log level at run time"
mesh_logged() { # POD MARK: a conn_close (debug) line after MARK
  mesh a send "$B" 8080 lvl >/dev/null && wait_log a "$1" 3 '"event":"conn_close"'
}
check "POST /log/level?level=warn from loopback" \
  test "$(admin a '/log/level?level=warn' -X POST)" = warn
check "GET /log/level says warn" test "$(admin a /log/level)" = warn
ml=$(log_mark a)
mesh a send "$B" 8080 quiet >/dev/null
sleep 0.5
check "at warn, a logs no debug conn_close" fails log_grep a "$ml" '"event":"conn_close"'
check "POST /log/level with the level as the body" \
  test "$(admin a /log/level -X POST --data-binary debug)" = debug
check "back at debug, conn_close is logged again" mesh_logged "$(log_mark a)"
check "an unknown level is a 400 naming it" \
  grep -q '"loud"' <<<"$(admin a '/log/level?level=loud' -X POST)"

echo "-- bad admin requests are refused; the agent keeps serving"
check "not loopback (a's own pod IP): POST /drain is 403" \
  test "$(pod a curl -s -o /dev/null -w '%{http_code}' -X POST "http://$A:15020/drain")" = 403
check "not loopback (unmeshed pod c): POST /log/level is 403" \
  test "$(pod c curl -s -o /dev/null -w '%{http_code}' -X POST "http://$A:15020/log/level?level=error")" = 403
check "the level did not change" test "$(admin a /log/level)" = debug
check "GET /drain is 405" test "$(status_of a /drain)" = 405
check "POST /metrics is 405" test "$(status_of a /metrics -X POST)" = 405
check "unknown path is 404" test "$(status_of a /nope)" = 404
check "oversize headers: 431" test "$(status_of a /metrics -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)")" = 431
check "oversize body: 413" \
  test "$(status_of a /log/level -X POST --data-binary "@$WARD_BIN")" = 413
raw() { # POD BYTES: what the admin port answers to raw bytes
  printf '%b' "$2" | pod "$1" timeout 15 socat -t 12 - TCP:127.0.0.1:15020 2>/dev/null | head -1
}
check "malformed request: 400" grep -q '^HTTP/1.1 400' <<<"$(raw a 'BLAH /\x01 HTTP/9\r\n\r\n')"
slow() { # half a request line, then nothing: answered 408 at admin.header_timeout_ms
  pod a timeout 15 bash -c 'exec 3<>/dev/tcp/127.0.0.1/15020; printf "GET /metrics HT" >&3;
    head -1 <&3' | grep -q '^HTTP/1.1 408'
}
check "slowloris: 408 and closed" slow
check "after all that, /healthz is 200" test "$(status_of a /healthz)" = 200
check "after all that, a still proxies" mesh a send "$B" 8080 still-here
check "after all that, /ready is still 200" test "$(status_of a /ready)" = 200

echo "-- POST /drain"
check "POST /drain from loopback is 200" test "$(status_of w /drain -X POST)" = 200
gone() { for _ in $(seq 1 50); do kill -0 "$wpid" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "w drains and exits" gone
check "w logged draining" log_grep w 0 '"event":"draining"'

summary "admin e2e"
