#!/usr/bin/env bash
# ward vs a pair of HAProxy vs plaintext, in the e2e two-pod topology (tests/e2e/lib.sh).
# One run, one table: keep-alive req/s, latency at a fixed rate, new mTLS
# connections/s, bulk MB/s, proxy RSS idle and with idle connections, proxy CPU;
# then what the hybrid post-quantum key exchange costs ward (new connections/s,
# handshake bytes) against classic groups only.
#   tests/bench/bench.sh            (make bench; needs root, wrk, haproxy, curl, python3, socat)
# Env: WARD_BIN (default build/ward), BENCH_DURATION seconds per wrk run (5),
#   BENCH_CONNS keep-alive connections (32), BENCH_RATE_CONNS x 1000/BENCH_RATE_DELAY_MS
#   = the fixed request rate (10 x 1000/10 = 1000 req/s), BENCH_NEWCONN_CONNS (16),
#   BENCH_BULK_MB (1024), BENCH_IDLE_CONNS (1000), BENCH_IDLE_MODE (connect: the
#   idle connections carry no request; their mTLS handshakes and the proxies'
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
need_root
trap ward_cleanup EXIT

DUR=${BENCH_DURATION:-5}
CONNS=${BENCH_CONNS:-32}
RATE_CONNS=${BENCH_RATE_CONNS:-10}
RATE_DELAY_MS=${BENCH_RATE_DELAY_MS:-10}
NEWCONN_CONNS=${BENCH_NEWCONN_CONNS:-16}
BULK_MB=${BENCH_BULK_MB:-1024}
IDLE_CONNS=${BENCH_IDLE_CONNS:-1000}
IDLE_MODE=${BENCH_IDLE_MODE:-connect} # or request: one HTTP request on each first
APP_PORT=8080  # HAProxy in pod b: 1 KiB response via `http-request return`
BULK_PORT=8081 # bulk_server.py in pod b
TLS13_SUITES=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256

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
declare -A R=() # R[setup.metric] = value

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
# W_P99 W_ERR W_CPU (proxy CPU microseconds per request); returns 1 (with W_WHY)
# on errors or no traffic.
wrk_run() {
  local setup=$1 name=$2 url=$3 out line t0 t1 opts=() sargs=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -eq 0 ] || { shift; sargs=("$@"); }
  out="$WARD_TMP/wrk-$setup-$name.txt"
  t0=$(cpu_ticks "${PROXY_PIDS[@]}")
  if ! pod a wrk -t1 -d"${DUR}s" --timeout 5s -s "$BENCH_DIR/wrk-report.lua" "${opts[@]}" "$url" \
    ${sargs[@]+-- "${sargs[@]}"} >"$out" 2>&1; then
    W_WHY="wrk failed: $(tail -1 "$out")"
    return 1
  fi
  t1=$(cpu_ticks "${PROXY_PIDS[@]}")
  alive "${PROXY_PIDS[@]}"
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
  printf '  %-9s %-9s %8s req/s  p50 %7s ms  p99 %7s ms  errors %s  proxy CPU %s us/req\n' \
    "$setup" "$name" "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "$W_CPU"
  if [ "$requests" -eq 0 ] || [ "$W_ERR" -gt $((requests / 100)) ]; then
    W_WHY="$requests requests, $W_ERR errors (connect $connect read $read write $write status $status timeout $timeout)"
    return 1
  fi
}

# measure SETUP HOST APPPORT BULKPORT: every measurement against one setup.
# PROXY_PIDS holds the setup's two proxy processes (empty for direct).
measure() {
  local setup=$1 host=$2 port=$3 bport=$4 url out want code size speed
  url="http://$host:$port/"
  R[$setup.rss_idle]=- R[$setup.rss_after]=- R[$setup.rss_conns]=- R[$setup.rss_closed]=-
  if [ ${#PROXY_PIDS[@]} -gt 0 ]; then
    sleep 0.5
    R[$setup.rss_idle]=$(rss_kb "${PROXY_PIDS[@]}")
  fi

  if wrk_run "$setup" keepalive "$url" -c"$CONNS"; then
    R[$setup.ka]=$W_RPS R[$setup.ka_cpu]=$W_CPU
  else
    broken "$setup.ka" "$W_WHY"
    R[$setup.ka_cpu]=FAIL
  fi

  if wrk_run "$setup" fixedrate "$url" -c"$RATE_CONNS" -- "$RATE_DELAY_MS"; then
    R[$setup.rate]=$W_RPS R[$setup.p50]=$W_P50 R[$setup.p99]=$W_P99
  else
    broken "$setup.rate" "$W_WHY"
    R[$setup.p50]=FAIL R[$setup.p99]=FAIL
  fi

  [ -z "${HAP_B_SOCK:-}" ] || HAP_B_BEFORE=$(hap_ssl_counters)
  if wrk_run "$setup" newconn "$url" -c"$NEWCONN_CONNS" -H "Connection: close"; then
    R[$setup.nc]=$W_RPS R[$setup.nc_cpu]=$W_CPU R[$setup.nc_n]=$W_REQ
  else
    broken "$setup.nc" "$W_WHY"
    R[$setup.nc_cpu]=FAIL R[$setup.nc_n]=FAIL
  fi
  [ -z "${HAP_B_SOCK:-}" ] || HAP_B_AFTER=$(hap_ssl_counters)

  want=$((BULK_MB * 1048576))
  out=$(pod a curl -sS -o /dev/null --max-time 120 -w '%{http_code} %{size_download} %{speed_download}' \
    "http://$host:$bport/bulk" 2>&1) || true
  read -r code size speed <<<"$(tail -1 <<<"$out")"
  alive "${PROXY_PIDS[@]}"
  if [ "$code" = 200 ] && [ "$size" = "$want" ]; then
    R[$setup.bulk]=$(awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}')
    printf '  %-9s %-9s %8s MB/s (%s MiB)\n' "$setup" bulk "${R[$setup.bulk]}" "$BULK_MB"
  else
    broken "$setup.bulk" "download got $size of $want bytes: $(head -1 <<<"$out")"
  fi

  if [ ${#PROXY_PIDS[@]} -gt 0 ]; then
    R[$setup.rss_after]=$(rss_kb "${PROXY_PIDS[@]}")
    hold "$setup" "$host" "$port" "$IDLE_MODE" rss_conns
    R[$setup.rss_closed]=$(rss_kb "${PROXY_PIDS[@]}")
  fi
}

app_conns() { # established connections the app in pod b has accepted
  pod b ss -Htn state established "( sport = :$APP_PORT )" | wc -l
}

# hold SETUP HOST PORT MODE KEY: RSS of the proxies with IDLE_CONNS idle
# connections open through them (hold_conns.py MODE; see there).
hold() {
  local setup=$1 host=$2 port=$3 mode=$4 key=$5 holder hpid base before
  holder="$WARD_TMP/hold-$setup-$mode.txt"
  base=$(app_conns)
  before=$(rss_kb "${PROXY_PIDS[@]}")
  pod_bg a /usr/bin/python3 "$BENCH_DIR/hold_conns.py" "$host" "$port" "$IDLE_CONNS" "$mode" >"$holder" 2>&1
  hpid=${WARD_PIDS[-1]}
  for _ in $(seq 1 600); do # 30 s: every connection through both proxies to the app
    grep -q '^held' "$holder" && [ "$(app_conns)" -ge $((base + IDLE_CONNS)) ] && break
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q '^held' "$holder" && [ "$(app_conns)" -ge $((base + IDLE_CONNS)) ]; then
    sleep 1
    alive "${PROXY_PIDS[@]}"
    R[$setup.$key]=$(rss_kb "${PROXY_PIDS[@]}")
    R[$setup.$key.pc]=$(awk -v a="$before" -v b="${R[$setup.$key]}" -v n="$IDLE_CONNS" \
      'BEGIN {printf "%.1f", (b - a) / n}')
    printf '  %-9s %-9s RSS %s kB before, with %s connections (%s) %s kB (%s)\n' "$setup" "$key" \
      "$before" "$IDLE_CONNS" "$mode" "${R[$setup.$key]}" \
      "$(for p in "${PROXY_PIDS[@]}"; do rss_kb "$p"; done | paste -sd+)"
  else
    R[$setup.$key.pc]=FAIL
    broken "$setup.$key" "$IDLE_CONNS idle connections ($mode): $(tail -1 "$holder"), app sees $(($(app_conns) - base))"
  fi
  kill "$hpid" 2>/dev/null || true
  wait "$hpid" 2>/dev/null || true
  for _ in $(seq 1 100); do # until the proxies have closed them all
    [ "$(app_conns)" -le "$base" ] && break
    sleep 0.05
  done
}

hap_ssl_counters() { # "RESUMED FULL": TLS sessions the server-side HAProxy accepted so far
  echo "show table tls_sessions" | pod b socat - "UNIX-CONNECT:$HAP_B_SOCK" |
    awk '/key=1/ {for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
         END {printf "%d %d\n", v["gpc0"], v["gpc1"]}'
}

# ---------------------------------------------------------------- topology
echo "bench: ward=$WARD_BIN, workers/threads per proxy: $WORKERS, ${DUR}s per wrk run, $(nproc) CPUs"
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

head -c 1024 /dev/zero | tr '\0' x >"$WARD_TMP/1k.txt"
cat >"$WARD_TMP/app.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout client 120s
  timeout http-request 10s
  timeout http-keep-alive 120s
frontend app
  bind 0.0.0.0:$APP_PORT
  http-request return status 200 content-type text/plain file $WARD_TMP/1k.txt
EOF
pod_bg b haproxy -db -f "$WARD_TMP/app.cfg"
pod_bg b /usr/bin/python3 "$BENCH_DIR/bulk_server.py" "$BULK_PORT" $((BULK_MB * 1048576))
wait_port b 127.0.0.1 "$APP_PORT"
wait_port b 127.0.0.1 "$BULK_PORT"

# ---------------------------------------------------------------- 1. direct
echo "bench: direct (plaintext, no proxy)"
PROXY_PIDS=()
measure direct "$B" "$APP_PORT" "$BULK_PORT"

# ---------------------------------------------------------------- 2. HAProxy pair
# Client side in pod a: plain TCP listeners -> TLS 1.3 with client cert to pod b.
# Server side in pod b: TLS 1.3, client cert required and verified -> the app.
# Same ECDSA P-256 SVIDs and CA as ward, same suite order as ward's `modern`
# profile; session resumption left at HAProxy's defaults (on).
echo "bench: haproxy (a pair of HAProxy $(haproxy -v | awk 'NR == 1 {print $3}'), mutual TLS 1.3)"
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
  bind 127.0.0.1:1$APP_PORT
  server b $B:2$APP_PORT ssl crt $WARD_TMP/hap-a.pem ca-file $WARD_TMP/certs/a/bundle.pem verify required $hap_tls
listen bulk
  bind 127.0.0.1:1$BULK_PORT
  server b $B:2$BULK_PORT ssl crt $WARD_TMP/hap-a.pem ca-file $WARD_TMP/certs/a/bundle.pem verify required $hap_tls
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
  bind 0.0.0.0:2$APP_PORT ssl crt $WARD_TMP/hap-b.pem ca-file $WARD_TMP/certs/b/bundle.pem verify required $hap_tls
  tcp-request session track-sc0 int(1) table tls_sessions
  tcp-request session sc-inc-gpc0(0) if { ssl_fc_is_resumed }
  tcp-request session sc-inc-gpc1(0) if !{ ssl_fc_is_resumed }
  server app 127.0.0.1:$APP_PORT
listen bulk
  bind 0.0.0.0:2$BULK_PORT ssl crt $WARD_TMP/hap-b.pem ca-file $WARD_TMP/certs/b/bundle.pem verify required $hap_tls
  server app 127.0.0.1:$BULK_PORT
EOF
pod_bg a haproxy -db -f "$WARD_TMP/hap-a.cfg" 2>>"$WARD_TMP/hap-a.log"
HAP_A=${WARD_PIDS[-1]}
pod_bg b haproxy -db -f "$WARD_TMP/hap-b.cfg" 2>>"$WARD_TMP/hap-b.log"
HAP_B=${WARD_PIDS[-1]}
wait_port a 127.0.0.1 "1$APP_PORT"
wait_port b 127.0.0.1 "2$APP_PORT"
PROXY_PIDS=("$HAP_A" "$HAP_B")
measure haproxy 127.0.0.1 "1$APP_PORT" "1$BULK_PORT"
read -r r0 f0 <<<"$HAP_B_BEFORE"
read -r r1 f1 <<<"$HAP_B_AFTER"
R[haproxy.nc_resumed]=$((r1 - r0)) R[haproxy.nc_full]=$((f1 - f0))
unset HAP_B_SOCK
kill "$HAP_A" "$HAP_B"
wait "$HAP_A" "$HAP_B" 2>/dev/null || true

# ---------------------------------------------------------------- 3. ward
echo "bench: ward (agent in each pod, iptables capture, mutual TLS 1.3)"
agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
PROXY_PIDS=("${WARD_PIDS[-2]}" "${WARD_PIDS[-1]}")
wait_port a "$B" "$APP_PORT" # through both agents
measure ward "$B" "$APP_PORT" "$BULK_PORT"
grep -h '"level":"\(warn\|error\)"' "$WARD_TMP/a.log" "$WARD_TMP/b.log" | head -5 | sed 's/^/  agent log: /' || true

# ---------------------------------------------------------------- 4. key exchange
# What the hybrid post-quantum group costs: the same pair of agents, back to
# back, with the modern profile (X25519MLKEM768 where the build has it) and with
# classic groups only (tls.groups x25519, secp256r1). Per setup: new connections/s
# (direct mode: one full mTLS handshake each) and the bytes of one handshake on
# b's wire (a connection opened and closed without data: the handshake plus one
# close_notify each way), read with tests/e2e/tlswire.py.
kx_measure() { # LABEL
  local label=$1 vars
  if wrk_run "$label" newconn "http://$B:$APP_PORT/" -c"$NEWCONN_CONNS" -H "Connection: close"; then
    R[$label.nc]=$W_RPS R[$label.nc_cpu]=$W_CPU
  else
    broken "$label.nc" "$W_WHY"
    R[$label.nc_cpu]=FAIL
  fi
  capture_start b "$WARD_TMP/kx-$label.pcap" tcp port "$APP_PORT" >/dev/null
  pod a bash -c "exec 3<>/dev/tcp/$B/$APP_PORT; sleep 0.5"
  capture_stop
  vars=$(/usr/bin/python3 "$WARD_ROOT/tests/e2e/tlswire.py" "$WARD_TMP/kx-$label.pcap" \
    --port "$APP_PORT" --format shell --prefix kx_) || { broken "$label.bytes" "no capture"; return; }
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
agents_restart() { # EXTRA-CONFIG: both agents again, with EXTRA in their configs
  kill "${PROXY_PIDS[@]}"
  wait "${PROXY_PIDS[@]}" 2>/dev/null || true
  for p in a b; do mv "$WARD_TMP/$p.log" "$WARD_TMP/$p-$(date +%s%N).log"; done
  agent_start a "$(agent_config a "$1")"
  agent_start b "$(agent_config b "$1")"
  PROXY_PIDS=("${WARD_PIDS[-2]}" "${WARD_PIDS[-1]}")
  wait_port a "$B" "$APP_PORT"
}
echo "bench: key exchange (the ward pair, modern profile, then classic groups only)"
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
row() { # LABEL DIRECT HAPROXY WARD [TARGET-OP TARGET-LIMIT]
  local r v="" t=""
  r=$(ratio "$4" "$3")
  if [ -n "${5:-}" ]; then
    t="$5 $6x"
    v=$(verdict "$r" "$5" "$6")
  fi
  printf '%-38s %9s %9s %9s %8s   %-7s %s\n' "$1" "$2" "$3" "$4" "$r" "$t" "$v"
}
rate_label="latency @ ~$((RATE_CONNS * 1000 / RATE_DELAY_MS)) req/s"
echo
echo "ward $(git -C "$WARD_ROOT" describe --always --dirty 2>/dev/null || echo '?') vs HAProxy vs plaintext," \
  "$(nproc) CPUs, $WORKERS worker thread per ward agent / nbthread 1 per HAProxy, ${DUR}s per wrk run"
printf '%-38s %9s %9s %9s %8s   %-7s %s\n' metric direct haproxy ward ward/hap target result
row "keep-alive req/s ($CONNS conns, 1 KiB)" "${R[direct.ka]}" "${R[haproxy.ka]}" "${R[ward.ka]}" ">=" 1.5
row "  proxy CPU us/request" - "${R[haproxy.ka_cpu]}" "${R[ward.ka_cpu]}"
row "$rate_label: achieved" "${R[direct.rate]}" "${R[haproxy.rate]}" "${R[ward.rate]}"
row "  p50 ms" "${R[direct.p50]}" "${R[haproxy.p50]}" "${R[ward.p50]}"
row "  p99 ms" "${R[direct.p99]}" "${R[haproxy.p99]}" "${R[ward.p99]}"
row "new connections/s ($NEWCONN_CONNS conns, close)" "${R[direct.nc]}" "${R[haproxy.nc]}" "${R[ward.nc]}" ">=" 4
row "  proxy CPU us/connection" - "${R[haproxy.nc_cpu]}" "${R[ward.nc_cpu]}"
row "bulk MB/s (one $BULK_MB MiB download)" "${R[direct.bulk]}" "${R[haproxy.bulk]}" "${R[ward.bulk]}" ">=" 1.3
row "RSS idle MiB, fresh (both proxies)" - "$(mb "${R[haproxy.rss_idle]}")" "$(mb "${R[ward.rss_idle]}")" "<=" 0.25
row "RSS idle MiB, after the load runs" - "$(mb "${R[haproxy.rss_after]}")" "$(mb "${R[ward.rss_after]}")"
row "RSS with $IDLE_CONNS idle conns MiB" - "$(mb "${R[haproxy.rss_conns]}")" "$(mb "${R[ward.rss_conns]}")" "<=" 0.25
row "  added kB per connection (both)" - "${R[haproxy.rss_conns.pc]}" "${R[ward.rss_conns.pc]}"
row "RSS after they closed MiB" - "$(mb "${R[haproxy.rss_closed]}")" "$(mb "${R[ward.rss_closed]}")"
echo
echo "TLS handshakes in the new-connections run:"
echo "  ward:    ${R[ward.nc_n]} connections = ${R[ward.nc_n]} full handshakes (ward has no session resumption yet)"
echo "  haproxy: ${R[haproxy.nc_n]} connections; server-side HAProxy saw ${R[haproxy.nc_full]} full and" \
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
