#!/usr/bin/env bash
# e2e: `ward drill` in a meshed pod, against two agents on ward server.
#   - bad flags, an agent that does not answer, no admin socket: exit 2, named;
#   - a drill of SVID, CA and root rotations and a Workload API outage under
#     load (TCP echo and HTTP targets): PASS, and its HTML page rendered by
#     headless chromium with a line per rotation, a marker per rotation per
#     agent and nothing on the console;
#   - 20 forced CA rotations and 5 root rotations under load: PASS;
#   - drills that must FAIL, and say why: an agent whose bundle is pinned to a
#     file (it never learns the new CA), a target that resets connections;
#   - agents fed by identity files: the drill observes their rotations.
# Pods: client (the drill and its agent), server (the targets), pinned (an
# agent on files that never change), fa and fb (agents on rotated files).
# Needs root. WARD_BIN overrides the binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "drill e2e: $WARD_BIN not built" >&2; exit 1; }

DRILLHTML=$WARD_ROOT/tests/e2e/drillhtml.py
OUT=$WARD_TMP/drill
mkdir -p "$OUT"
pod_add client 1
pod_add server 2
pod_add pinned 3
S=$(pod_ip server)
wlserver_config 30 "1337:client" "1338:server" "1339:pinned"
serve server echo 8080
pod_bg server "$WARD_PY" "$WARD_MESH_PY" http 8081
wait_port server 8081
pod_bg server "$WARD_PY" "$WARD_MESH_PY" flaky 8082 1.5
wait_port server 8082
wlserver_start
wl_pods_start client 1337 server 1338
AGENTS=(--agent 127.0.0.1:15020 --agent "$S:15020")

# drill NAME ARGS...: ward drill in pod client; stdout in $OUT/NAME.out,
# stderr in $OUT/NAME.err, the exit status in $OUT/NAME.rc.
drill() {
  local name=$1 rc=0
  shift
  pod client timeout 300 "$WARD_BIN" drill "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
  echo "$rc" >"$OUT/$name.rc"
}
rc_is() { [ "$(cat "$OUT/$1.rc")" = "$2" ] || { echo "  exit $(cat "$OUT/$1.rc"), want $2" >&2; cat "$OUT/$1.out" "$OUT/$1.err" >&2; return 1; }; }
says() { grep -qF -- "$2" "$OUT/$1.$3" || { echo "  $1.$3 lacks: $2" >&2; cat "$OUT/$1.$3" >&2; return 1; }; }
# report NAME PY-EXPR: the expression over the JSON report d is true.
report() {
  "$WARD_PY" -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['rotations']; ok=($2); print(ok) if not ok else None; sys.exit(0 if ok else 1)" \
    "$OUT/$1.json" || { echo "  $1.json: false: $2" >&2; return 1; }
}
# A restarted ward server is the drill's child; stop it with the rest.
adopt_server() {
  local pid
  pid=$("$WARD_PY" -c "import json,sys; print(json.load(open(sys.argv[1])).get('server_pid', 0))" "$OUT/$1.json")
  if [ "$pid" != 0 ] && [ "$pid" != "$WARD_SERVER_PID" ]; then
    WARD_PIDS+=("$pid")
    WARD_SERVER_PID=$pid
  fi
}

echo "== usage and unreachable parts: exit 2, named"
drill noargs
check "no flags: exit 2" rc_is noargs 2
check "  names the missing --target" says noargs "--target: at least one" err
drill noadmin --target "$S:8080" "${AGENTS[@]}" --plan ca
check "--plan without --server-admin: exit 2, said" bash -c "grep -q 'forced rotations need --server-admin' '$OUT/noadmin.err' && [ \$(cat '$OUT/noadmin.rc') = 2 ]"
drill name --target web:8080 "${AGENTS[@]}" --duration 1s
check "a target by name: exit 2, named" says name '--target: "web:8080" is not ip:port' err
drill nopid --target "$S:8080" "${AGENTS[@]}" --server-admin "$WARD_WL/admin.sock" --fault server-restart
check "--fault without --server-pid: exit 2, said" says nopid "only when given its pid (--server-pid)" err
drill deadagent --target "$S:8080" --agent 127.0.0.1:15999 --duration 2s
check "an agent that does not answer: exit 2" rc_is deadagent 2
check "  names it and why" says deadagent "agent 127.0.0.1:15999 does not answer: /certs: connect_refused" err
drill deadadmin --target "$S:8080" "${AGENTS[@]}" --server-admin "$WARD_TMP/nope.sock"
check "no admin socket: exit 2, named" bash -c "grep -q 'nope.sock: no such file or directory' '$OUT/deadadmin.err' && [ \$(cat '$OUT/deadadmin.rc') = 2 ]"
check "README's Drills section documents every flag of --help" bash -c '
  for f in $("$1" drill --help | grep -oE -- "--[a-z-]+" | sort -u); do
    sed -n "/section:drills -->/,/\/section:drills/p" "$2" | grep -q -- "$f" ||
      { echo "  README lacks $f" >&2; exit 1; }
  done' _ "$WARD_BIN" "$WARD_ROOT/README.md"

echo "== a drill under load: SVID, CA and root rotations and a Workload API outage"
drill pass --target "$S:8080" --target "http://$S:8081/ok" --rate 40 --long 6 "${AGENTS[@]}" \
  --server-admin "$WARD_WL/admin.sock" --server-pid "$WARD_SERVER_PID" \
  --plan svids:2,ca:2,root:1 --fault workload-api-down:3s --fault server-restart \
  --interval 2s --warmup 1s \
  --cooldown 1s --json "$OUT/pass.json" --html "$OUT/pass.html"
adopt_server pass
check "it passes (exit 0)" rc_is pass 0
check "  the summary says PASS" says pass "ward drill: PASS" out
check "  and where the pages are" says pass "html       $OUT/pass.html" out
check "  seven steps, the outage and the restart in the middle of the plan" \
  report pass "[x['kind'] for x in r] == ['svids', 'svids', 'workload-api-down', 'server-restart', 'ca', 'ca', 'root']"
check "  every rotation reached both agents" \
  report pass "all(x['reached_all'] and len(x['agents']) == 2 for x in r if 'reached_all' in x)"
check "  CA and root: every bundle held the new CA before any SVID from it was served" \
  report pass "all(x['bundle_first_by_ms'] > 0 for x in r if x['kind'] in ('ca', 'root'))"
check "  the outage lasted 3 s, the restart no time, and every agent reconnected" \
  report pass "r[2]['ok'] and 2900 < r[2]['up_ms'] - r[2]['down_ms'] < 4000 and r[3]['ok'] and r[3]['up_ms'] - r[3]['down_ms'] < 500"
check "  no request failed, on both targets" \
  report pass "d['totals']['requests']['failed'] == 0 and {q[3] for q in d['requests'] if q[2] == 'ok'} == {'$S:8080', 'http://$S:8081/ok'}"
check "  no long-lived connection dropped, no handshake failed" \
  report pass "d['totals']['long']['dropped'] == 0 and d['totals']['long']['opened'] == 6 and d['totals']['handshake_failures_total'] == 0"
check "  latency before, during and after" \
  report pass "all(d['totals']['latency_ms'][p]['n'] > 0 for p in ('before', 'during', 'after'))"
check "the HTML page renders in headless chromium with its markers, no console output" \
  "$WARD_PY" "$DRILLHTML" "$OUT/pass.html" "$OUT/pass.json" "$OUT/pass.png"
check "  (the checker catches a script error and a missing marker)" \
  "$WARD_PY" "$DRILLHTML" --self-test "$OUT"

echo "== 20 forced CA rotations and 5 root rotations under load"
drill many --target "$S:8080" --rate 40 --long 6 "${AGENTS[@]}" \
  --server-admin "$WARD_WL/admin.sock" --plan ca:20,root:5 --interval 1s --warmup 1s \
  --cooldown 1s --json "$OUT/many.json"
check "it passes (exit 0)" rc_is many 0
check "  25 rotations, each reached both agents, bundles first" \
  report many "len(r) == 25 and all(x['reached_all'] and x['bundle_first_by_ms'] > 0 for x in r)"
check "  no request failed, nothing dropped, no handshake failed" \
  report many "d['totals']['requests']['failed'] == 0 and d['totals']['requests']['ok'] > 500 and d['totals']['long']['dropped'] == 0 and d['totals']['handshake_failures_total'] == 0"

echo "== a drill that must fail: an agent whose bundle is pinned to a file"
# Its SVID and bundle, fetched once from the Workload API as its uid.
PIN=$WARD_TMP/certs/pinned
mkdir -p "$PIN" "$OUT/fetch"
chmod 1777 "$OUT/fetch"
printf '\x00\x00\x00\x00\x00' >"$OUT/fetch/empty"
setpriv --reuid=1339 --regid=1339 --clear-groups curl -sS --http2-prior-knowledge \
  --unix-socket "$WARD_WL/api.sock" -H 'content-type: application/grpc' -H 'te: trailers' \
  -H 'workload.spiffe.io: true' --data-binary @"$OUT/fetch/empty" --max-time 1 \
  -o "$OUT/fetch/pinned.bin" http://localhost/SpiffeWorkloadAPI/FetchX509SVID 2>/dev/null || true
"$WARD_PY" "$WARD_ROOT/tests/e2e/wlapi.py" svid "$OUT/fetch/pinned.bin" "$PIN" >/dev/null
mv "$PIN/svid0.pem" "$PIN/svid.pem"
mv "$PIN/svid0.key" "$PIN/svid.key"
chown -R 1337 "$PIN"
agent_start pinned "$(agent_config pinned)"
P=$(pod_ip pinned)
drill pinned --target "$S:8080" --rate 20 --long 2 "${AGENTS[@]}" --agent "$P:15020" \
  --server-admin "$WARD_WL/admin.sock" --plan ca --warmup 1s --cooldown 1s \
  --max-propagation 2s --json "$OUT/pinned.json" --html "$OUT/pinned.html"
check "it fails (exit 1)" rc_is pinned 1
check "  and says why: the pinned agent never learned the new CA" \
  says pinned "rotation 1 (ca) did not reach every agent within 2.0 s: $P:15020 never trusted the new CA nor served a new SVID" out
check "  the other two agents were reached" \
  report pinned "[a['bundle_ms'] is not None for a in r[0]['agents']] == [True, True, False]"
check "  the FAIL page renders too" \
  "$WARD_PY" "$DRILLHTML" "$OUT/pinned.html" "$OUT/pinned.json" "$OUT/pinned.png"

echo "== a drill that must fail: a target that resets its connections"
drill flaky --target "$S:8082" --rate 5 --long 3 "${AGENTS[@]}" --duration 4s --warmup 1s \
  --json "$OUT/flaky.json"
check "it fails (exit 1)" rc_is flaky 1
check "  and says why: long-lived connections dropped, reset" \
  says flaky "long-lived connections dropped (" out
check "  every drop is an event" \
  report flaky "d['totals']['long']['dropped'] >= 3 and len([e for e in d['events'] if e['type'] == 'long_dropped']) == d['totals']['long']['dropped']"

echo "== agents fed by identity files: the rotations are observed"
pod_add fa 4
pod_add fb 5
FB=$(pod_ip fb)
certs_for fa fb
IPTABLES_ARGS="--exclude-outbound-ports 15020" agent_start fa "$(agent_config fa)"
agent_start fb "$(agent_config fb)"
serve fb echo 8080
CERTS=$WARD_TMP/certs
(
  sleep 2 # fb's SVID is renewed from the same CA, written as cert-manager does
  rm -rf "$CERTS/fb-next"
  SPIFFE_ID=spiffe://example.org/ns/default/sa/fb certs_for fb-next >/dev/null
  cp -p "$CERTS/fb-next/svid.key" "$CERTS/fb/.k" && mv -f "$CERTS/fb/.k" "$CERTS/fb/svid.key"
  cp -p "$CERTS/fb-next/svid.pem" "$CERTS/fb/.c" && mv -f "$CERTS/fb/.c" "$CERTS/fb/svid.pem"
  sleep 1.5 # a second CA joins both bundles
  CA_NAME=ca2 certs_for ca2-holder >/dev/null
  for p in fa fb; do
    cat "$CERTS/ca.pem" "$CERTS/ca2.pem" >"$CERTS/$p/.b" && mv -f "$CERTS/$p/.b" "$CERTS/$p/bundle.pem"
  done
) &
ROTATOR=$!
pod fa timeout 60 "$WARD_BIN" drill --target "$FB:8080" --rate 20 --long 2 --agent 127.0.0.1:15020 \
  --agent "$FB:15020" --duration 6s --warmup 1s --json "$OUT/files.json" >"$OUT/files.out" \
  2>"$OUT/files.err" && echo 0 >"$OUT/files.rc" || echo $? >"$OUT/files.rc"
wait "$ROTATOR" || true
check "it passes (exit 0)" rc_is files 0
check "  fb's new SVID is an observed rotation of fb's agent" \
  report files "any(x['kind'] == 'svid' and x['agents'][0]['addr'] == '$FB:15020' and x['agents'][0]['svid_ms'] == 0 for x in r)"
check "  the new CA is an observed rotation that reached both agents" \
  report files "[x['reached_all'] for x in r if x['kind'] == 'bundle'] == [True] and len([x for x in r if x['kind'] == 'bundle'][0]['agents']) == 2"
check "  no request failed while the files changed" \
  report files "d['totals']['requests']['failed'] == 0 and d['totals']['long']['dropped'] == 0"

summary "drill e2e"
