#!/usr/bin/env bash
# e2e: `ward doctor` and `ward status` in pod namespaces.
#   a: capture rules + agent, with a sysctl set per namespace; b: agent;
#   c: no agent and no capture rules (doctor must fail the capture check).
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
# The direct path (one mTLS connection per app connection); the tunnel has
# its own suite (test_tunnel.sh).
export WARD_TUNNEL=never
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "doctor e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add c 3
B=$(pod_ip b)
certs_for a b c
agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
serve b echo 8080

# doctor POD ARGS...: its --json output (the exit status is checked apart).
doctor() {
  local pod=$1
  shift
  pod "$pod" "$WARD_BIN" doctor --json "$@" || true
}
# check_of JSON NAME FIELD
check_of() { jq -r --arg n "$2" ".checks[] | select(.name == \$n) | .$3" <<<"$1"; }

echo "-- ward doctor"
# somaxconn is per network namespace: give a and c different values.
pod a sysctl -qw net.core.somaxconn=8192
pod c sysctl -qw net.core.somaxconn=128
da=$(doctor a --config "$WARD_TMP/a.json")
dc=$(doctor c)
check "a: somaxconn reads the namespace's 8192, ok" \
  test "$(check_of "$da" somaxconn value) $(check_of "$da" somaxconn status)" = "8192 ok"
check "c: somaxconn 128 is a warning recommending >= 4096" \
  test "$(check_of "$dc" somaxconn status) $(check_of "$dc" somaxconn recommended)" = "warn >= 4096"
check "a: capture rules present and consistent" test "$(check_of "$da" capture_rules status)" = ok
check "c: no capture rules is a failure naming what is missing" \
  grep -q '^fail missing: jump PREROUTING' <<<"$(check_of "$dc" capture_rules status) $(check_of "$dc" capture_rules value)"
cfg_other=$WARD_TMP/a-other.json
jq '. + {inbound: {listen: "0.0.0.0:15106"}}' "$WARD_TMP/a.json" >"$cfg_other"
do=$(doctor a --config "$cfg_other")
check "a with another inbound port in the config: rules are inconsistent" \
  test "$(check_of "$do" capture_rules status)" = fail
check "a: the SVID has about a day left" \
  test "$(check_of "$da" svid_expiry status)" = ok -a "$(check_of "$da" svid_expiry value | cut -d' ' -f1)" -gt 80000
check "a: the clock is after the SVID's not-before" test "$(check_of "$da" clock_skew status)" = ok
all_explained() {
  jq -e '[.checks[] | select(.value == "" or .recommended == "" or .why == "")] | length == 0' \
    >/dev/null <<<"$1"
}
check "every check has a value, a recommendation and a reason" all_explained "$da"
rc=0
pod c "$WARD_BIN" doctor >"$WARD_TMP/doctor-c.txt" || rc=$?
check "c: a failed check exits 1" test "$rc" -eq 1
explained() { grep -A2 '^\[FAIL\] capture_rules' "$WARD_TMP/doctor-c.txt" | grep -q 'why:'; }
check "c: human output shows the failure with its recommendation and why" explained
wl_cfg=$WARD_TMP/wl.json
echo '{ "trust_domain": "example.org", "identity": { "workload_api": "unix:///tmp/no-such-ward.sock" } }' >"$wl_cfg"
dw=$(doctor c --config "$wl_cfg")
check "an unreachable Workload API socket fails, naming the path" \
  grep -q '^fail /tmp/no-such-ward.sock: ' <<<"$(check_of "$dw" workload_api_socket status) $(check_of "$dw" workload_api_socket value)"
check "doctor changes nothing: somaxconn still 128 in c" \
  test "$(pod c sysctl -n net.core.somaxconn)" = 128

echo "-- ward status"
for i in 1 2 3; do mesh a send "$B" 8080 "s$i" >/dev/null; done
(echo x; sleep 1) | pod c timeout 8 openssl s_client -connect "$B:8080" -brief >/dev/null 2>&1 || true
pod a "$WARD_BIN" status >"$WARD_TMP/status-a.txt"
pod b "$WARD_BIN" status --config "$WARD_TMP/b.json" >"$WARD_TMP/status-b.txt"
sed 's/^/    /' "$WARD_TMP/status-b.txt"
check "a: ready, with its identity" grep -q "^identity     spiffe://example.org/ns/default/sa/a" "$WARD_TMP/status-a.txt"
check "a: 3 outbound handshakes, all successful, with p50/p99" \
  grep -Eq '^ +3 handshakes, 100.0% successful, p50 [0-9.]+ ms, p99 [0-9.]+ ms' "$WARD_TMP/status-a.txt"
check "b: 4 inbound handshakes, 75% successful" \
  grep -q ' 4 handshakes, 75.0% successful' "$WARD_TMP/status-b.txt"
check "b: top failure reason no_client_cert" \
  grep -q '^failures     no_client_cert 1 (inbound)' "$WARD_TMP/status-b.txt"
check "status p50 is within the histogram's range" \
  awk '/handshakes, 100.0%/ { p50 = $6 + 0 } END { exit !(p50 > 0 && p50 <= 5000) }' "$WARD_TMP/status-a.txt"
rc=0
pod c "$WARD_BIN" status >/dev/null 2>"$WARD_TMP/status-c.err" || rc=$?
check "no agent: exit 1 and the URL named" \
  test "$rc" -eq 1 -a -n "$(grep -F '127.0.0.1:15020' "$WARD_TMP/status-c.err")"
check "bad --admin address: exit 2" test "$(pod c "$WARD_BIN" status --admin nonsense >/dev/null 2>&1; echo $?)" = 2

summary "doctor e2e"
