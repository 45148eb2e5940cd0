#!/usr/bin/env bash
# e2e: `ward server` for real. The Workload API is fetched over its unix socket
# with curl (HTTP/2 prior knowledge, gRPC framing) as different uids, and the
# answers decoded with tests/e2e/wlapi.py and checked with openssl: the SVID
# each uid gets (or PermissionDenied), key and certificate together, chains
# that verify against the bundle, statuses for bad calls, garbage on the
# socket, many streams at once, rotation pushed on open streams (admin socket
# and short TTLs), CA and root rotation, restart with the same CA, an upstream
# CA, and configuration errors.
# Needs root (setpriv to other uids). WARD_BIN overrides the binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "server e2e: $WARD_BIN not built" >&2; exit 1; }

WLAPI=$WARD_ROOT/tests/e2e/wlapi.py
S=$WARD_TMP/server
OUT=$WARD_TMP/out # written by curl as other uids
mkdir -p "$S" "$OUT"
chmod 1777 "$OUT"
SOCK=$S/wl.sock
ADMIN=$S/admin.sock
EMPTY=$WARD_TMP/empty.bin # one gRPC frame: an empty X509SVIDRequest
printf '\x00\x00\x00\x00\x00' >"$EMPTY"
chmod 644 "$EMPTY"
CURL=$(readlink -f "$(command -v curl)")
CURL_SHA=$(sha256sum "$CURL" | cut -d' ' -f1)

# A federated trust domain's CA, and an upstream CA for the second server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /O=partner -keyout "$S/partner.key" -out "$S/partner.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/O=Upstream Root/CN=upstream" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$S/up.key" -out "$S/up.pem" 2>/dev/null

cat >"$S/entries.json" <<JSON
{"entries": [
  {"spiffe_id": "spiffe://example.org/root-svc", "selectors": ["unix:uid:0"], "hint": "root"},
  {"spiffe_id": "spiffe://example.org/app", "selectors": ["unix:uid:1234", "unix:gid:1234"],
   "federates_with": ["partner.org"]},
  {"spiffe_id": "spiffe://example.org/short", "selectors": ["unix:uid:1235"],
   "x509_svid_ttl_s": 4},
  {"spiffe_id": "spiffe://example.org/by-path", "selectors": ["unix:uid:1236", "unix:path:$CURL"]},
  {"spiffe_id": "spiffe://example.org/by-hash", "selectors": ["unix:uid:1237", "unix:sha256:$CURL_SHA"]},
  {"spiffe_id": "spiffe://example.org/wrong-hash", "selectors": ["unix:uid:1238",
   "unix:sha256:0000000000000000000000000000000000000000000000000000000000000000"]}
]}
JSON
server_config() { # FILE DATA-DIR EXTRA-JSON-MEMBERS
  cat >"$1" <<JSON
{"trust_domain": "example.org", "socket": "$SOCK", "admin_socket": "$ADMIN",
 "data_dir": "$2", "entries": "entries.json", "svid_ttl_s": 600, "ca_ttl_s": 3600,
 "federation": {"partner.org": "partner.pem"}, "log": {"level": "debug"}$3}
JSON
}
server_config "$S/server.json" data ', "rotation": {"grace_ms": 300, "max_wait_ms": 1500}'

server_start() { # CONFIG LOG
  local log=$2 i
  "$WARD_BIN" server --config "$1" 2>>"$log" &
  WARD_PIDS+=($!)
  SERVER_PID=$!
  for i in $(seq 1 100); do
    grep -q '"event":"ready"' "$log" 2>/dev/null && [ -S "$SOCK" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.05
  done
  cat "$log" >&2
  return 1
}
server_stop() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
}

# fetch NAME UID METHOD [curl args]: body in $OUT/NAME.bin, headers and
# trailers in $OUT/NAME.hdr. The stream stays open: curl ends at MAXT seconds.
fetch() {
  local name=$1 uid=$2 method=$3 security=(-H 'workload.spiffe.io: true')
  shift 3
  [ -z "${NOHDR:-}" ] || security=()
  rm -f "$OUT/$name.bin" "$OUT/$name.hdr"
  setpriv --reuid="$uid" --regid="$uid" --clear-groups \
    curl -sS --http2-prior-knowledge --unix-socket "$SOCK" -H 'content-type: application/grpc' \
    -H 'te: trailers' "${security[@]}" "$@" --data-binary @"$EMPTY" --max-time "${MAXT:-1}" \
    -D "$OUT/$name.hdr" -o "$OUT/$name.bin" "http://localhost$method" 2>/dev/null || true
}
SVID=/SpiffeWorkloadAPI/FetchX509SVID
BUNDLES=/SpiffeWorkloadAPI/FetchX509Bundles
grpc_status() { tr -d '\r' <"$OUT/$1.hdr" | sed -n 's/^grpc-status: //p' | tail -n 1; }
grpc_message() { tr -d '\r' <"$OUT/$1.hdr" | sed -n 's/^grpc-message: //p' | tail -n 1; }
status_is() { # NAME CODE [MESSAGE]
  local got msg
  got=$(grpc_status "$1")
  msg=$(grpc_message "$1")
  [ "$got" = "$2" ] || { echo "  $1: grpc-status '$got' ($msg), want $2" >&2; return 1; }
  [ -z "${3:-}" ] || [ "$msg" = "$3" ] || { echo "  $1: grpc-message '$msg'" >&2; return 1; }
}
# decode NAME KIND: wlapi.py's JSON for the last message; PEMs in $OUT/NAME/.
decode() {
  mkdir -p "$OUT/$1"
  python3 "$WLAPI" "$2" "$OUT/$1.bin" "$OUT/$1" >"$OUT/$1.json"
}
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$OUT/$1.json"; }
field_is() { # NAME PY-EXPR WANT
  local got
  got=$(json_get "$1" "$2")
  [ "$got" = "$3" ] || { echo "  $1: $2 = '$got', want '$3'" >&2; return 1; }
}
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
key_matches() { # DIR
  [ "$(openssl x509 -in "$1/svid0.pem" -noout -pubkey)" = "$(openssl pkey -in "$1/svid0.key" -pubout)" ]
}
verifies() { # DIR [PURPOSE]: the chain (leaf first) against the bundle
  openssl verify -purpose "${2:-any}" -CAfile "$1/bundle.pem" -untrusted "$1/svid0.pem" \
    "$1/svid0.pem" >/dev/null
}
alive() {
  kill -0 "$SERVER_PID" 2>/dev/null && fetch alive 0 "$SVID" && decode alive svid &&
    field_is alive "d['svids'][0]['spiffe_id']" spiffe://example.org/root-svc
}
mode_is() { [ "$(stat -c %a "$1")" = "$2" ] || { echo "  $1: mode $(stat -c %a "$1")" >&2; return 1; }; }

echo "== config errors"
cat >"$S/bad.json" <<JSON
{"trust_domain": "example.org", "entries": "entries.json", "svid_ttl_s": 0}
JSON
bad_config() { # WANT-IN-MESSAGE
  local rc=0
  "$WARD_BIN" server --config "$S/bad.json" --check >/dev/null 2>"$S/bad.err" || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "$1" "$S/bad.err" || { echo "  rc $rc: $(cat "$S/bad.err")" >&2; return 1; }
}
check "bad svid_ttl_s is named" bad_config "svid_ttl_s: must be an integer from 1"
echo '{"entries": "entries.json", "trust_domain": "example.org", "sockett": "x"}' >"$S/bad.json"
check "unknown key is named" bad_config "sockett: unknown key"
echo '{"trust_domain": "example.org", "entries": "bad-entries.json"}' >"$S/bad.json"
echo '{"entries": [{"spiffe_id": "spiffe://example.org/x", "selectors": ["unix:uid:abc"]}]}' \
  >"$S/bad-entries.json"
check "bad entry names index and key" bad_config "entries[0].selectors[0]: \"unix:uid:abc\" must be a decimal number"
echo '{"trust_domain": "example.org", "entries": "entries.json", "data_dir": "d2"}' >"$S/bad.json"
check "federates_with without a bundle is named" bad_config "entries[1].federates_with[0]: no bundle for partner.org"

echo "== --check writes nothing"
checked() { # CONFIG WANT-IN-OUTPUT: --check exits 0 and says WANT
  "$WARD_BIN" server --config "$1" --check >"$S/check.out" 2>&1 && grep -qF -- "$2" "$S/check.out" ||
    { echo "  $(cat "$S/check.out")" >&2; return 1; }
}
check "--check on a new data dir passes" checked "$S/server.json" "a new CA to be created in $S/data"
check "  and creates neither the data dir nor a CA" test ! -e "$S/data"
check "  nor the sockets" bash -c "[ ! -e '$SOCK' ] && [ ! -e '$ADMIN' ]"

echo "== serving"
check "server starts" server_start "$S/server.json" "$S/server.log"
check "Workload API socket is 0777" mode_is "$SOCK" 777
check "admin socket is 0600" mode_is "$ADMIN" 600
check "data dir is 0700" mode_is "$S/data" 700
check "CA key is 0600" mode_is "$S/data/ca-1.key" 600

fetch root 0 "$SVID"
check "root gets its SVID" decode root svid
check "  its SPIFFE ID" field_is root "d['svids'][0]['spiffe_id']" spiffe://example.org/root-svc
check "  its hint" field_is root "d['svids'][0]['hint']" root
check "  only its own entry" field_is root "len(d['svids'])" 1
check "  key matches the certificate" key_matches "$OUT/root"
check "  chain verifies against the bundle" verifies "$OUT/root"
check "  usable as TLS server and client" \
  bash -c "$(declare -f verifies); verifies '$OUT/root' sslserver && verifies '$OUT/root' sslclient"
check "  leaf: URI SAN, CA:FALSE, key usage critical" bash -c "
  t=\$(openssl x509 -in '$OUT/root/svid0.pem' -noout -text)
  grep -q 'URI:spiffe://example.org/root-svc' <<<\"\$t\" && grep -q 'CA:FALSE' <<<\"\$t\" &&
  grep -A1 'Key Usage: critical' <<<\"\$t\" | grep -q 'Digital Signature'"
check "  bundle root: CA, URI SAN spiffe://example.org" bash -c "
  t=\$(openssl x509 -in '$OUT/root/bundle.pem' -noout -text)
  grep -q 'CA:TRUE' <<<\"\$t\" && grep -q 'URI:spiffe://example.org$' <<<\"\$t\" &&
  grep -q 'Certificate Sign' <<<\"\$t\""

fetch app 1234 "$SVID"
check "uid 1234 gets the app SVID" decode app svid
check "  spiffe://example.org/app" field_is app "d['svids'][0]['spiffe_id']" spiffe://example.org/app
check "  with the federated bundle" field_is app "d['federated_bundles']" "{'spiffe://partner.org': 1}"
check "  federated bundle is partner's CA" cmp <(openssl x509 -in "$OUT/app/fed-partner.org.pem") \
  <(openssl x509 -in "$S/partner.pem")
check "  key matches, chain verifies" bash -c "$(declare -f key_matches verifies); key_matches '$OUT/app' && verifies '$OUT/app'"
check "  root's key is not in uid 1234's answer" bash -c "! cmp -s '$OUT/root/svid0.key' '$OUT/app/svid0.key'"

fetch nobody 65534 "$SVID"
check "uid 65534: PermissionDenied" status_is nobody 7 "no identity issued"
fetch bundles-nobody 65534 "$BUNDLES"
check "uid 65534 bundles: PermissionDenied" status_is bundles-nobody 7 "no identity issued"
fetch hash-wrong 1238 "$SVID"
check "sha256 selector of another binary: PermissionDenied" status_is hash-wrong 7
fetch by-path 1236 "$SVID"
check "unix:path selector matches curl" decode by-path svid
check "  spiffe://example.org/by-path" field_is by-path "d['svids'][0]['spiffe_id']" spiffe://example.org/by-path
fetch by-hash 1237 "$SVID"
check "unix:sha256 selector matches curl" decode by-hash svid
check "  spiffe://example.org/by-hash" field_is by-hash "d['svids'][0]['spiffe_id']" spiffe://example.org/by-hash

fetch bundles 1234 "$BUNDLES"
check "FetchX509Bundles: own and federated" decode bundles bundles
check "  keyed spiffe://<td>" field_is bundles "sorted(d['bundles'])" "['spiffe://example.org', 'spiffe://partner.org']"

echo "== bad calls"
NOHDR=1 fetch nohdr 0 "$SVID"
check "no workload.spiffe.io header: InvalidArgument" status_is nohdr 3 "security header missing from request"
fetch unknown 0 /SpiffeWorkloadAPI/Nope
check "unknown method: Unimplemented" status_is unknown 12
fetch jwt 0 /SpiffeWorkloadAPI/FetchJWTSVID
check "FetchJWTSVID: Unimplemented" status_is jwt 12
fetch validate 0 /SpiffeWorkloadAPI/ValidateJWTSVID
check "ValidateJWTSVID: Unimplemented" status_is validate 12
http_status_is() { tr -d '\r' <"$OUT/$1.hdr" | head -n 1 | grep -q "^HTTP/2 $2"; }
fetch ct 0 "$SVID" -H 'content-type: text/plain'
check "content-type not gRPC: HTTP 415" http_status_is ct 415
head -c 4096 /dev/urandom | socat -t 1 - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1 || true
check "random bytes on the socket: server still serves" alive
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | socat -t 1 - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1 || true
check "HTTP/1.1 on the socket: server still serves" alive
printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\xff\xff\xff\x04\x00\x00\x00\x00' |
  socat -t 1 - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1 || true
check "oversized frame after the preface: server still serves" alive
# Many streams on one connection (tests/e2e/h2streams.py: curl does not
# multiplex uploads reliably).
H2STREAMS=$WARD_ROOT/tests/e2e/h2streams.py
many() {
  python3 "$H2STREAMS" "$SOCK" 100 10 >"$OUT/many.json" &&
    [ "$(cat "$OUT/many.json")" = '{"streams": 100, "complete": 100, "spiffe_ids": ["spiffe://example.org/root-svc"]}' ] ||
    { cat "$OUT/many.json" >&2; return 1; }
}
check "100 streams at once on one connection each get the SVID" many
check "the 101st concurrent stream is refused (SETTINGS_MAX_CONCURRENT_STREAMS)" \
  bash -c "python3 '$H2STREAMS' '$SOCK' 101 10 2>&1 | grep -q 'RST_STREAM on stream 201'"
check "and the server still serves" alive

echo "== rotation"
fetch r1 0 "$SVID" && decode r1 svid
fetch r2 0 "$SVID" && decode r2 svid
check "the SVID is cached between calls" \
  test "$(serial_of "$OUT/r1/svid0.pem")" = "$(serial_of "$OUT/r2/svid0.pem")"
"$WARD_BIN" server rotate svids --admin "$ADMIN" >/dev/null
fetch r3 0 "$SVID" && decode r3 svid
check "admin 'rotate svids' changes the serial" \
  test "$(serial_of "$OUT/r1/svid0.pem")" != "$(serial_of "$OUT/r3/svid0.pem")"

# An open stream gets the new SVID pushed.
MAXT=4 fetch pushed 0 "$SVID" &
CURL_PID=$!
sleep 1
"$WARD_BIN" server rotate svids --admin "$ADMIN" >/dev/null
wait "$CURL_PID" || true
check "rotation is pushed on an open stream" decode pushed svid
check "  two messages" field_is pushed "d['messages']" 2
check "  the last one verifies" verifies "$OUT/pushed"

# A TTL of 4 s rotates by itself at half life, on the open stream.
MAXT=9 fetch short 1235 "$SVID"
check "short TTL: rotated on the stream without being asked" decode short svid
check "  more than one message" field_is short "d['messages'] > 1" True
check "  lifetime is the entry's 4 s" bash -c "
  nb=\$(date -d \"\$(openssl x509 -in '$OUT/short/svid0.pem' -noout -startdate | cut -d= -f2)\" +%s)
  na=\$(date -d \"\$(openssl x509 -in '$OUT/short/svid0.pem' -noout -enddate | cut -d= -f2)\" +%s)
  [ \$((na - nb)) -eq 14 ]" # 4 s + 10 s backdated for clock skew

# CA rotation: the bundle stream gets the new CA; SVIDs move to it, but only
# once every open stream was sent the bundle that holds it (and the grace).
MAXT=4 fetch ca-stream 0 "$BUNDLES" &
CURL_PID=$!
MAXT=4 fetch ca-svid 0 "$SVID" &
CURL2_PID=$!
sleep 1
"$WARD_BIN" server rotate ca --admin "$ADMIN" >"$OUT/rot-ca.json"
wait "$CURL_PID" "$CURL2_PID" || true
check "'rotate ca' pushes a bundle with both CAs" decode ca-stream bundles
check "  two messages, two CAs" field_is ca-stream "(d['messages'], d['bundles']['spiffe://example.org'])" "(2, 2)"
check "  an open SVID stream decodes" decode ca-svid svid
check "  it got the new bundle first, then the new SVID (three messages)" \
  field_is ca-svid "d['messages']" 3
check "  the reply: prepared, sent to both streams, 300 ms grace, activated" field_is rot-ca \
  "(d['prepared']['streams'], d['prepared']['sent'], d['grace_ms'], d['activated_ms'] >= 300, d['svids']['sent'], d['ca_serial'] == d['prepared']['serial'] != d['previous_ca_serial'])" \
  "(2, 2, 300, True, 2, True)"
check "  and says so" grep -q '"summary": "prepared CA .*; bundle sent to 2 of 2 streams in .* ms; 300 ms grace; activated; SVIDs re-issued and sent to 2 of 2 streams' "$OUT/rot-ca.json"
fetch after-ca 0 "$SVID" && decode after-ca svid
check "  new SVIDs verify against the new bundle" verifies "$OUT/after-ca"
check "  and are signed by the new CA" bash -c "
  [ \"\$(openssl x509 -in '$OUT/after-ca/svid0.pem' -noout -issuer)\" != \
    \"\$(openssl x509 -in '$OUT/root/svid0.pem' -noout -issuer)\" ]"
check "  an SVID of the old CA still verifies (overlap)" \
  bash -c "openssl verify -CAfile '$OUT/after-ca/bundle.pem' '$OUT/root/svid0.pem' >/dev/null"

# stalled: a Workload API caller whose streams' window is 0 (it never takes a
# byte); STALL_PID once the server has its call.
stalled() {
  python3 "$H2STREAMS" "$SOCK" 1 6 0 >/dev/null &
  STALL_PID=$!
  for _ in $(seq 1 100); do
    grep -q "\"event\":\"workload_api_call\".*\"pid\":$STALL_PID," "$S/server.log" && return 0
    sleep 0.05
  done
  echo "  the stalled caller's call did not start" >&2
  return 1
}
# rotating: the server prepared a rotation and waits for its streams.
rotating() {
  local i mark=$1
  for i in $(seq 1 100); do
    tail -n "+$mark" "$S/server.log" | grep -q '"event":"rotation_prepared"' && return 0
    sleep 0.05
  done
  return 1
}

# A workload that never reads holds a rotation for rotation.max_wait_ms at
# most; it is named, and the CA is activated.
stalled
mark=$(($(wc -l <"$S/server.log") + 1))
"$WARD_BIN" server rotate ca --admin "$ADMIN" >"$OUT/rot-stalled.json" &
ROT_PID=$!
rotating "$mark"
busy=accepted
"$WARD_BIN" server rotate svids --admin "$ADMIN" >/dev/null 2>"$S/busy.err" || busy=refused
wait "$ROT_PID" || true
check "a second rotation while one is under way is refused" test "$busy" = refused
check "  with the reason" grep -q "a ca rotation is propagating the new bundle; try again" "$S/busy.err"
check "a stream that never reads holds 'rotate ca' 1.5 s at most, and is named" field_is rot-stalled \
  "(d['prepared']['sent'], d['prepared']['streams'] - 1, 1500 <= d['prepared']['ms'] < 4000, d['prepared']['lagging'][0]['pid'], d['ca_serial'] == d['prepared']['serial'])" \
  "(0, 0, True, $STALL_PID, True)"
check "  and logged (rotation_lagging)" grep -q "\"event\":\"rotation_lagging\".*\"pid\":$STALL_PID" "$S/server.log"
kill "$STALL_PID" 2>/dev/null || true
wait "$STALL_PID" 2>/dev/null || true

"$WARD_BIN" server rotate root --admin "$ADMIN" >"$S/root.json"
"$WARD_BIN" server cas --admin "$ADMIN" >"$S/cas.json"
cas_check() {
  python3 - "$S/cas.json" <<'PY'
import json, sys
cas = json.load(open(sys.argv[1]))["cas"]
active = [c for c in cas if c["state"] == "active"]
old = [c for c in cas if c["state"] == "old"]
assert len(active) == 1 and len(old) >= 2, cas
# Old roots leave the bundle when their last SVID expires, before their own end.
assert all(c["leaves_bundle_at"] < c["not_after"] for c in old), old
PY
}
check "'rotate root': a new active root, old ones retire early" cas_check
fetch after-root 0 "$SVID" && decode after-root svid
check "  SVIDs verify against the new bundle" verifies "$OUT/after-root"
check "'rotate ca' in the CLI refuses nonsense" bash -c "! '$WARD_BIN' server rotate everything --admin '$ADMIN' 2>/dev/null"
"$WARD_BIN" server entries --admin "$ADMIN" >"$S/entries.out"
check "'entries' lists the six entries" test "$(grep -c '"spiffe_id"' "$S/entries.out")" = 6
"$WARD_BIN" server svids --admin "$ADMIN" >"$S/svids.out"
check "'svids' lists issued SVIDs without keys" bash -c "grep -q root-svc '$S/svids.out' && ! grep -qi 'key' '$S/svids.out'"

# A server stopped during a rotation answers it with what was done.
stalled
mark=$(($(wc -l <"$S/server.log") + 1))
"$WARD_BIN" server rotate ca --admin "$ADMIN" >/dev/null 2>"$S/aborted.err" &
ROT_PID=$!
rotating "$mark"
server_stop
rot_rc=0
wait "$ROT_PID" || rot_rc=$?
check "a server stopped during a rotation answers it (exit 1, why)" bash -c \
  "[ $rot_rc = 1 ] && grep -q 'the server stopped while propagating the new bundle' '$S/aborted.err'"
kill "$STALL_PID" 2>/dev/null || true
wait "$STALL_PID" 2>/dev/null || true
check "  and starts again" server_start "$S/server.json" "$S/server.log"

echo "== restart"
ACTIVE=$(python3 -c "import json; print([c['serial'] for c in json.load(open('$S/cas.json'))['cas'] if c['state']=='active'][0])")
server_stop
check "sockets removed at exit" bash -c "[ ! -e '$SOCK' ] && [ ! -e '$ADMIN' ]"
ls -l --time-style=+%s.%N "$S/data" >"$S/data.before"
sleep 1
check "--check on the data dir names its active CA" checked "$S/server.json" "CA $ACTIVE"
check "  and leaves every file as it was" diff "$S/data.before" <(ls -l --time-style=+%s.%N "$S/data")
check "server restarts" server_start "$S/server.json" "$S/server2.log"
check "  with the same active CA" grep -q "\"ca_serial\":\"$ACTIVE\"" "$S/server2.log"
check "  and serves" alive
server_stop

echo "== upstream CA"
server_config "$S/up.json" updata ', "upstream": {"cert": "up.pem", "key": "up.key", "bundle": "up.pem"}'
check "server starts under an upstream CA" server_start "$S/up.json" "$S/up.log"
fetch up 0 "$SVID"
check "SVID chain carries the intermediate" decode up svid
check "  two certificates" field_is up "d['svids'][0]['chain_certs']" 2
check "  bundle is the upstream root" cmp <(openssl x509 -in "$OUT/up/bundle.pem") <(openssl x509 -in "$S/up.pem")
check "  chain verifies to the upstream root" verifies "$OUT/up"
check "  'rotate root' is refused" bash -c "! '$WARD_BIN' server rotate root --admin '$ADMIN' 2>/dev/null"
server_stop

summary "server e2e"
