#!/usr/bin/env bash
# The agent recovers from every refusal of the Workload API (issue 16, item 1).
# A pod often starts before its registration entry exists: the first calls are
# refused (PermissionDenied) and a later one succeeds. The agent must retry each
# refusal on a fresh stream with backoff, and have its SVID at the first attempt
# after the entry appears: within one backoff step. Covered for every gRPC
# status (tests/e2e/fakewl.py flaky: refuse from the first call for a while,
# then serve) and for `ward server` itself (no entry for the agent, then a
# restart with one).
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT

SOCK=$WARD_TMP/fake/api.sock
CALLS=$WARD_TMP/fake/calls.log
mkdir -p "$WARD_TMP/fake"
chmod 755 "$WARD_TMP/fake"
certs_for client
C=$WARD_TMP/certs/client

FAKE_PID=
fake() { # MODE ARGS...: (re)start the fake Workload API on $SOCK, a fresh call log
  [ -n "$FAKE_PID" ] && { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null || true; }
  rm -f "$SOCK" "$CALLS"
  FAKEWL_LOG=$CALLS "$WARD_PY" "$WARD_ROOT/tests/e2e/fakewl.py" "$SOCK" "$@" &
  FAKE_PID=$!
  WARD_PIDS+=("$FAKE_PID")
  for _ in $(seq 1 50); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
  return 1
}

# recovered LOG MARK CODE MIN_REFUSALS [CALL_LOG]: after MARK, the agent logged
# one workload_api_error with CODE per refusal the server made (so each retry
# reached the server and got its clean answer, never a broken transport), at
# least MIN_REFUSALS of them, no protocol_error, and then connected within one
# backoff step: no later than the retry delay announced with the last error
# (+1 s for a loaded machine; the bug this guards against never recovers).
recovered() {
  "$WARD_PY" - "$WARD_TMP/$1.log" "$2" "$3" "$4" "${5:-}" <<'PY'
import datetime, json, sys
log, mark, code, least, calls = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
lines = [json.loads(l) for l in open(log).read().splitlines()[mark:] if l.startswith("{")]
t = lambda e: datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
errors, connected = [], None
for e in lines:
    if e.get("event") == "workload_api_connected":
        connected = e
        break
    if e.get("event") == "workload_api_error":
        errors.append(e)
ours = [e for e in errors if e["code"] == code]
bad = [e for e in errors if e["code"] == "protocol_error"]
def fail(why):
    print("  " + why, file=sys.stderr)
    for e in errors[-6:]:
        print("    " + json.dumps(e), file=sys.stderr)
    sys.exit(1)
if bad:
    fail("protocol_error after a refusal: %s" % bad[0]["message"])
if len(ours) < least:
    fail("%d %s errors, expected at least %d" % (len(ours), code, least))
if calls:
    refused = sum(1 for l in open(calls) if " refused " in l)
    if refused != len(ours):
        fail("the server refused %d calls, the agent reported %d %s" % (refused, len(ours), code))
if connected is None:
    fail("never connected after the %s errors" % code)
late = (t(connected) - t(errors[-1])) * 1000 - errors[-1]["retry_in_ms"]
if late > 1000:
    fail("connected %d ms after the announced retry" % late)
PY
}
# reconnected LOG MARK ...: waits for the connection, then `recovered`.
reconnected() {
  wait_log "$1" "$2" 10 '"event":"workload_api_connected"' && recovered "$@"
}

pod_add client 1
cat >"$WARD_TMP/client.json" <<JSON
{ "trust_domain": "example.org", "identity": { "workload_api": "unix://$SOCK" },
  "proxy": { "uid": $PROXY_UID, "workers": 1 }, "log": { "level": "debug" } }
JSON
svid=("$C/svid.pem" "$C/svid.key" "$C/bundle.pem")

echo "== PermissionDenied for the first second, then an SVID"
fake flaky 7 "no identity issued" 1 "${svid[@]}"
agent_start client "$WARD_TMP/client.json"
CLIENT_PID=${WARD_PIDS[-1]}
check "SVID loaded" wait_log client 0 10 '"event":"identity_loaded"' 'sa/client'
check "each refusal retried on a fresh call, SVID within one backoff step" \
  recovered client 0 permission_denied 2 "$CALLS"
check "every attempt was a new connection" test -z "$(awk '{print $2}' "$CALLS" | sort | uniq -d)"

# Every other status: the server goes away (the agent's stream ends), comes
# back refusing with STATUS from the first call for 0.6 s, then serves.
names=(ok cancelled unknown invalid_argument deadline_exceeded not_found already_exists
  permission_denied resource_exhausted failed_precondition aborted out_of_range unimplemented
  internal unavailable data_loss unauthenticated)
for status in $(seq 0 16); do
  name=${names[$status]}
  [ "$status" = 7 ] && continue
  mark=$(log_mark client)
  fake flaky "$status" "refusing with $name" 0.6 "${svid[@]}"
  if [ "$status" = 3 ] || [ "$status" = 12 ]; then
    # Not retried (Workload API standard): waits for SIGHUP, and says so.
    check "$name: reported, not retried" \
      wait_log client "$mark" 10 "\"code\":\"$name\"" '"retrying":false' "refusing with $name"
    sleep 1
    check "$name: no call while waiting for SIGHUP" test "$(grep -c . "$CALLS")" = 1
    kill -HUP "$CLIENT_PID"
    check "$name: SIGHUP reconnects" \
      wait_log client "$mark" 10 '"event":"workload_api_connected"'
  else
    check "$name: recovered within one backoff step" reconnected client "$mark" "$name" 1 "$CALLS"
  fi
done
check "the agent is ready" \
  test "$(pod client curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:15020/ready)" = 200

echo "== refusals that arrive before the request's message has gone out"
# fakewl.py answers a call as soon as its HEADERS frame arrives, as a server
# may (RFC 9113, section 8.1). Holding each of the agent's sendto 100 ms after
# it returns (strace fault injection) makes that order certain: the refusal is
# in the socket before curl sends the request's DATA frame. libcurl 7.88 then
# keeps the transfer open until the server closes the connection (the old
# flake: ~10 s, until the next step restarted the fake); the agent must end
# the call at its status.
kill "$CLIENT_PID"
wait "$CLIENT_PID" 2>/dev/null || true
cat >"$WARD_TMP/slow-send" <<SH
#!/bin/sh
[ "\$1" = agent ] || exec "$WARD_BIN" "\$@"
exec strace -f -qq --seccomp-bpf -o /dev/null -e trace=sendto \\
  -e inject=sendto:delay_exit=100000 "$WARD_BIN" "\$@"
SH
chmod 755 "$WARD_TMP/slow-send"
pod_add early 3
fake flaky 7 "no identity issued" 1 "${svid[@]}"
WARD_BIN=$WARD_TMP/slow-send agent_start early "$WARD_TMP/client.json"
check "early refusals: SVID loaded" wait_log early 0 15 '"event":"identity_loaded"'
check "early refusals: each one ended its call, SVID within one backoff step" \
  recovered early 0 permission_denied 1 "$CALLS"

echo "== ward server: no entry for the agent, then a restart with one"
pod_add other 2
wlserver_config 60 "4242:nobody"
wlserver_start
PROXY_UID=1338 agent_start other "$(agent_config_wl other 1338)"
refusals() { grep -c '"code":"permission_denied"' "$WARD_TMP/other.log" || true; }
for _ in $(seq 1 50); do [ "$(refusals)" -ge 2 ] && break; sleep 0.1; done
check "every retry gets PermissionDenied" test "$(refusals)" -ge 2
check "never a broken transport" not_logged other protocol_error
wlserver_stop
wlserver_config 60 "1338:other"
wlserver_start
check "SVID once the entry exists" wait_log other 0 15 '"event":"identity_loaded"' 'sa/other'
check "within one backoff step of the server's return" recovered other 0 permission_denied 2

summary "workload api recovery e2e"
