#!/usr/bin/env bash
# e2e: what the mesh refuses, and why. A long-lived good connection a -> b is
# opened first and must keep working after every refusal.
#   a, b: agents, defaults; c: no agent (openssl s_client, plain clients);
#   f: agent with the fips profile and a 500 ms handshake timeout;
#   z: agent whose inbound policy admits only c's ID; o: agent whose outbound
#   policy admits no server; m: agent with limits.max_connections 5.
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
# The direct path (one mTLS connection per app connection); the tunnel has
# its own suite (test_tunnel.sh).
export WARD_TUNNEL=never
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "mesh refusals e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add c 3
pod_add f 4
pod_add z 5
pod_add o 6
pod_add m 7
B=$(pod_ip b) F=$(pod_ip f) Z=$(pod_ip z) M=$(pod_ip m)
TD=spiffe://example.org/ns/default/sa
certs_for a b c f z o m
CA_NAME=other certs_for evil     # same trust domain name, another CA
DAYS=-1 certs_for old            # our CA, expired yesterday
SPIFFE_ID=spiffe://elsewhere.org/ns/default/sa/x certs_for alien # our CA, foreign trust domain
CERTS=$WARD_TMP/certs

agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
agent_start f "$(agent_config f ', "tls": { "profile": "fips", "handshake_timeout_ms": 500 }')"
agent_start z "$(agent_config z ', "inbound": { "allowed_client_ids": { "*": ["'"$TD"'/c"] } }')"
agent_start o "$(agent_config o ', "outbound": { "allowed_server_ids": ["'"$TD"'/nobody"] }')"
agent_start m "$(agent_config m ', "limits": { "max_connections": 5 }')"
for p in b f z m; do serve "$p" echo 8080; done

fails() { ! "$@" >/dev/null 2>&1; }

# tls_echo HOST TEXT [s_client args...]: openssl s_client from unmeshed c; the
# line must come back (decrypted) for success.
tls_echo() {
  local host=$1 text=$2 out
  shift 2
  out=$( (echo "$text"; sleep 1) | pod c timeout 8 openssl s_client -connect "$host:8080" \
    -CAfile "$CERTS/ca.pem" -brief "$@" 2>"$WARD_TMP/s_client.err") || true
  grep -qx -- "$text" <<<"$out"
}
as() { echo -cert "$CERTS/$1/svid.pem" -key "$CERTS/$1/svid.key"; }

# refused POD REASON WHAT -- CMD...: CMD must fail, POD's log must show
# handshake_failed with REASON, and the long-lived connection must still work.
n=0
refused() {
  local pod=$1 event=$2 reason=$3 what=$4 mark
  shift 5
  mark=$(log_mark "$pod")
  check "$what: refused" fails "$@"
  check "$what: $pod logs $event reason $reason" \
    wait_log "$pod" "$mark" 3 "\"event\":\"$event\"" "\"reason\":\"$reason\""
  n=$((n + 1))
  check "$what: the long-lived connection still works" hold_ping good "still-alive-$n"
}

echo "-- a long-lived good connection a -> b, and controls"
check "long-lived connection a -> b opens" hold_open good a "$B" 8080
check "long-lived connection echoes" hold_ping good first
check "control: s_client with a valid SVID gets its echo from b" tls_echo "$B" ctl-b $(as c)
check "control: s_client with c's SVID gets its echo from z" tls_echo "$Z" ctl-z $(as c)
check "control: s_client with a valid SVID and AES-GCM gets its echo from fips f" \
  tls_echo "$F" ctl-f $(as c) -ciphersuites TLS_AES_128_GCM_SHA256

echo "-- 7. refusals"
refused b handshake_failed unknown_ca "client cert from another CA" -- \
  tls_echo "$B" x1 $(as evil)
refused b handshake_failed no_client_cert "no client cert" -- tls_echo "$B" x2
refused b handshake_failed protocol_version "TLS 1.2 only" -- tls_echo "$B" x3 $(as c) -tls1_2
refused f handshake_failed no_shared_cipher "ChaCha20 only against the fips profile" -- \
  tls_echo "$F" x4 $(as c) -ciphersuites TLS_CHACHA20_POLY1305_SHA256
refused z authz_denied spiffe_id_denied "a's ID not in z's allowed_client_ids" -- \
  mesh a send "$Z" 8080 x5
check "z's denial names a's ID" log_grep z 0 '"event":"authz_denied"' "\"peer_id\":\"$TD/a\""
refused b handshake_failed expired "expired client cert" -- tls_echo "$B" x6 $(as old)
refused b handshake_failed bad_svid "client SVID from a foreign trust domain" -- \
  tls_echo "$B" x7 $(as alien)
refused b handshake_failed not_tls "plaintext to the inbound port (strict)" -- \
  pod c curl -sS --max-time 5 "http://$B:8080/"
refused f handshake_failed timeout "silent client past the handshake timeout" -- \
  pod c bash -c "exec 3<>/dev/tcp/$F/8080; timeout 2 cat <&3; [ \$? = 124 ]"
refused o authz_denied spiffe_id_denied "outbound: b's ID not in o's allowed_server_ids" -- \
  mesh o send "$B" 8080 x8
check "o's denial is outbound and names b's ID" log_grep o 0 '"event":"authz_denied"' \
  '"direction":"outbound"' "\"peer_id\":\"$TD/b\""
check "long-lived connection closes cleanly" hold_quit good

echo "-- 13. max_connections"
for i in 1 2 3 4 5; do
  hold_open "m$i" a "$M" 8080 && hold_ping "m$i" "m$i-first" ||
    check "connection $i of 5 to m opens" false
done
mm=$(log_mark m)
check "the 6th concurrent connection is refused" fails mesh a send "$M" 8080 sixth
check "m logs conn_refused (max_connections)" wait_log m "$mm" 3 '"event":"conn_refused"' \
  max_connections
for i in 1 2 3 4 5; do
  check "connection $i of 5 still works" hold_ping "m$i" "m$i-after"
done
for i in 1 2 3 4 5; do hold_quit "m$i" >/dev/null || true; done
sleep 0.3
check "with the five closed, a new connection works" mesh a send "$M" 8080 again

summary "mesh refusals e2e"
