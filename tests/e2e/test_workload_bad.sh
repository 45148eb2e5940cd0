#!/usr/bin/env bash
# A Workload API that misbehaves (tests/e2e/fakewl.py): a missing socket, a
# server speaking garbage, gRPC errors, and SVIDs that must not be used (another
# trust domain, expired, a key that does not match). Each is reported with its
# reason; none crashes the agent, drops a live connection or stops new
# connections on the identity already held.
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT

SOCK=$WARD_TMP/wl/api.sock
mkdir -p "$WARD_TMP/wl"
chmod 755 "$WARD_TMP/wl"

certs_for client server
OWNER=$PROXY_UID bash "$WARD_ROOT/tests/e2e/mkcerts.sh" "$WARD_TMP/other" other.org client >/dev/null
OWNER=$PROXY_UID DAYS=-1 bash "$WARD_ROOT/tests/e2e/mkcerts.sh" "$WARD_TMP/expired" example.org \
  client >/dev/null
C=$WARD_TMP/certs/client

FAKE_PID=
fake() { # MODE ARGS...: (re)start the fake Workload API on $SOCK
  [ -n "$FAKE_PID" ] && { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null || true; }
  rm -f "$SOCK"
  "$WARD_PY" "$WARD_ROOT/tests/e2e/fakewl.py" "$SOCK" "$@" &
  FAKE_PID=$!
  WARD_PIDS+=("$FAKE_PID")
  for _ in $(seq 1 50); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
  return 1
}

pod_add client 1
pod_add server 2
serve server echo 8080
agent_start server "$(agent_config server)"
cat >"$WARD_TMP/client.json" <<JSON
{ "trust_domain": "example.org", "identity": { "workload_api": "unix://$SOCK" },
  "proxy": { "uid": $PROXY_UID, "workers": 1 }, "log": { "level": "debug" } }
JSON

echo "== no socket yet"
agent_start client "$WARD_TMP/client.json"
CLIENT_PID=${WARD_PIDS[-1]}
check "missing socket reported" \
  wait_log client 0 5 '"code":"connect_failed"' "No such file or directory" "$SOCK"
admin() { pod client curl -s -o "$WARD_TMP/admin.out" -w '%{http_code}' "http://127.0.0.1:15020$1"; }
check "not ready without an SVID" test "$(admin /ready)" = 503

echo "== a good SVID"
fake svid "$C/svid.pem" "$C/svid.key" "$C/bundle.pem"
check "SVID loaded once the socket appears" \
  wait_log client 0 15 '"event":"identity_loaded"' 'sa/client'
check "a request flows" mesh client send "$(pod_ip server)" 8080 hello
hold_open h1 client "$(pod_ip server)" 8080

# bad MODE... -- WHAT PATTERN...: serve MODE, make the agent reconnect, expect a
# log line with every PATTERN, then prove traffic is untouched.
bad() {
  local args=() mark what
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  what=$1
  shift
  echo "== $what"
  mark=$(log_mark client)
  fake "${args[@]}"
  kill -HUP "$CLIENT_PID"
  check "$what: reported" wait_log client "$mark" 10 "$@"
  check "$what: agent still running" kill -0 "$CLIENT_PID"
  check "$what: live connection kept" hold_ping h1 "after-$what"
  check "$what: new connections still served" mesh client send "$(pod_ip server)" 8080 "$what"
}

# curl names a non-HTTP/2 peer variously (framing error, reset, poll error).
bad garbage -- garbage '"event":"workload_api_error"' '"retrying":true'
bad status 7 "no identity issued" -- permission-denied \
  '"code":"permission_denied"' '"message":"no identity issued"' '"retrying":true'
bad svid "$WARD_TMP/other/client/svid.pem" "$WARD_TMP/other/client/svid.key" \
  "$WARD_TMP/other/client/bundle.pem" spiffe://other.org/ns/default/sa/client -- other-trust-domain \
  '"event":"workload_api_update_rejected"' "not in trust domain example.org" \
  '"action":"keeping the current identity"'
bad svid "$WARD_TMP/expired/client/svid.pem" "$WARD_TMP/expired/client/svid.key" \
  "$WARD_TMP/expired/client/bundle.pem" -- expired-svid \
  '"event":"workload_api_update_rejected"' "valid now"
bad svid "$C/svid.pem" "$WARD_TMP/certs/server/svid.key" "$C/bundle.pem" -- mismatched-key \
  '"event":"workload_api_update_rejected"' "match the certificate"
bad svid "$C/svid.pem" "$C/svid.key" "$C/bundle.pem" spiffe://example.org/ns/default/sa/other \
  -- wrong-spiffe-id-field '"event":"workload_api_update_rejected"' "does not match the certificate"
# Not retried (Workload API standard): the agent waits for SIGHUP, and says so.
bad status 3 "security header missing" -- invalid-argument \
  '"code":"invalid_argument"' '"retrying":false'

echo "== back to a good server"
mark=$(log_mark client)
fake svid "$C/svid.pem" "$C/svid.key" "$C/bundle.pem"
sleep 1
check "invalid_argument is not retried by itself" \
  bash -c "! tail -n +$((mark + 1)) '$WARD_TMP/client.log' | grep -q workload_api_connected"
kill -HUP "$CLIENT_PID"
check "SIGHUP reconnects" wait_log client "$mark" 10 '"event":"workload_api_connected"'
check "the same SVID again is not a rotation" \
  bash -c "! tail -n +$((mark + 1)) '$WARD_TMP/client.log' | grep -q identity_rotated"
check "long-lived connection closes cleanly" hold_quit h1
check "no handshake failed" bash -c "! grep -q handshake_failed '$WARD_TMP/client.log'"
check "ready with an SVID" test "$(admin /ready)" = 200
admin /metrics >/dev/null
for code in connect_failed permission_denied invalid_argument; do
  check "metrics count $code" grep -Eq "^ward_workload_api_errors_total\{code=\"$code\"\} [1-9]" \
    "$WARD_TMP/admin.out"
done
check "metrics show the Workload API connected" grep -q '^ward_workload_api_connected 1' \
  "$WARD_TMP/admin.out"

summary "workload api bad inputs e2e"
