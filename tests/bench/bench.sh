#!/usr/bin/env bash
# ward vs a pair of HAProxy vs plaintext, in the e2e two-pod topology (tests/e2e/lib.sh).
# One run, one table: keep-alive req/s, latency at a fixed rate, new
# connections/s, bulk MB/s, proxy CPU, proxy RSS idle and with idle
# connections, for four setups: plaintext without a proxy, a HAProxy pair
# (mutual TLS 1.3), ward direct mTLS (one mTLS connection per app connection)
# and the ward tunnel (pooled mTLS to port 15008, one HTTP/2 CONNECT stream per
# app connection, the default). Then the tunnel's targets as ratios from the
# same run, and what the hybrid post-quantum key exchange costs ward (new
# connections/s, handshake bytes) against classic groups only.
#
# The machine is shared: other work comes and goes while this runs. So every
# setup is up at once, on ports of its own, and each measurement runs the
# setups one after another in rotating order, BENCH_ROUNDS times; the table
# shows the median of the rounds. A load that comes or goes mid-run then
# touches every setup alike instead of whichever ran at that moment.
#   tests/bench/bench.sh            (make bench; needs root, wrk, haproxy, curl, python3, socat)
# Env: WARD_BIN (default build/ward), BENCH_DURATION seconds per wrk run (4),
#   BENCH_ROUNDS rounds per wrk measurement (5), BENCH_BULK_ROUNDS (3: an odd count has a median),
#   BENCH_CONNS keep-alive connections (32), BENCH_RATE_CONNS x 1000/BENCH_RATE_DELAY_MS
#   = the fixed request rate (10 x 1000/10 = 1000 req/s), BENCH_NEWCONN_CONNS (16),
#   BENCH_BULK_MB (1024), BENCH_IDLE_CONNS (1000), BENCH_IDLE_MODE (connect: the
#   idle connections carry no request; their handshakes and the proxies'
#   connections to the app are complete, checked with ss in pod b).
# Exits non-zero only when a measurement breaks (errors, no traffic); missed
# targets are reported, not failed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WARD_ROOT=${WARD_ROOT:-$(cd "$BENCH_DIR/../.." && pwd)}
export WARD_BIN=${WARD_BIN:-$WARD_ROOT/build/ward}
# info, not debug: the agent logs nothing per connection at info (conn_close is
# debug), and agent_start waits for the info-level "ready" line.
export LOG_LEVEL=${LOG_LEVEL:-info}
export WORKERS=${WORKERS:-1} # ward proxy.workers; each HAProxy gets nbthread 1 too
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$WARD_ROOT/tests/e2e/lib.sh"
# shellcheck source=app.sh
source "$BENCH_DIR/app.sh"
need_root
trap ward_cleanup EXIT

DUR=${BENCH_DURATION:-4}
ROUNDS=${BENCH_ROUNDS:-5}
BULK_ROUNDS=${BENCH_BULK_ROUNDS:-3}
CONNS=${BENCH_CONNS:-32}
RATE_CONNS=${BENCH_RATE_CONNS:-10}
RATE_DELAY_MS=${BENCH_RATE_DELAY_MS:-10}
NEWCONN_CONNS=${BENCH_NEWCONN_CONNS:-16}
BULK_MB=${BENCH_BULK_MB:-1024}
IDLE_CONNS=${BENCH_IDLE_CONNS:-1000}
IDLE_MODE=${BENCH_IDLE_MODE:-connect} # or request: one HTTP request on each first
# Ports in pod b. The app (HAProxy returning 1 KiB via `http-request return`)
# and bulk_server.py listen once per setup, so every setup is up at once:
#   direct 8070/8071 (left out of capture), the HAProxy pair 28080/28081 (out of
#   capture too; its server side forwards to 8070/8071), ward direct mTLS
#   8090/8091 (outbound.tunnel_exclude_ports) and the ward tunnel 8080/8081.
UNCAPTURED=8070,8071,28080,28081
SETTLE_S=${BENCH_SETTLE_S:-3} # after the idle connections close, before memory is read again
TLS13_SUITES=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
SETUPS=(direct haproxy ward tunnel)
declare -A APP_PORT=([direct]=8070 [haproxy]=8070 [ward]=8090 [tunnel]=8080)

for tool in wrk haproxy curl socat /usr/bin/python3 "$WARD_BIN"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (make bench installs it)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" # agents and HAProxy inherit it; 1000 idle connections need > 2000 fds
[ "$(ulimit -n)" -ge $((IDLE_CONNS * 2 + 256)) ] ||
  { echo "bench: open-file limit $(ulimit -n) too low for $IDLE_CONNS connections" >&2; exit 1; }

die() {
  echo "bench: $*" >&2
  exit 1
}
declare -A R=()  # R[setup.metric] = the value shown
declare -A V=()  # V[setup.metric] = every round's value, space-separated
declare -A PIDS=() # the setup's proxy processes

# ---------------------------------------------------------------- helpers
wait_port() { # POD HOST PORT
  for _ in $(seq 1 100); do
    pod "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.05
  done
  die "nothing listening on $2:$3 (from pod $1)"
}

rss_kb() { # PID... -> summed VmRSS in kB
  local pid sum=0 v
  for pid in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status") || die "process $pid is gone"
    sum=$((sum + v))
  done
  echo "$sum"
}

# smaps_kb FIELD PID... -> summed smaps_rollup FIELD in kB (Pss, Private_Clean, ...)
smaps_kb() {
  local field=$1 pid sum=0 v
  shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/smaps_rollup") || die "process $pid is gone"
    sum=$((sum + v))
  done
  echo "$sum"
}
# private SETUP NAME: PSS and USS (private clean + dirty) of the setup's proxies
# beside R[SETUP.rss_NAME]: most of an idle proxy's RSS is shared library pages.
private() {
  R[$1.pss_$2]=$(smaps_kb Pss "${PROXY_PIDS[@]}")
  R[$1.uss_$2]=$(($(smaps_kb Private_Clean "${PROXY_PIDS[@]}") + $(smaps_kb Private_Dirty "${PROXY_PIDS[@]}")))
}

# mem_now NAME: private memory of the HAProxy pair and of ward's agents (both
# ward setups share them).
mem_now() {
  use haproxy
  private haproxy "$1"
  use ward
  private ward "$1"
  R[tunnel.pss_$1]=${R[ward.pss_$1]} R[tunnel.uss_$1]=${R[ward.uss_$1]}
}

cpu_ticks() { # PID... -> summed utime+stime (clock ticks) of all their threads
  local pid sum=0 v
  for pid in "$@"; do
    v=$(awk '{print $14 + $15}' "/proc/$pid/stat") || die "process $pid is gone"
    sum=$((sum + v))
  done
  echo "$sum"
}

alive() { # PID... : every proxy still running (a crash mid-run breaks the numbers)
  local pid
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null || die "proxy process $pid died (logs: $WARD_TMP)"
  done
}

# A measurement that breaks (errors, short transfer) is recorded as FAIL, the run
# goes on so the table still shows everything else, and the script exits 1.
BROKEN=()
broken() { # SETUP.METRIC MESSAGE
  R[$1]=FAIL
  BROKEN+=("$1: $2")
  echo "  BROKEN    $1: $2" >&2
}

# wrk_run SETUP NAME URL WRK-OPTION... [-- SCRIPT-ARG...] -> sets W_REQ W_RPS W_P50
# W_P99 W_ERR W_CPU (proxy CPU microseconds per request, PROXY_PIDS); returns 1
# (with W_WHY) on errors or no traffic.
wrk_run() {
  local setup=$1 name=$2 url=$3 out line t0 t1 opts=() sargs=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -eq 0 ] || { shift; sargs=("$@"); }
  out="$WARD_TMP/wrk-$setup-$name-$ROUND.txt"
  t0=$(cpu_ticks ${PROXY_PIDS[@]+"${PROXY_PIDS[@]}"})
  if ! pod a wrk -t1 -d"${DUR}s" --timeout 5s -s "$BENCH_DIR/wrk-report.lua" "${opts[@]}" "$url" \
    ${sargs[@]+-- "${sargs[@]}"} >"$out" 2>&1; then
    W_WHY="wrk failed: $(tail -1 "$out")"
    return 1
  fi
  t1=$(cpu_ticks ${PROXY_PIDS[@]+"${PROXY_PIDS[@]}"})
  alive ${PROXY_PIDS[@]+"${PROXY_PIDS[@]}"}
  line=$(grep '^WRK ' "$out") || { W_WHY="no wrk summary in $out"; return 1; }
  # shellcheck disable=SC2034 # set from the WRK line: bytes, max_us unused
  local requests duration_us bytes connect read write status timeout p50_us p99_us max_us kv
  for kv in ${line#WRK }; do local "$kv"; done
  W_REQ=$requests
  W_ERR=$((connect + read + write + status + timeout))
  W_RPS=$(awk -v r="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
  W_P50=$(awk -v v="$p50_us" 'BEGIN {printf "%.3f", v / 1000}')
  W_P99=$(awk -v v="$p99_us" 'BEGIN {printf "%.3f", v / 1000}')
  W_CPU=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r="$requests" \
    'BEGIN {if (r > 0) printf "%.1f", t / hz * 1e6 / r; else print "-"}')
  printf '  %-9s %-9s %d %8s req/s  p50 %7s ms  p99 %7s ms  errors %s  proxy CPU %s us/req\n' \
    "$setup" "$name" "$ROUND" "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "$W_CPU"
  if [ "$requests" -eq 0 ] || [ "$W_ERR" -gt $((requests / 100)) ]; then
    W_WHY="$requests requests, $W_ERR errors (connect $connect read $read write $write status $status timeout $timeout)"
    return 1
  fi
}

# The median of a list of numbers ("FAIL" when none).
median() {
  local n
  n=$(tr ' ' '\n' <<<"$*" | grep -cE '^[0-9.]+$' || true)
  [ "$n" -gt 0 ] || { echo FAIL; return; }
  tr ' ' '\n' <<<"$*" | grep -E '^[0-9.]+$' | sort -g |
    awk -v n="$n" '{v[NR] = $1} END {print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2}'
}
keep() { V[$1]="${V[$1]:-} $2"; } # KEY VALUE: one round's value

# setups_in_round R: the setups, rotated by R (each runs first, last, ...).
setups_in_round() {
  local i n=${#SETUPS[@]}
  for i in $(seq 0 $((n - 1))); do echo "${SETUPS[$(((i + $1) % n))]}"; done
}
url_of() { # SETUP [bulk]
  local port=${APP_PORT[$1]}
  [ "${2:-}" = bulk ] && port=$((port + 1))
  case $1 in
    haproxy) echo "http://127.0.0.1:1$((port + 10))/" ;; # 18080 / 18081
    *) echo "http://$B:$port/" ;;
  esac
}
use() { # SETUP: PROXY_PIDS for its runs
  read -r -a PROXY_PIDS <<<"${PIDS[$1]:-}"
}

# One wrk measurement (keepalive, fixedrate or newconn) over every setup.
measure_wrk() { # NAME
  local name=$1 s hs0 hap0
  for ROUND in $(seq 1 "$ROUNDS"); do
    for s in $(setups_in_round "$ROUND"); do
      use "$s"
      [ "$s.$name" != haproxy.newconn ] || hap0=$(hap_ssl_counters)
      [ "$s.$name" != tunnel.newconn ] || hs0=$(agent_metric a "$HS_KEY")
      case $name in
        keepalive) wrk_run "$s" "$name" "$(url_of "$s")" -c"$CONNS" ;;
        fixedrate) wrk_run "$s" "$name" "$(url_of "$s")" -c"$RATE_CONNS" -- "$RATE_DELAY_MS" ;;
        newconn) wrk_run "$s" "$name" "$(url_of "$s")" -c"$NEWCONN_CONNS" -H "Connection: close" ;;
      esac || { broken "$s.$name" "$W_WHY"; continue; }
      case $name in
        keepalive) keep "$s.ka" "$W_RPS"; keep "$s.ka_cpu" "$W_CPU" ;;
        fixedrate) keep "$s.rate" "$W_RPS"; keep "$s.p50" "$W_P50"; keep "$s.p99" "$W_P99" ;;
        newconn) keep "$s.nc" "$W_RPS"; keep "$s.nc_cpu" "$W_CPU"
          R[$s.nc_n]=$((${R[$s.nc_n]:-0} + W_REQ)) ;;
      esac
      if [ "$s.$name" = haproxy.newconn ]; then
        read -r r0 f0 <<<"$hap0"
        read -r r1 f1 <<<"$(hap_ssl_counters)"
        R[haproxy.nc_resumed]=$((${R[haproxy.nc_resumed]:-0} + r1 - r0))
        R[haproxy.nc_full]=$((${R[haproxy.nc_full]:-0} + f1 - f0))
      fi
      [ "$s.$name" != tunnel.newconn ] ||
        R[tunnel.nc_hs]=$((${R[tunnel.nc_hs]:-0} + $(agent_metric a "$HS_KEY") - hs0))
    done
  done
}

measure_bulk() {
  local s out code size speed want=$((BULK_MB * 1048576))
  for ROUND in $(seq 1 "$BULK_ROUNDS"); do
    for s in $(setups_in_round "$ROUND"); do
      use "$s"
      out=$(pod a curl -sS -o /dev/null --max-time 120 \
        -w '%{http_code} %{size_download} %{speed_download}' "$(url_of "$s" bulk)bulk" 2>&1) || true
      read -r code size speed <<<"$(tail -1 <<<"$out")"
      alive ${PROXY_PIDS[@]+"${PROXY_PIDS[@]}"}
      if [ "$code" = 200 ] && [ "$size" = "$want" ]; then
        keep "$s.bulk" "$(awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}')"
        printf '  %-9s %-9s %d %8s MB/s (%s MiB)\n' "$s" bulk "$ROUND" "${V[$s.bulk]##* }" "$BULK_MB"
      else
        broken "$s.bulk" "download got $size of $want bytes: $(head -1 <<<"$out")"
      fi
    done
  done
}

app_conns() { # PORT: established connections the app in pod b has accepted there
  pod b ss -Htn state established "( sport = :$1 )" | wc -l
}

# hold SETUP MODE KEY: RSS of the setup's proxies with IDLE_CONNS idle
# connections open through them (hold_conns.py MODE; see there).
hold() {
  local setup=$1 mode=$2 key=$3 holder hpid base before host port app=${APP_PORT[$1]}
  read -r host port <<<"$(url_of "$setup" | sed -E 's|http://([^:/]+):([0-9]+)/|\1 \2|')"
  use "$setup"
  holder="$WARD_TMP/hold-$setup-$mode.txt"
  base=$(app_conns "$app")
  before=$(rss_kb "${PROXY_PIDS[@]}")
  pod_bg a /usr/bin/python3 "$BENCH_DIR/hold_conns.py" "$host" "$port" "$IDLE_CONNS" "$mode" >"$holder" 2>&1
  hpid=${WARD_PIDS[-1]}
  for _ in $(seq 1 600); do # 30 s: every connection through both proxies to the app
    grep -q '^held' "$holder" && [ "$(app_conns "$app")" -ge $((base + IDLE_CONNS)) ] && break
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q '^held' "$holder" && [ "$(app_conns "$app")" -ge $((base + IDLE_CONNS)) ]; then
    sleep 1
    alive "${PROXY_PIDS[@]}"
    R[$setup.$key]=$(rss_kb "${PROXY_PIDS[@]}")
    private "$setup" conns
    R[$setup.$key.pc]=$(awk -v a="$before" -v b="${R[$setup.$key]}" -v n="$IDLE_CONNS" \
      'BEGIN {printf "%.1f", (b - a) / n}')
    printf '  %-9s %-9s RSS %s kB before, with %s connections (%s) %s kB (%s)\n' "$setup" "$key" \
      "$before" "$IDLE_CONNS" "$mode" "${R[$setup.$key]}" \
      "$(for p in "${PROXY_PIDS[@]}"; do rss_kb "$p"; done | paste -sd+)"
  else
    R[$setup.$key.pc]=FAIL
    broken "$setup.$key" "$IDLE_CONNS idle connections ($mode): $(tail -1 "$holder"), app sees $(($(app_conns "$app") - base))"
  fi
  kill "$hpid" 2>/dev/null || true
  wait "$hpid" 2>/dev/null || true
  for _ in $(seq 1 100); do # until the proxies have closed them all
    [ "$(app_conns "$app")" -le "$base" ] && break
    sleep 0.05
  done
}

hap_ssl_counters() { # "RESUMED FULL": TLS sessions the server-side HAProxy accepted so far
  echo "show table tls_sessions" | pod b socat - "UNIX-CONNECT:$HAP_B_SOCK" |
    awk '/key=1/ {for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
         END {printf "%d %d\n", v["gpc0"], v["gpc1"]}'
}

# ---------------------------------------------------------------- topology
echo "bench: ward=$WARD_BIN, workers/threads per proxy: $WORKERS, ${DUR}s per wrk run," \
  "$ROUNDS rounds ($BULK_ROUNDS for bulk), $(nproc) CPUs"
pod_add a 1
pod_add b 2
for p in a b; do # many short connections: wide port range, reuse TIME_WAIT ports (all setups alike)
  pod "$p" sysctl -qw net.ipv4.ip_local_port_range="30000 60999" net.ipv4.tcp_tw_reuse=1
done
B=$(pod_ip b)
certs_for a b
for p in a b; do # HAProxy wants certificate and key in one PEM file
  cat "$WARD_TMP/certs/$p/svid.pem" "$WARD_TMP/certs/$p/svid.key" >"$WARD_TMP/hap-$p.pem"
  chmod 600 "$WARD_TMP/hap-$p.pem"
done

bench_app b 8070 8080 8090
for port in 8071 8081 8091; do
  pod_bg b /usr/bin/python3 "$BENCH_DIR/bulk_server.py" "$port" $((BULK_MB * 1048576))
  wait_port b 127.0.0.1 "$port"
done
wait_port b 127.0.0.1 8080

# ---------------------------------------------------------------- the HAProxy pair
# Client side in pod a: plain TCP listeners -> TLS 1.3 with client cert to pod b.
# Server side in pod b: TLS 1.3, client cert required and verified -> the app.
# Same ECDSA P-256 SVIDs and CA as ward, same suite order as ward's `modern`
# profile; session resumption left at HAProxy's defaults (on).
hap_tls="ssl-min-ver TLSv1.3 ciphersuites $TLS13_SUITES"
HAP_B_SOCK="$WARD_TMP/hap-b.sock"
cat >"$WARD_TMP/hap-a.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
listen app
  bind 127.0.0.1:18080
  server b $B:28080 ssl crt $WARD_TMP/hap-a.pem ca-file $WARD_TMP/certs/a/bundle.pem verify required $hap_tls
listen bulk
  bind 127.0.0.1:18081
  server b $B:28081 ssl crt $WARD_TMP/hap-a.pem ca-file $WARD_TMP/certs/a/bundle.pem verify required $hap_tls
EOF
cat >"$WARD_TMP/hap-b.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
  stats socket $HAP_B_SOCK mode 600 level admin
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
backend tls_sessions # counts resumed (gpc0) and full (gpc1) handshakes, for the report
  stick-table type integer size 1 store gpc0,gpc1
listen app
  bind 0.0.0.0:28080 ssl crt $WARD_TMP/hap-b.pem ca-file $WARD_TMP/certs/b/bundle.pem verify required $hap_tls
  tcp-request session track-sc0 int(1) table tls_sessions
  tcp-request session sc-inc-gpc0(0) if { ssl_fc_is_resumed }
  tcp-request session sc-inc-gpc1(0) if !{ ssl_fc_is_resumed }
  server app 127.0.0.1:8070
listen bulk
  bind 0.0.0.0:28081 ssl crt $WARD_TMP/hap-b.pem ca-file $WARD_TMP/certs/b/bundle.pem verify required $hap_tls
  server app 127.0.0.1:8071
EOF
pod_bg a haproxy -db -f "$WARD_TMP/hap-a.cfg" 2>>"$WARD_TMP/hap-a.log"
HAP_A=${WARD_PIDS[-1]}
pod_bg b haproxy -db -f "$WARD_TMP/hap-b.cfg" 2>>"$WARD_TMP/hap-b.log"
HAP_B=${WARD_PIDS[-1]}
wait_port a 127.0.0.1 18080
wait_port b 127.0.0.1 28080
PIDS[haproxy]="$HAP_A $HAP_B"

# ---------------------------------------------------------------- the ward agents
# One agent per pod serves both ward setups: the tunnel (the default) on 8080,
# direct mTLS on 8090 (outbound.tunnel_exclude_ports). The ports of the other
# setups are left out of capture, and out of what the tunnel serves.
export IPTABLES_ARGS="--exclude-outbound-ports $UNCAPTURED --exclude-inbound-ports $UNCAPTURED"
WARD_EXTRA=', "outbound": { "tunnel_exclude_ports": [8090, 8091] },
  "inbound": { "exclude_ports": "'$UNCAPTURED'" }'
agent_metric() { # POD NAME{LABELS}: a value from that pod's agent
  pod "$1" curl -sS --max-time 3 http://127.0.0.1:15020/metrics | awk -v k="$2" '$1 == k {print $2}'
}
agents_start() { # EXTRA-CONFIG
  agent_start a "$(agent_config a "$WARD_EXTRA$1")"
  agent_start b "$(agent_config b "$WARD_EXTRA$1")"
  WARD_AGENTS="${WARD_PIDS[-2]} ${WARD_PIDS[-1]}"
  PIDS[ward]=$WARD_AGENTS PIDS[tunnel]=$WARD_AGENTS
  wait_port a "$B" 8090 # through both agents
}
agents_restart() { # EXTRA-CONFIG: both agents again, with EXTRA in their configs
  read -r -a PROXY_PIDS <<<"$WARD_AGENTS"
  kill "${PROXY_PIDS[@]}"
  wait "${PROXY_PIDS[@]}" 2>/dev/null || true
  for p in a b; do mv "$WARD_TMP/$p.log" "$WARD_TMP/$p-$(date +%s%N).log"; done
  agents_start "$1"
}
agents_start ''
HS_KEY='ward_tls_handshakes_total{direction="outbound",result="success"}'

# ---------------------------------------------------------------- measurements
sleep 0.5
R[haproxy.rss_idle]=$(rss_kb $HAP_A $HAP_B)
R[ward.rss_idle]=$(rss_kb $WARD_AGENTS) R[tunnel.rss_idle]=${R[ward.rss_idle]}
mem_now idle
echo "bench: keep-alive ($CONNS connections, 1 KiB responses)"
measure_wrk keepalive
echo "bench: latency at a fixed rate ($RATE_CONNS connections, one request each per ${RATE_DELAY_MS} ms)"
measure_wrk fixedrate
echo "bench: new connections ($NEWCONN_CONNS connections, Connection: close)"
opened0=$(agent_metric a 'ward_tunnel_pool_total{result="opened"}')
measure_wrk newconn
R[tunnel.opened]=$(($(agent_metric a 'ward_tunnel_pool_total{result="opened"}') - opened0))
echo "bench: bulk (one $BULK_MB MiB download per setup and round)"
measure_bulk
for key in ka ka_cpu rate p50 p99 nc nc_cpu bulk; do
  for s in "${SETUPS[@]}"; do R[$s.$key]=$(median ${V[$s.$key]:-}); done
done
R[haproxy.rss_after]=$(rss_kb $HAP_A $HAP_B)
R[ward.rss_after]=$(rss_kb $WARD_AGENTS) R[tunnel.rss_after]=${R[ward.rss_after]}
mem_now after
echo "bench: memory with $IDLE_CONNS idle connections"
hold haproxy "$IDLE_MODE" rss_conns
sleep "$SETTLE_S" # the proxies' memory after the burst, once they have had a moment
R[haproxy.rss_closed]=$(rss_kb ${PIDS[haproxy]})
private haproxy closed
# Both ward setups share the agents: each is measured on fresh ones, so that
# neither reuses memory the other's connections left in the allocator.
for s in ward tunnel; do
  agents_restart ''
  [ "$s" = ward ] || pod a curl -sS -o /dev/null --max-time 5 "$(url_of tunnel)" # the pool is warm
  hold "$s" "$IDLE_MODE" rss_conns
  sleep "$SETTLE_S"
  R[$s.rss_closed]=$(rss_kb ${PIDS[$s]})
  private "$s" closed
done
grep -h '"level":"\(warn\|error\)"' "$WARD_TMP/a.log" "$WARD_TMP/b.log" | head -5 | sed 's/^/  agent log: /' || true

# ---------------------------------------------------------------- key exchange
# What the hybrid post-quantum group costs: the same pair of agents, back to
# back, with the modern profile (X25519MLKEM768 where the build has it) and with
# classic groups only (tls.groups x25519, secp256r1). Per setup: new connections/s
# (direct mode: one full mTLS handshake each) and the bytes of one handshake on
# b's wire (a connection opened and closed without data: the handshake plus one
# close_notify each way), read with tests/e2e/tlswire.py.
kx_measure() { # LABEL
  local label=$1 vars
  read -r -a PROXY_PIDS <<<"$WARD_AGENTS"
  ROUND=1
  if wrk_run "$label" newconn "http://$B:8090/" -c"$NEWCONN_CONNS" -H "Connection: close"; then
    R[$label.nc]=$W_RPS R[$label.nc_cpu]=$W_CPU
  else
    broken "$label.nc" "$W_WHY"
    R[$label.nc_cpu]=FAIL
  fi
  capture_start b "$WARD_TMP/kx-$label.pcap" tcp port 8090 >/dev/null
  pod a bash -c "exec 3<>/dev/tcp/$B/8090; sleep 0.5"
  capture_stop
  vars=$(/usr/bin/python3 "$WARD_ROOT/tests/e2e/tlswire.py" "$WARD_TMP/kx-$label.pcap" \
    --port 8090 --format shell --prefix kx_) || { broken "$label.bytes" "no capture"; return; }
  eval "$vars"
  # shellcheck disable=SC2154 # kx_* come from the eval above
  R[$label.group]=${kx_server_hello_group:-none} R[$label.hrr]=$kx_hello_retry_requests
  R[$label.ch]=$((${kx_client_hello_record_length:-0} + 5))
  R[$label.sh]=$((${kx_server_hello_record_length:-0} + 5))
  R[$label.up]=$kx_bytes_client_to_server R[$label.down]=$kx_bytes_server_to_client
  printf '  %-9s %-9s %s: ClientHello %s B, ServerHello %s B, a->b %s B, b->a %s B, %s retries\n' \
    "$label" handshake "${R[$label.group]}" "${R[$label.ch]}" "${R[$label.sh]}" "${R[$label.up]}" \
    "${R[$label.down]}" "${R[$label.hrr]}"
}
echo "bench: key exchange (the ward pair in direct mode on 8090, modern profile, then classic groups only)"
kx_measure kx_modern
agents_restart ', "tls": { "groups": ["x25519", "secp256r1"] }'
kx_measure kx_classic

# ---------------------------------------------------------------- table
num() { [[ $1 =~ ^[0-9.]+$ ]]; }
ratio() { # A B -> A/B, or "-" when either is not a number
  if num "$1" && num "$2"; then awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; else echo -; fi
}
mb() { if num "$1"; then awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; else echo "$1"; fi; }
verdict() { # RATIO OP LIMIT
  num "$1" || { echo "no result"; return; }
  awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == ">=") ? (r >= l) : (r <= l); print ok ? "met" : "NOT met" }'
}
row() { # LABEL DIRECT HAPROXY MTLS TUNNEL
  printf '%-38s %9s %9s %9s %9s %8s %8s\n' "$1" "$2" "$3" "$4" "$5" "$(ratio "$4" "$3")" \
    "$(ratio "$5" "$3")"
}
target() { # LABEL RATIO OP LIMIT
  printf '  %-56s %7s   %-2s %-5s %s\n' "$1" "$2" "$3" "$4" "$(verdict "$2" "$3" "$4")"
}
per_agent() { # kB per connection for both proxies -> per agent
  if num "$1"; then awk -v k="$1" 'BEGIN {printf "%.1f", k / 2}'; else echo "$1"; fi
}
rate_label="latency @ ~$((RATE_CONNS * 1000 / RATE_DELAY_MS)) req/s"
echo
echo "ward $(git -C "$WARD_ROOT" describe --always --dirty 2>/dev/null || echo '?') vs HAProxy vs plaintext," \
  "$(nproc) CPUs, $WORKERS worker thread per ward agent / nbthread 1 per HAProxy, ${DUR}s per wrk run," \
  "median of $ROUNDS rounds ($BULK_ROUNDS for bulk)"
printf '%-38s %9s %9s %9s %9s %8s %8s\n' metric direct haproxy "ward mTLS" "ward tun" mtls/hap tun/hap
row "keep-alive req/s ($CONNS conns, 1 KiB)" "${R[direct.ka]}" "${R[haproxy.ka]}" "${R[ward.ka]}" "${R[tunnel.ka]}"
row "  proxy CPU us/request" - "${R[haproxy.ka_cpu]}" "${R[ward.ka_cpu]}" "${R[tunnel.ka_cpu]}"
row "$rate_label: achieved" "${R[direct.rate]}" "${R[haproxy.rate]}" "${R[ward.rate]}" "${R[tunnel.rate]}"
row "  p50 ms" "${R[direct.p50]}" "${R[haproxy.p50]}" "${R[ward.p50]}" "${R[tunnel.p50]}"
row "  p99 ms" "${R[direct.p99]}" "${R[haproxy.p99]}" "${R[ward.p99]}" "${R[tunnel.p99]}"
row "new connections/s ($NEWCONN_CONNS conns, close)" "${R[direct.nc]}" "${R[haproxy.nc]}" "${R[ward.nc]}" "${R[tunnel.nc]}"
row "  proxy CPU us/connection" - "${R[haproxy.nc_cpu]}" "${R[ward.nc_cpu]}" "${R[tunnel.nc_cpu]}"
row "bulk MB/s (one $BULK_MB MiB download)" "${R[direct.bulk]}" "${R[haproxy.bulk]}" "${R[ward.bulk]}" "${R[tunnel.bulk]}"
# mem_rows NAME: PSS and USS rows under an RSS row.
mem_rows() {
  row "  PSS MiB" - "$(mb "${R[haproxy.pss_$1]:--}")" "$(mb "${R[ward.pss_$1]:--}")" "$(mb "${R[tunnel.pss_$1]:--}")"
  row "  USS (private) MiB" - "$(mb "${R[haproxy.uss_$1]:--}")" "$(mb "${R[ward.uss_$1]:--}")" "$(mb "${R[tunnel.uss_$1]:--}")"
}
row "RSS idle MiB, fresh (both proxies)" - "$(mb "${R[haproxy.rss_idle]}")" "$(mb "${R[ward.rss_idle]}")" "$(mb "${R[tunnel.rss_idle]}")"
mem_rows idle
row "RSS idle MiB, after the load runs" - "$(mb "${R[haproxy.rss_after]}")" "$(mb "${R[ward.rss_after]}")" "$(mb "${R[tunnel.rss_after]}")"
mem_rows after
row "RSS with $IDLE_CONNS idle conns MiB" - "$(mb "${R[haproxy.rss_conns]}")" "$(mb "${R[ward.rss_conns]}")" "$(mb "${R[tunnel.rss_conns]}")"
mem_rows conns
row "  added kB per connection (both)" - "${R[haproxy.rss_conns.pc]}" "${R[ward.rss_conns.pc]}" "${R[tunnel.rss_conns.pc]}"
row "RSS after they closed MiB (${SETTLE_S} s on)" - "$(mb "${R[haproxy.rss_closed]}")" "$(mb "${R[ward.rss_closed]}")" "$(mb "${R[tunnel.rss_closed]}")"
mem_rows closed
echo
echo "targets (ratios from this run)"
target "tunnel new connections/s vs haproxy" "$(ratio "${R[tunnel.nc]}" "${R[haproxy.nc]}")" ">=" 10
target "tunnel new connections/s vs direct plaintext" "$(ratio "${R[tunnel.nc]}" "${R[direct.nc]}")" ">=" 0.5
target "tunnel proxy CPU per new connection vs haproxy" "$(ratio "${R[tunnel.nc_cpu]}" "${R[haproxy.nc_cpu]}")" "<=" 0.1
target "tunnel keep-alive req/s vs ward mTLS" "$(ratio "${R[tunnel.ka]}" "${R[ward.ka]}")" ">=" 1
target "tunnel bulk MB/s vs ward mTLS" "$(ratio "${R[tunnel.bulk]}" "${R[ward.bulk]}")" ">=" 1
target "tunnel p99 at the fixed rate vs direct plaintext" "$(ratio "${R[tunnel.p99]}" "${R[direct.p99]}")" "<=" 1.5
target "tunnel RSS added per idle pooled stream, kB per agent" "$(per_agent "${R[tunnel.rss_conns.pc]}")" "<=" 8
target "ward mTLS keep-alive req/s vs haproxy" "$(ratio "${R[ward.ka]}" "${R[haproxy.ka]}")" ">=" 1
target "ward mTLS p99 at the fixed rate vs haproxy" "$(ratio "${R[ward.p99]}" "${R[haproxy.p99]}")" "<=" 1
target "ward mTLS new connections/s vs haproxy" "$(ratio "${R[ward.nc]}" "${R[haproxy.nc]}")" ">=" 1
target "ward mTLS bulk MB/s vs haproxy" "$(ratio "${R[ward.bulk]}" "${R[haproxy.bulk]}")" ">=" 1
target "ward mTLS RSS with idle connections vs haproxy" "$(ratio "${R[ward.rss_conns]}" "${R[haproxy.rss_conns]}")" "<=" 1
echo
echo "TLS handshakes in the new-connections run:"
echo "  ward mTLS:   ${R[ward.nc_n]} connections = ${R[ward.nc_n]} full handshakes (no session resumption)"
echo "  ward tunnel: ${R[tunnel.nc_n]} connections = ${R[tunnel.nc_n]} CONNECT streams; ${R[tunnel.nc_hs]:-0} handshakes" \
  "(${R[tunnel.opened]} tunnel connections opened while the new-connection runs went)"
echo "  haproxy:     ${R[haproxy.nc_n]} connections; server-side HAProxy saw ${R[haproxy.nc_full]} full and" \
  "${R[haproxy.nc_resumed]} resumed handshakes (HAProxy's default session reuse on the server line)"
echo
echo "key exchange, ward to ward (direct mode, one run each):"
kx_row() { # LABEL MODERN CLASSIC
  printf '  %-38s %18s %18s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}
printf '  %-38s %18s %18s %8s\n' "" "modern profile" "classic only" ratio
kx_row "group negotiated" "${R[kx_modern.group]}" "${R[kx_classic.group]}"
kx_row "new connections/s ($NEWCONN_CONNS conns, close)" "${R[kx_modern.nc]}" "${R[kx_classic.nc]}"
kx_row "  proxy CPU us/connection (both)" "${R[kx_modern.nc_cpu]}" "${R[kx_classic.nc_cpu]}"
kx_row "ClientHello bytes" "${R[kx_modern.ch]}" "${R[kx_classic.ch]}"
kx_row "ServerHello bytes" "${R[kx_modern.sh]}" "${R[kx_classic.sh]}"
kx_row "handshake bytes a -> b" "${R[kx_modern.up]}" "${R[kx_classic.up]}"
kx_row "handshake bytes b -> a" "${R[kx_modern.down]}" "${R[kx_classic.down]}"
kx_row "HelloRetryRequests" "${R[kx_modern.hrr]}" "${R[kx_classic.hrr]}"
if [ ${#BROKEN[@]} -gt 0 ]; then
  WARD_KEEP_TMP=1 # read by ward_cleanup (lib.sh) on exit
  export WARD_KEEP_TMP
  echo
  echo "bench: ${#BROKEN[@]} measurement(s) broke (logs kept in $WARD_TMP):" >&2
  printf '  %s\n' "${BROKEN[@]}" >&2
  exit 1
fi
