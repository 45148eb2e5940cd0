# Network-namespace "pods" for ward's e2e tests, demo and bench. Source it.
# Each pod is a netns with lo and eth0 on a shared bridge that lives in its own
# netns, so nothing touches the host's network. Every name carries $WARD_RUN so
# parallel or leftover runs never collide, and ward_cleanup removes all of it.
#   pod_add NAME INDEX     -> netns $WARD_RUN-NAME with IP 10.$NET.0.INDEX/24
#   pod NAME CMD...        -> run CMD in the pod
#   pod_ip NAME
#   agent_start NAME CONFIG  (capture rules + agent as the proxy uid; logs in $WARD_TMP/NAME.log)
#   WARD_TUNNEL=never|always|auto  sets every agent's outbound.tunnel (through
#                           --override); unset, the config's (default auto)
set -euo pipefail

WARD_ROOT=${WARD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WARD_BIN=${WARD_BIN:-$WARD_ROOT/build/ward}
WARD_RUN=${WARD_RUN:-w$$}
WARD_NET=${WARD_NET:-$((100 + $$ % 100))}
WARD_TMP=${WARD_TMP:-$(mktemp -d /tmp/ward-e2e.XXXXXX)}
PROXY_UID=${PROXY_UID:-1337}
chmod 755 "$WARD_TMP"
declare -A WARD_POD_INDEX=()
WARD_PIDS=()

ward_cleanup() {
  local pid ns
  for pid in "${WARD_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pid in "${WARD_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$WARD_RUN-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  [ -n "${WARD_KEEP_TMP:-}" ] || rm -rf "$WARD_TMP"
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: needs root (network namespaces and iptables)" >&2
    exit 1
  fi
}

bridge_up() {
  ip netns add "$WARD_RUN-net"
  ip -n "$WARD_RUN-net" link set lo up
  ip -n "$WARD_RUN-net" link add br0 type bridge
  ip -n "$WARD_RUN-net" link set br0 up
}

pod_add() {
  local name=$1 index=$2 ns="$WARD_RUN-$1"
  [ -e "/run/netns/$WARD_RUN-net" ] || bridge_up
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "v$WARD_RUN$index" type veth peer name eth0 netns "$ns"
  ip link set "v$WARD_RUN$index" netns "$WARD_RUN-net"
  ip -n "$WARD_RUN-net" link set "v$WARD_RUN$index" master br0 up
  ip -n "$ns" addr add "10.$WARD_NET.0.$index/24" dev eth0
  ip -n "$ns" link set eth0 up
  WARD_POD_INDEX[$name]=$index
}

pod() {
  local name=$1
  shift
  ip netns exec "$WARD_RUN-$name" "$@"
}

pod_ip() { echo "10.$WARD_NET.0.${WARD_POD_INDEX[$1]}"; }

# Background a command in a pod, remembering its pid for cleanup.
pod_bg() {
  local name=$1
  shift
  ip netns exec "$WARD_RUN-$name" "$@" &
  WARD_PIDS+=($!)
}

# The veth of a pod, as seen from the bridge namespace (where tcpdump sees the wire).
pod_wire() { echo "v$WARD_RUN${WARD_POD_INDEX[$1]}"; }

# Writes a config for pod NAME with identity in $WARD_TMP/certs/NAME; extra
# JSON members (already comma-prefixed) are appended to the top-level object.
agent_config() {
  local name=$1 extra=${2:-}
  cat >"$WARD_TMP/$name.json" <<JSON
{
  "trust_domain": "example.org",
  "identity": { "files": { "cert": "certs/$name/svid.pem", "key": "certs/$name/svid.key",
                           "bundle": "certs/$name/bundle.pem" } },
  "proxy": { "uid": $PROXY_UID, "workers": ${WORKERS:-1} },
  "log": { "level": "${LOG_LEVEL:-debug}" }$extra
}
JSON
  echo "$WARD_TMP/$name.json"
}

# --- ward server as the pods' Workload API (socket in $WARD_TMP/wl) ---
WARD_WL=$WARD_TMP/wl
# wlserver_config SVID_TTL_S UID:NAME...: one entry per pod, attested by the
# uid its agent runs as: unix:uid:UID -> spiffe://example.org/ns/default/sa/NAME.
wlserver_config() {
  local ttl=$1 sep="" pair
  shift
  mkdir -p "$WARD_WL/data"
  chmod 755 "$WARD_WL"
  {
    echo '{ "entries": ['
    for pair in "$@"; do
      printf '%s  { "spiffe_id": "spiffe://example.org/ns/default/sa/%s", "selectors": ["unix:uid:%s"] }\n' \
        "$sep" "${pair#*:}" "${pair%%:*}"
      sep=","
    done
    echo '] }'
  } >"$WARD_WL/entries.json"
  cat >"$WARD_WL/server.json" <<JSON
{ "trust_domain": "example.org", "socket": "$WARD_WL/api.sock",
  "admin_socket": "$WARD_WL/admin.sock", "data_dir": "$WARD_WL/data",
  "entries": "$WARD_WL/entries.json", "svid_ttl_s": $ttl, "log": { "level": "debug" } }
JSON
}
wlserver_start() {
  rm -f "$WARD_WL/api.sock"
  "$WARD_BIN" server --config "$WARD_WL/server.json" 2>>"$WARD_TMP/wlserver.log" &
  WARD_SERVER_PID=$!
  WARD_PIDS+=("$WARD_SERVER_PID")
  for _ in $(seq 1 50); do
    [ -S "$WARD_WL/api.sock" ] && return 0
    sleep 0.1
  done
  echo "ward server did not start:" >&2
  cat "$WARD_TMP/wlserver.log" >&2
  return 1
}
wlserver_stop() {
  kill "$WARD_SERVER_PID" 2>/dev/null || true
  wait "$WARD_SERVER_PID" 2>/dev/null || true
}
# agent_config_wl NAME UID: a config for pod NAME's agent, running as UID, with
# its identity from ward server's Workload API.
agent_config_wl() {
  cat >"$WARD_TMP/$1.json" <<JSON
{
  "trust_domain": "example.org",
  "identity": { "workload_api": "unix://$WARD_WL/api.sock" },
  "proxy": { "uid": $2, "workers": ${WORKERS:-1} },
  "log": { "level": "${LOG_LEVEL:-debug}" }
}
JSON
  echo "$WARD_TMP/$1.json"
}

# wl_pods_start CLIENT CLIENT_UID SERVER SERVER_UID: both pods' agents on ward
# server's Workload API (after wlserver_config), each with its SVID. CLIENT's
# capture leaves port 15020 alone, so that a drill (or a scraper) in it reads
# SERVER's admin endpoint directly rather than through mTLS.
wl_pods_start() {
  IPTABLES_ARGS="--exclude-outbound-ports 15020" PROXY_UID=$2 \
    agent_start "$1" "$(agent_config_wl "$1" "$2")"
  PROXY_UID=$4 agent_start "$3" "$(agent_config_wl "$3" "$4")"
  wait_log "$1" 0 10 '"event":"identity_loaded"' >/dev/null
  wait_log "$3" 0 10 '"event":"identity_loaded"' >/dev/null
}

certs_for() {
  OWNER=$PROXY_UID bash "$WARD_ROOT/tests/e2e/mkcerts.sh" "$WARD_TMP/certs" example.org "$@"
}

# Capture rules + agent in pod NAME; waits until the agent says it is ready.
agent_start() {
  local name=$1 config=$2 i
  local over=()
  [ -z "${WARD_TUNNEL:-}" ] || over=(--override "{\"outbound\":{\"tunnel\":\"$WARD_TUNNEL\"}}")
  pod "$name" "$WARD_BIN" iptables --proxy-uid "$PROXY_UID" ${IPTABLES_ARGS:-} >/dev/null
  pod_bg "$name" "$WARD_BIN" agent --config "$config" "${over[@]}" 2>>"$WARD_TMP/$name.log"
  for i in $(seq 1 100); do
    grep -q '"event":"ready"' "$WARD_TMP/$name.log" 2>/dev/null && return 0
    if ! kill -0 "${WARD_PIDS[-1]}" 2>/dev/null; then
      echo "agent in $name exited:" >&2
      cat "$WARD_TMP/$name.log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "agent in $name not ready after 5s" >&2
  cat "$WARD_TMP/$name.log" >&2
  return 1
}

agent_pid() { echo "${WARD_PIDS[$1]}"; }

# Test bookkeeping: `check NAME CMD...` runs CMD and records pass/fail.
WARD_PASS=0
WARD_FAIL=0
check() {
  local what=$1
  shift
  if "$@"; then
    WARD_PASS=$((WARD_PASS + 1))
    echo "  ok   $what"
  else
    WARD_FAIL=$((WARD_FAIL + 1))
    echo "  FAIL $what"
  fi
}
summary() {
  echo "$1: $WARD_PASS passed, $WARD_FAIL failed"
  [ "$WARD_FAIL" -eq 0 ]
}

# --- helpers for the mesh scenario suites (test_mesh*.sh, test_lifecycle.sh) ---
WARD_PY=${WARD_PY:-/usr/bin/python3}
WARD_MESH_PY=$WARD_ROOT/tests/e2e/mesh.py
declare -A WARD_HOLD_FD=()

# wait_port NAME PORT: until something listens on PORT in pod NAME (5 s).
wait_port() {
  local i
  for i in $(seq 1 50); do
    pod "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  echo "nothing listening on $2 in pod $1" >&2
  return 1
}

# serve NAME KIND PORT: a tests/e2e/mesh.py server (echo, banner, eof) in pod NAME.
serve() {
  pod_bg "$1" "$WARD_PY" "$WARD_MESH_PY" "$2" "$3"
  wait_port "$1" "$3"
}

# mesh NAME CMD ARGS...: a tests/e2e/mesh.py client in pod NAME, with a timeout.
mesh() {
  local name=$1
  shift
  pod "$name" timeout "${MESH_CLIENT_TIMEOUT:-30}" "$WARD_PY" "$WARD_MESH_PY" "$@"
}

# socat_bulk POD HOST PORT: $WARD_TMP/bulk.bin (12 MiB, made on first use)
# through an echo server with socat; what comes back must hash the same.
socat_bulk() {
  local want got
  [ -f "$WARD_TMP/bulk.bin" ] || head -c $((12 * 1024 * 1024)) /dev/urandom >"$WARD_TMP/bulk.bin"
  want=$(sha256sum <"$WARD_TMP/bulk.bin")
  got=$(pod "$1" timeout 60 socat -t 30 - "TCP:$2:$3" <"$WARD_TMP/bulk.bin" | sha256sum)
  [ "$got" = "$want" ] || { echo "  socat: sent $want got $got" >&2; return 1; }
}

# log_mark NAME: the current length of NAME's log, for log_since.
log_mark() { wc -l <"$WARD_TMP/$1.log" 2>/dev/null || echo 0; }
# log_since NAME MARK: the log lines written after log_mark returned MARK.
log_since() { tail -n "+$(($2 + 1))" "$WARD_TMP/$1.log"; }
# log_grep NAME MARK PATTERN...: a line after MARK holds every (fixed) PATTERN.
log_grep() {
  local name=$1 mark=$2 lines p
  shift 2
  lines=$(log_since "$name" "$mark")
  for p in "$@"; do
    lines=$(grep -F -- "$p" <<<"$lines" || true)
  done
  [ -n "$lines" ] || { echo "  no line in $name.log after $mark with: $*" >&2; return 1; }
}
# not_logged NAME TEXT: NAME's log holds no line with TEXT.
not_logged() { ! grep -q -F -- "$2" "$WARD_TMP/$1.log"; }
# wait_log NAME MARK SECONDS PATTERN...: log_grep, retried for up to SECONDS.
wait_log() {
  local name=$1 mark=$2 secs=$3 i
  shift 3
  for i in $(seq 1 $((secs * 10))); do
    log_grep "$name" "$mark" "$@" 2>/dev/null && return 0
    sleep 0.1
  done
  log_grep "$name" "$mark" "$@"
}

# A long-lived connection from pod NAME: hold_open ID NAME HOST PORT starts it
# (mesh.py hold fed through a fifo); hold_ping ID TEXT round-trips one line on
# it; hold_quit ID half-closes it and waits for the server's close.
hold_open() {
  local id=$1 name=$2 host=$3 port=$4 fd
  mkfifo "$WARD_TMP/hold-$id.in"
  exec {fd}<>"$WARD_TMP/hold-$id.in"
  WARD_HOLD_FD[$id]=$fd
  # Not pod_bg: a background command's stdin would be /dev/null.
  ip netns exec "$WARD_RUN-$name" "$WARD_PY" "$WARD_MESH_PY" hold "$host" "$port" \
    <"$WARD_TMP/hold-$id.in" >"$WARD_TMP/hold-$id.out" &
  WARD_PIDS+=($!)
  hold_wait "$id" "connected" 10
}
hold_wait() { # ID PREFIX SECONDS [FAIL_PREFIX]
  local i
  for i in $(seq 1 $(($3 * 10))); do
    grep -q "^$2" "$WARD_TMP/hold-$1.out" 2>/dev/null && return 0
    grep -q "^${4:-fail connect}" "$WARD_TMP/hold-$1.out" 2>/dev/null && break
    sleep 0.1
  done
  echo "  hold $1: no '$2'; output:" >&2
  sed 's/^/    /' "$WARD_TMP/hold-$1.out" >&2
  return 1
}
hold_ping() {
  echo "$2" >&"${WARD_HOLD_FD[$1]}"
  hold_wait "$1" "ok $2$" 10 "fail $2 "
}
hold_quit() {
  echo quit >&"${WARD_HOLD_FD[$1]}"
  hold_wait "$1" "closed" "${2:-10}" "fail quit"
}

# capture_start POD FILE FILTER...: tcpdump on POD's veth in the bridge namespace
# (the wire between pods) into FILE; capture_stop ends it and flushes FILE.
capture_start() {
  local name=$1 file=$2 i
  shift 2
  ip netns exec "$WARD_RUN-net" tcpdump -i "$(pod_wire "$name")" --immediate-mode -U -s 0 \
    -Z root -w "$file" "$@" 2>"$file.err" &
  WARD_CAPTURE_PID=$!
  WARD_PIDS+=("$WARD_CAPTURE_PID")
  for i in $(seq 1 50); do
    grep -q "listening on" "$file.err" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "tcpdump did not start:" >&2
  cat "$file.err" >&2
  return 1
}
capture_stop() {
  sleep 0.3
  kill -INT "$WARD_CAPTURE_PID" 2>/dev/null || true
  wait "$WARD_CAPTURE_PID" 2>/dev/null || true
}

# --- attackers (tests/e2e/attack.py), for the defences' suites ---
# attacker_pod NAME INDEX: a pod with 8 addresses (10.NET.0.INDEX, .201-.207);
# SOURCES lists them, comma-separated.
attacker_pod() {
  pod_add "$1" "$2"
  SOURCES=$(pod_ip "$1")
  for i in $(seq 1 7); do
    pod "$1" ip addr add "10.$WARD_NET.0.$((200 + i))/24" dev eth0
    SOURCES="$SOURCES,10.$WARD_NET.0.$((200 + i))"
  done
}
# attack POD ARGS...: tests/e2e/attack.py ARGS in pod POD (POD "-": on the
# host, as $ATTACK_UID when set), in the background until the test ends;
# ATTACK_PID is its pid. attack_wait N: it has opened at least N connections.
attack() {
  local where=$1
  shift
  mkdir -p -m 1777 "$WARD_TMP/attacker"
  rm -f "$WARD_TMP/attacker/status"
  if [ "$where" = - ]; then
    ATTACK_STATUS=$WARD_TMP/attacker/status setpriv --reuid "${ATTACK_UID:-0}" \
      --regid "${ATTACK_UID:-0}" --clear-groups "$WARD_PY" "$WARD_ROOT/tests/e2e/attack.py" "$@" &
    WARD_PIDS+=($!)
  else
    ATTACK_STATUS=$WARD_TMP/attacker/status pod_bg "$where" "$WARD_PY" \
      "$WARD_ROOT/tests/e2e/attack.py" "$@"
  fi
  ATTACK_PID=${WARD_PIDS[-1]}
}
attack_opened() {
  sed -n 's/.*opened=\([0-9]*\).*/\1/p' "$WARD_TMP/attacker/status" 2>/dev/null || echo 0
}
attack_wait() {
  for _ in $(seq 1 300); do
    [ "$(attack_opened)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "  the attacker opened only $(attack_opened) connections" >&2
  return 1
}
