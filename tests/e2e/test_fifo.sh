#!/usr/bin/env bash
# e2e (issue 10, item 5): a FIFO, a directory or a device where ward expects a
# file. The attack: whoever can write the identity directory (a sidecar that
# fetches certificates, a mis-mounted volume) puts a FIFO at the key path.
# Opening a FIFO for reading blocks until a writer comes; an agent that did so
# on its main loop went silent (admin, reloads) and ignored SIGTERM. Every file
# ward reads must be refused at once instead, and the agent keep serving.
#   a: agent whose key file becomes a FIFO; c: no agent (one-shot commands).
# Needs root. WARD_BIN overrides the binary (default build/ward).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT
[ -x "$WARD_BIN" ] || { echo "fifo e2e: $WARD_BIN not built" >&2; exit 1; }

pod_add a 1
pod_add c 2
certs_for a
CERTS=$WARD_TMP/certs
agent_start a "$(agent_config a)"
a_pid=${WARD_PIDS[-1]}

healthz() { pod a curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:15020/healthz; }
# answered N: how many of N /healthz calls (one every 0.2 s) got a 200.
answered() {
  local ok=0
  for _ in $(seq 1 "$1"); do
    [ "$(healthz || true)" = 200 ] && ok=$((ok + 1))
    sleep 0.2
  done
  echo "$ok"
}

echo "-- a FIFO at the key path of a running agent"
ma=$(log_mark a)
mv "$CERTS/a/svid.key" "$CERTS/a/svid.key.real"
mkfifo -m 600 "$CERTS/a/svid.key"
chown "$PROXY_UID" "$CERTS/a/svid.key"
check "the reload is refused and says why" wait_log a "$ma" 5 \
  '"event":"identity_reload_failed"' 'svid.key: a FIFO, not a regular file'
n=$(answered 5)
echo "  /healthz answered $n of 5 while the FIFO sits at the key path"
check "the admin endpoint keeps answering (5 of 5)" test "$n" -eq 5
kill -HUP "$a_pid"
check "SIGHUP re-reads and is refused again, without blocking" \
  wait_log a "$ma" 5 '"event":"identity_reload_failed"' 'a FIFO'
check "/healthz still answers after SIGHUP" test "$(healthz || true)" = 200
t0=$(date +%s%N)
kill -TERM "$a_pid"
exited=no
for _ in $(seq 1 50); do
  kill -0 "$a_pid" 2>/dev/null || { exited=yes; break; }
  sleep 0.1
done
ms=$((($(date +%s%N) - t0) / 1000000))
echo "  SIGTERM: exited=$exited after ${ms} ms"
check "SIGTERM ends the agent (within 5 s)" test "$exited" = yes

# one_shot NAME CMD...: the command finishes (any status) within 5 s, its stderr
# naming the refusal; a hang is a failure.
one_shot() {
  local name=$1 rc=0
  shift
  pod c timeout 5 "$@" >/dev/null 2>"$WARD_TMP/$name.err" || rc=$?
  [ "$rc" -ne 124 ] && [ "$rc" -ne 0 ] ||
    { echo "  exit $rc (124: it blocked)" >&2; cat "$WARD_TMP/$name.err" >&2; return 1; }
  grep -qE 'a FIFO|a directory|a device' "$WARD_TMP/$name.err" ||
    { echo "  stderr does not say what was refused:" >&2; cat "$WARD_TMP/$name.err" >&2; return 1; }
}

echo "-- one-shot commands on a FIFO, a directory, a device"
mkfifo "$WARD_TMP/fifo.json"
ln -s "$WARD_TMP/fifo.json" "$WARD_TMP/link.json"
mkdir "$WARD_TMP/dir.json"
check "ward agent --config FIFO: refused, not blocked" \
  one_shot cfg-fifo "$WARD_BIN" agent --config "$WARD_TMP/fifo.json"
check "ward agent --config FIFO --override: refused" \
  one_shot cfg-override "$WARD_BIN" agent --config "$WARD_TMP/fifo.json" --override '{}'
check "ward agent --config symlink to a FIFO: refused" \
  one_shot cfg-link "$WARD_BIN" agent --config "$WARD_TMP/link.json"
check "ward agent --config directory: refused" \
  one_shot cfg-dir "$WARD_BIN" agent --config "$WARD_TMP/dir.json"
check "ward agent --config /dev/zero: refused" one_shot cfg-dev "$WARD_BIN" agent --config /dev/zero
check "ward agent --check with a FIFO key: refused" \
  one_shot check-key "$WARD_BIN" agent --check --config "$WARD_TMP/a.json"
check "ward doctor --config FIFO: refused" \
  one_shot doctor "$WARD_BIN" doctor --config "$WARD_TMP/fifo.json"
wlserver_config 3600 "$PROXY_UID:a"
cp "$WARD_WL/server.json" "$WARD_WL/server-fifo.json"
sed -i "s|\"entries\": \"[^\"]*\"|\"entries\": \"$WARD_TMP/fifo.json\"|" "$WARD_WL/server-fifo.json"
check "ward server with a FIFO as its entries file: refused" \
  one_shot server-entries "$WARD_BIN" server --check --config "$WARD_WL/server-fifo.json"
check "ward server --config FIFO: refused" \
  one_shot server-cfg "$WARD_BIN" server --check --config "$WARD_TMP/fifo.json"
check "ward inject --config FIFO: refused" \
  one_shot inject "$WARD_BIN" inject --config "$WARD_TMP/fifo.json" -f /dev/null
check "ward webhook with a FIFO as its key: refused" \
  one_shot webhook "$WARD_BIN" webhook --tls-cert "$CERTS/a/svid.pem" \
  --tls-key "$CERTS/a/svid.key" --listen 127.0.0.1:18443
summary "fifo e2e"
