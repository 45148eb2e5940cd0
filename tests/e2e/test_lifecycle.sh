#!/usr/bin/env bash
# e2e: the agent's life cycle. Identity reload (file watch, SIGHUP, a broken
# file) under a live connection; drain on SIGTERM (to the end of the live
# connection, or to drain_timeout_s); configuration errors.
#   a: client agent; b: agent whose files are rotated; h: agent whose files sit
#   behind a symlinked directory (for SIGHUP); d, e: agents that are drained;
#   c: no agent (openssl s_client, config checks).
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "lifecycle e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add b 2
pod_add c 3
pod_add h 4
pod_add d 5
pod_add e 6
B=$(pod_ip b) H=$(pod_ip h) D=$(pod_ip d) E=$(pod_ip e)
TD=spiffe://example.org/ns/default/sa
CERTS=$WARD_TMP/certs
certs_for a b c d e h

fails() { ! "$@" >/dev/null 2>&1; }
# serial_of PEM: lower-case hex, as the agent logs it.
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2 | tr 'A-F' 'a-f'; }
# served_serial HOST: the serial of the certificate HOST's inbound presents.
served_serial() {
  pod c timeout 5 openssl s_client -connect "$1:8080" -showcerts -cert "$CERTS/c/svid.pem" \
    -key "$CERTS/c/svid.key" </dev/null 2>/dev/null | openssl x509 -noout -serial |
    cut -d= -f2 | tr 'A-F' 'a-f'
}
serial_is() { # HOST WANT
  local got
  got=$(served_serial "$1")
  [ "$got" = "$2" ] || { echo "  served serial '$got', want '$2'" >&2; return 1; }
}
# new_svid NAME DIR: a fresh SVID for NAME's ID from the same CA, moved into DIR
# atomically (written next to the target, then renamed over it).
new_svid() {
  local name=$1 dir=$2
  rm -rf "$CERTS/$name-next"
  SPIFFE_ID=$TD/$name certs_for "$name-next"
  cp -p "$CERTS/$name-next/svid.key" "$dir/.svid.key.new"
  cp -p "$CERTS/$name-next/svid.pem" "$dir/.svid.pem.new"
  mv -f "$dir/.svid.key.new" "$dir/svid.key"
  mv -f "$dir/.svid.pem.new" "$dir/svid.pem"
}
# exits_with PID RC SECS: the agent (a child of this shell) exits with RC in time.
exits_with() {
  local pid=$1 want=$2 i rc
  for _ in $(seq 1 $(($3 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  agent $pid still running after $3 s" >&2
    return 1
  fi
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq "$want" ] || { echo "  agent exited $rc, want $want" >&2; return 1; }
}

agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
serve b echo 8080

echo "-- 10. identity reload: file watch"
old=$(serial_of "$CERTS/b/svid.pem")
check "b serves its first serial" serial_is "$B" "$old"
check "long-lived connection a -> b" hold_open r a "$B" 8080
check "it echoes" hold_ping r before-rotation
mb=$(log_mark b)
new_svid b "$CERTS/b"
new=$(serial_of "$CERTS/b/svid.pem")
check "rotation gives a new serial" test "$new" != "$old"
check "b logs identity_rotated with the new serial" wait_log b "$mb" 3 \
  '"event":"identity_rotated"' "\"serial\":\"$new\"" "\"spiffe_id\":\"$TD/b\""
check "the live connection still works after rotation" hold_ping r after-rotation
check "a new connection works" mesh a send "$B" 8080 new-after-rotation
check "a new connection gets the new serial" serial_is "$B" "$new"

echo "-- 10. identity reload: broken file"
mb=$(log_mark b)
echo "this is not a certificate" >"$CERTS/b/svid.pem"
check "b logs identity_reload_failed" wait_log b "$mb" 3 '"event":"identity_reload_failed"'
check "and does not rotate" fails log_grep b "$mb" identity_rotated
check "the live connection still works" hold_ping r after-garbage
check "a new connection works with the old identity" mesh a send "$B" 8080 new-after-garbage
check "b still serves the last good serial" serial_is "$B" "$new"
check "long-lived connection closes cleanly" hold_quit r

echo "-- 10. identity reload: SIGHUP"
# h's files sit in certs/h/live -> gen1; re-pointing the symlink changes
# what the paths resolve to without touching the watched directory.
mkdir "$CERTS/h/gen1" "$CERTS/h/gen2"
mv "$CERTS/h/svid.pem" "$CERTS/h/svid.key" "$CERTS/h/bundle.pem" "$CERTS/h/gen1/"
ln -s gen1 "$CERTS/h/live"
cat >"$WARD_TMP/h.json" <<JSON
{
  "trust_domain": "example.org",
  "identity": { "files": { "cert": "certs/h/live/svid.pem", "key": "certs/h/live/svid.key",
                           "bundle": "certs/h/live/bundle.pem" } },
  "proxy": { "uid": $PROXY_UID, "workers": 1 },
  "log": { "level": "debug" }
}
JSON
agent_start h "$WARD_TMP/h.json"
h_pid=${WARD_PIDS[-1]}
serve h echo 8080
old=$(serial_of "$CERTS/h/gen1/svid.pem")
check "h serves its first serial" serial_is "$H" "$old"
SPIFFE_ID=$TD/h certs_for h-next
cp -p "$CERTS/h-next/svid.pem" "$CERTS/h-next/svid.key" "$CERTS/h-next/bundle.pem" "$CERTS/h/gen2/"
new=$(serial_of "$CERTS/h/gen2/svid.pem")
mh=$(log_mark h)
ln -s gen2 "$CERTS/h/live.new"
mv -T "$CERTS/h/live.new" "$CERTS/h/live"
sleep 1
check "precondition: no reload before SIGHUP" fails log_grep h "$mh" identity_rotated
kill -HUP "$h_pid"
check "SIGHUP: h logs identity_rotated with the new serial" wait_log h "$mh" 3 \
  '"event":"identity_rotated"' "\"serial\":\"$new\""
check "SIGHUP: h serves the new serial" serial_is "$H" "$new"
check "SIGHUP: the agent keeps running" kill -0 "$h_pid"
check "SIGHUP: mesh traffic to h works" mesh a send "$H" 8080 after-hup

echo "-- 11. drain"
agent_start d "$(agent_config d)"
d_pid=${WARD_PIDS[-1]}
serve d echo 8080
check "long-lived connection a -> d" hold_open dr a "$D" 8080
check "it echoes" hold_ping dr before-term
md=$(log_mark d)
kill -TERM "$d_pid"
check "d logs draining" wait_log d "$md" 3 '"event":"draining"'
check "draining: a new connection to d is refused" fails mesh a send "$D" 8080 new-while-draining
check "draining: the live connection still works" hold_ping dr while-draining
check "draining: d is still running" kill -0 "$d_pid"
check "the live connection ends cleanly" hold_quit dr
check "then d exits 0" exits_with "$d_pid" 0 5

agent_start e "$(agent_config e ', "limits": { "drain_timeout_s": 2 }')"
e_pid=${WARD_PIDS[-1]}
serve e echo 8080
# Some earlier traffic, as any agent in service has had: the deadline must not
# depend on it.
check "20 earlier connections to e" mesh a many "$E" 8080 20
check "never-ending connection a -> e" hold_open de a "$E" 8080
check "it echoes" hold_ping de before-term
me=$(log_mark e)
t0=$(date +%s%N)
kill -TERM "$e_pid"
check "e exits 0 at the drain deadline" exits_with "$e_pid" 0 6
ms=$((($(date +%s%N) - t0) / 1000000))
check "after drain_timeout_s (2 s; took $ms ms), not before" test "$ms" -ge 1900 -a "$ms" -le 4000
check "e logs drain_deadline" log_grep e "$me" '"event":"drain_deadline"'

echo "-- 12. configuration errors"
# bad_config NAME JSON WORD: exit 2, stderr names WORD.
bad_config() {
  local name=$1 json=$2 word=$3 rc=0
  printf '%s\n' "$json" >"$WARD_TMP/bad-$name.json"
  pod c timeout 5 "$WARD_BIN" agent --config "$WARD_TMP/bad-$name.json" \
    2>"$WARD_TMP/bad-$name.err" >/dev/null || rc=$?
  [ "$rc" -eq 2 ] || { echo "  exit $rc, want 2; stderr:" >&2; cat "$WARD_TMP/bad-$name.err" >&2; return 1; }
  grep -qF -- "$word" "$WARD_TMP/bad-$name.err" ||
    { echo "  stderr does not name '$word':" >&2; cat "$WARD_TMP/bad-$name.err" >&2; return 1; }
}
ids='"identity": { "files": { "cert": "certs/a/svid.pem", "key": "certs/a/svid.key", "bundle": "certs/a/bundle.pem" } }'
check "unknown top-level key: exit 2, named" \
  bad_config unknown "{ \"trust_domain\": \"example.org\", $ids, \"bogus_key\": 1 }" bogus_key
check "unknown nested key: exit 2, named with its path" \
  bad_config nested "{ \"trust_domain\": \"example.org\", $ids, \"limits\": { \"max_conns\": 5 } }" \
  limits.max_conns
check "wrong type: exit 2, named" \
  bad_config type "{ \"trust_domain\": \"example.org\", $ids, \"limits\": { \"max_connections\": \"many\" } }" \
  limits.max_connections
check "bad CIDR: exit 2, named" \
  bad_config cidr "{ \"trust_domain\": \"example.org\", $ids, \"outbound\": { \"mesh_cidrs\": [\"10.0.0.0/33\"] } }" \
  outbound.mesh_cidrs
check "not JSON: exit 2" bad_config syntax "{ \"trust_domain\": " "bad-syntax.json"
missing_config() {
  local rc=0
  pod c timeout 5 "$WARD_BIN" agent --config "$WARD_TMP/does-not-exist.json" \
    2>"$WARD_TMP/missing.err" >/dev/null || rc=$?
  [ "$rc" -eq 2 ] && grep -q "does-not-exist.json" "$WARD_TMP/missing.err" ||
    { echo "  exit $rc; stderr:" >&2; cat "$WARD_TMP/missing.err" >&2; return 1; }
}
check "missing config file: exit 2, path named" missing_config
mismatch() {
  local rc=0
  cat >"$WARD_TMP/mismatch.json" <<JSON
{ "trust_domain": "example.org",
  "identity": { "files": { "cert": "certs/a/svid.pem", "key": "certs/b/svid.key",
                           "bundle": "certs/a/bundle.pem" } } }
JSON
  pod c timeout 5 "$WARD_BIN" agent --config "$WARD_TMP/mismatch.json" \
    2>"$WARD_TMP/mismatch.err" >/dev/null || rc=$?
  sed 's/^/    /' "$WARD_TMP/mismatch.err" >&2
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qi "key" "$WARD_TMP/mismatch.err" &&
    grep -qi "match\|certificate\|cert" "$WARD_TMP/mismatch.err"
}
check "key not matching the cert: non-zero exit, clear message" mismatch

summary "lifecycle e2e"
