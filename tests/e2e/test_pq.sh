#!/usr/bin/env bash
# e2e: the post-quantum key exchange, as the wire shows it (tcpdump +
# tests/e2e/tlswire.py) and as ward reports it (logs, /metrics,
# /stats/connections, ward doctor).
#   a, b: agents with the default (modern) profile;
#   c: no agent: Debian 12's openssl s_client / s_server (classic groups only);
#   w: `ward webhook` (HTTPS, no client certificate), fetched by Debian's
#      chromium from c: an independent client that offers X25519MLKEM768.
# With a ward built on Debian's libwolfssl (no ML-KEM) the expectations are
# the classic ones (x25519), so the script checks both builds.
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "pq e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add c 3
pod_add w 4
B=$(pod_ip b) C=$(pod_ip c) W=$(pod_ip w)
ID_A=spiffe://example.org/ns/default/sa/a
certs_for a b c
CERTS=$WARD_TMP/certs
agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
serve b echo 8080

fails() { ! "$@" >/dev/null 2>&1; }
# wire PCAP PORT: tlswire's findings as wire_* shell variables.
wire() {
  local vars
  vars=$("$WARD_PY" "$WARD_ROOT/tests/e2e/tlswire.py" "$1" --port "$2" --format shell) || return 1
  eval "$vars"
}
is() { # WHAT GOT WANT
  [ "$2" = "$3" ] || { echo "  $1: got '$2', want '$3'" >&2; return 1; }
}
check_of() { jq -r --arg n "$2" ".checks[] | select(.name == \$n) | .$3" <<<"$1"; }

doc=$(pod a "$WARD_BIN" doctor --json --config "$WARD_TMP/a.json" || true)
if [ "$(check_of "$doc" post_quantum status)" = ok ]; then
  PQ=1 HYBRID=X25519MLKEM768 HYBRID_ID=0x11ec SHARES="X25519MLKEM768 x25519"
else
  PQ=0 HYBRID=x25519 HYBRID_ID=0x001d SHARES="x25519"
fi
echo "   (this ward: $(check_of "$doc" post_quantum value))"

echo "-- 1. between ward sidecars"
check "ward doctor reports the key exchange" \
  is post_quantum "$(check_of "$doc" post_quantum status)" "$([ "$PQ" = 1 ] && echo ok || echo warn)"
ma=$(log_mark a) mb=$(log_mark b)
capture_start b "$WARD_TMP/mesh.pcap" tcp port 8080
check "a -> b through both agents" mesh a send "$B" 8080 pq-between-sidecars
capture_stop
wire "$WARD_TMP/mesh.pcap" 8080
check "the ServerHello on the wire selects $HYBRID ($HYBRID_ID)" \
  is "ServerHello group" "$wire_server_hello_group $wire_server_hello_group_id" "$HYBRID $HYBRID_ID"
check "the ClientHello carries key shares for: $SHARES" \
  is "ClientHello key shares" "$wire_client_hello_key_shares" "$SHARES"
check "one ClientHello, no HelloRetryRequest" \
  is "hellos, retries" "$wire_client_hellos $wire_hello_retry_requests" "1 0"
echo "   ClientHello ${wire_client_hello_record_length} B (key shares ${wire_client_hello_key_share_bytes} B)," \
  "ServerHello ${wire_server_hello_record_length} B"
check "a logs the group as IANA spells it" wait_log a "$ma" 3 '"event":"conn_close"' \
  '"direction":"outbound"' "\"group\":\"$HYBRID\""
check "b logs the group as IANA spells it" wait_log b "$mb" 3 '"event":"conn_close"' \
  '"direction":"inbound"' "\"group\":\"$HYBRID\""
check "b's /metrics counts the handshake under group=\"$HYBRID\"" \
  grep -q "^ward_tls_negotiated_total{direction=\"inbound\",version=\"TLSv1.3\",cipher=\"TLS_AES_128_GCM_SHA256\",group=\"$HYBRID\"} [1-9]" \
  <(pod b curl -sS --max-time 10 http://127.0.0.1:15020/metrics)
check "a long-lived connection a -> b opens" hold_open live a "$B" 8080
live_group() {
  pod b curl -sS --max-time 10 http://127.0.0.1:15020/stats/connections |
    jq -e --arg id "$ID_A" --arg g "$HYBRID" \
      '[.connections[] | select(.peer_id == $id and .group == $g)] | length >= 1' >/dev/null
}
check "b's /stats/connections shows the live connection's group" live_group
hold_quit live >/dev/null || true

echo "-- 2. a classic-only peer (Debian 12's openssl 3.0)"
mb=$(log_mark b)
capture_start b "$WARD_TMP/s_client.pcap" tcp port 8080
s_client_echo() {
  local out
  out=$( (echo classic-in; sleep 1) | pod c timeout 8 openssl s_client -connect "$B:8080" \
    -CAfile "$CERTS/ca.pem" -cert "$CERTS/c/svid.pem" -key "$CERTS/c/svid.key" -brief \
    2>"$WARD_TMP/s_client.err") || true
  grep -qx classic-in <<<"$out"
}
check "s_client -> ward (inbound): the echo comes back" s_client_echo
capture_stop
wire "$WARD_TMP/s_client.pcap" 8080
check "... on x25519 (0x001d)" is "ServerHello group" "$wire_server_hello_group_id" 0x001d
check "... in one round trip (no HelloRetryRequest)" \
  is "hellos, retries" "$wire_client_hellos $wire_hello_retry_requests" "1 0"
check "b logs x25519" wait_log b "$mb" 3 '"event":"conn_close"' '"group":"x25519"'

pod_bg c openssl s_server -accept 8443 -cert "$CERTS/c/svid.pem" -key "$CERTS/c/svid.key" \
  -CAfile "$CERTS/ca.pem" -Verify 1 -www >"$WARD_TMP/s_server.log" 2>&1
wait_port c 8443
ma=$(log_mark a)
capture_start c "$WARD_TMP/s_server.pcap" tcp port 8443
check "ward (outbound) -> s_server: curl in a gets its page" \
  grep -q "^HTTP/1.0 200 ok" <(pod a curl -sS -i --max-time 10 "http://$C:8443/")
capture_stop
wire "$WARD_TMP/s_server.pcap" 8443
check "... ward offered: $SHARES" is "ClientHello key shares" "$wire_client_hello_key_shares" "$SHARES"
check "... s_server picked x25519 (0x001d)" is "ServerHello group" "$wire_server_hello_group_id" 0x001d
check "... in one round trip (no HelloRetryRequest)" \
  is "hellos, retries" "$wire_client_hellos $wire_hello_retry_requests" "1 0"
check "a logs x25519 to c's ID" wait_log a "$ma" 3 '"event":"conn_close"' '"group":"x25519"' \
  '"peer_id":"spiffe://example.org/ns/default/sa/c"'

echo "-- 3. an independent post-quantum client: chromium -> ward webhook"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=ward-webhook" \
  -addext "subjectAltName=IP:$W" -keyout "$WARD_TMP/wh.key" -out "$WARD_TMP/wh.crt" 2>/dev/null
pod_bg w "$WARD_BIN" webhook --tls-cert "$WARD_TMP/wh.crt" --tls-key "$WARD_TMP/wh.key" \
  --listen "0.0.0.0:8443" 2>"$WARD_TMP/webhook.log"
wait_port w 8443
capture_start w "$WARD_TMP/chromium.pcap" tcp port 8443
chromium_get() {
  local out
  out=$(pod c timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WARD_TMP/chromium" --ignore-certificate-errors \
    --dump-dom "https://$W:8443/healthz" 2>"$WARD_TMP/chromium.err") || true
  grep -q '>ok' <<<"$out" || { echo "  chromium printed: $out" >&2; return 1; }
}
check "chromium fetches https://$W:8443/healthz" chromium_get
capture_stop
wire "$WARD_TMP/chromium.pcap" 8443
check "chromium offered an X25519MLKEM768 key share" \
  grep -qw X25519MLKEM768 <<<"$wire_client_hello_key_shares"
check "the webhook's ServerHello on the wire selects $HYBRID ($HYBRID_ID)" \
  is "ServerHello group" "$wire_server_hello_group $wire_server_hello_group_id" "$HYBRID $HYBRID_ID"
check "no HelloRetryRequest" is "retries" "$wire_hello_retry_requests" 0

summary "post-quantum e2e"
