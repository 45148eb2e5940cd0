#!/usr/bin/env bash
# What a new user reads when something is wrong (issue 16, item 6): every
# error names the file or the flag where the wrong value is, once; the usage
# text follows only usage errors; the usage lines show every flag. Needs no
# root, no network.
source "$(dirname "$0")/lib.sh"
trap ward_cleanup EXIT
cd "$WARD_TMP"

# says EXIT WANT CMD...: CMD exits EXIT and its stderr is exactly WANT.
says() {
  local want_rc=$1 want=$2 rc=0
  shift 2
  "$@" >/dev/null 2>err.txt || rc=$?
  [ "$rc" = "$want_rc" ] && [ "$(cat err.txt)" = "$want" ] && return 0
  echo "  exit $rc, stderr:" >&2
  sed 's/^/    /' err.txt >&2
  return 1
}

W=$WARD_BIN
echo '{"trust_domain": "example.org", "identity": {"workload_api": "unix:///x"},
 "limits": {"buffer_bytes": "abc"}}' >bad.json
echo '{"trust_domain": "example.org", "identity": {"workload_api": "unix:///x"}}' >good.json
echo '{"trust_domain": "example.org"}' >noid.json
echo '{' >broken.json
BUF='limits.buffer_bytes: must be an integer between 4096 and 16777216 (got "abc")'

echo "== ward agent"
check "a bad key names the file once" says 2 "ward agent: bad.json: $BUF" \
  "$W" agent --config bad.json
check "... also with an --override that is fine" says 2 "ward agent: bad.json: $BUF" \
  "$W" agent -c bad.json --override '{"log": {"level": "debug"}}'
check "a bad value from --override is blamed on --override" \
  says 2 'ward agent: --override: log.level: must be one of debug, info, warn, error (got "loud")' \
  "$W" agent --config good.json --override '{"log": {"level": "loud"}}'
check "... down to a list entry" \
  says 2 'ward agent: --override: outbound.mesh_cidrs[1]: "10.0.0.1/8" has host bits set' \
  "$W" agent --config good.json --override '{"outbound": {"mesh_cidrs": ["fd00::/8", "10.0.0.1/8"]}}'
check "an --override that is not JSON" \
  says 2 'ward agent: --override: not a JSON object (unexpected token near end of file)' \
  "$W" agent --config good.json --override '{"log":'
check "a missing file is named once" \
  says 2 'ward agent: unable to open nope.json: No such file or directory' "$W" agent --config nope.json
check "a syntax error names the file once" \
  says 2 "ward agent: broken.json: line 2 column 0: string or '}' expected near end of file" \
  "$W" agent --config broken.json --override '{}'
check "a config without identity, the override not to blame" \
  says 2 'ward agent: noid.json: identity: set identity.files or identity.workload_api (or SPIFFE_ENDPOINT_SOCKET)' \
  env -u SPIFFE_ENDPOINT_SOCKET "$W" agent --config noid.json --override '{"log": {"level": "info"}}'
"$W" agent --help >help.txt
check "the usage lines show --override and the config layers" bash -c \
  "grep -qxF 'usage: ward agent --config FILE [--config-optional] [--defaults JSON]' help.txt &&
   grep -qxF '                  [--override JSON] [--check]' help.txt"
check "-h is --help" cmp help.txt <("$W" agent -h)
check "a usage error gets the usage" bash -c '"$1" agent 2>&1 | grep -q "^usage: ward agent"' _ "$W"

echo "== ward status, ward doctor, ward server"
check "status: a bad config is named once, without the usage" says 2 "ward status: bad.json: $BUF" \
  "$W" status --config bad.json
check "status: a bad --admin is named, without the usage" \
  says 2 'ward status: --admin: "nowhere" is not an address (want ip:port or [ipv6]:port)' \
  "$W" status -a nowhere
check "status: a usage error still gets the usage" \
  bash -c '"$1" status -a 127.0.0.1:1 -c x.json 2>&1 | grep -q "^usage: ward status"' _ "$W"
check "doctor: a bad config is named once" says 2 "ward doctor: bad.json: $BUF" \
  "$W" doctor -c bad.json
check "server: a missing config is named once" \
  says 2 'ward server: unable to open nope.json: No such file or directory' \
  "$W" server -c nope.json --check
check "server: a syntax error names the file once" \
  says 2 "ward server: broken.json: line 2 column 0: string or '}' expected near end of file" \
  "$W" server --config broken.json --check
check "server: a bad key names the file once" \
  says 2 'ward server: bad.json: identity: unknown key' "$W" server --config bad.json --check

echo "== ward iptables (--dry-run: no root needed)"
check "a CIDR without a prefix is refused, as in the config" \
  says 2 "ward iptables: --exclude-outbound-cidrs '169.254.169.254': \"169.254.169.254\" is not a CIDR" \
  "$W" iptables --dry-run --exclude-outbound-cidrs 169.254.169.254
check "a CIDR with host bits is refused, as in the config" \
  says 2 "ward iptables: --include-outbound-cidrs '10.1.0.0/8': \"10.1.0.0/8\" has host bits set" \
  "$W" iptables --dry-run --include-outbound-cidrs 10.1.0.0/8
check "the admin port cannot be the outbound port" \
  says 2 'ward iptables: --outbound-port and --admin-port must differ (both 15020)' \
  "$W" iptables --dry-run --outbound-port 15020
check "a port listed twice is refused" \
  says 2 "ward iptables: --exclude-inbound-ports '22,9090,22': port 22 listed twice" \
  "$W" iptables --dry-run --exclude-inbound-ports 22,9090,22

echo "== ward wait --timeout 0"
# Nothing listens on port 9: one refused try, exit 1 (the default would poll for 60 s).
check "asks once and gives up" bash -c \
  'timeout 10 "$1" wait --timeout 0 --url http://127.0.0.1:9/ready 2>/dev/null; [ $? -eq 1 ]' _ "$W"

summary "messages e2e"
