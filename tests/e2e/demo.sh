#!/usr/bin/env bash
# `make demo`: two meshed pods in network namespaces, one plain HTTP request
# from frontend's curl to backend's app, and what happened on the way: the
# identities, the TLS parameters and timings the agents logged, and a tcpdump
# of the wire that shows only TLS records and no trace of the request's
# plaintext. Needs root. Cleans up after itself, also when interrupted.
#   WARD_BIN=path/to/ward   the binary (default build/ward)
#   WARD_KEEP_TMP=1         keep the temp dir (certs, configs, logs, captures)
# shellcheck disable=SC2154 # fe_*, be_*, w_*, lo_* come from eval of generated assignments
set -Eeuo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(date +%s%N)
PY=/usr/bin/python3
PORT=8080
LOG_LEVEL=debug # the conn_close events the summary is built from are debug-level

if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ] && [ -z "${NO_COLOR:-}" ]; then
  B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' C=$'\e[36m' N=$'\e[0m'
else
  B='' D='' G='' R='' Y='' C='' N=''
fi

STEP="starting"
show_logs() {
  local f
  for f in frontend.log backend.log app.log tcpdump-wire.err tcpdump-lo.err; do
    [ -s "$WARD_TMP/$f" ] || continue
    echo "${B}--- $f${N} (last 25 lines)" >&2
    tail -n 25 "$WARD_TMP/$f" >&2
  done
}
fail() {
  trap - ERR
  echo >&2
  echo "${R}${B}demo failed${N}${R} while ${STEP}: $*${N}" >&2
  show_logs
  exit 1
}
trap 'fail "\`$BASH_COMMAND\` exited with status $? (in ${FUNCNAME[*]:0:${#FUNCNAME[@]}-1})"' ERR
trap 'trap - ERR; echo; echo "${Y}demo interrupted; cleaning up${N}" >&2; exit 130' INT TERM
trap 'ward_cleanup' EXIT

ok() { printf '  %s%-4s%s %-34s %s\n' "$G" ok "$N" "$1" "${D}${2:-}${N}"; }
row() { printf '  %s|%s %-21s %s\n' "$C" "$N" "$1" "$2"; }
box_top() {
  local t="-- $1 "
  printf '  %s+%s%s\n' "$C" "$t$(printf '%*s' $((74 - ${#t})) '' | tr ' ' -)" "$N"
}
box_end() { printf '  %s+%s%s\n' "$C" "$(printf '%74s' '' | tr ' ' -)" "$N"; }
ms() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", (e - s) / 1e6 }'; }

# Waits up to 5 s for CMD to succeed.
wait_for() {
  local _
  for _ in $(seq 1 100); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

# The last conn_close event of DIRECTION in an agent log, as shell variables PREFIX<key>.
conn_close_vars() {
  "$PY" - "$1" "$2" "$3" <<'PY'
import json, shlex, sys
path, direction, prefix = sys.argv[1:4]
ev = None
for line in open(path):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("event") == "conn_close" and o.get("direction") == direction:
        ev = o
if ev is None:
    sys.exit(1)
def show(key, v):
    if isinstance(v, dict):  # "app": {"addr": ...} -> PREFIXapp_addr
        for k2, v2 in v.items():
            show(key + "_" + k2, v2)
        return
    if isinstance(v, float):
        v = "%.2f" % v
    elif isinstance(v, bool):
        v = "yes" if v else "no"
    print("%s%s=%s" % (prefix, key, shlex.quote(str(v))))
for k, v in ev.items():
    show(k, v)
PY
}

# ---------------------------------------------------------------------------
need_root
for tool in ip iptables-restore tcpdump curl openssl ss "$PY"; do
  command -v "$tool" >/dev/null || [ -x "$tool" ] ||
    fail "$tool is not installed (make demo installs it: deploy/deps.sh test)"
done
[ -x "$WARD_BIN" ] || fail "no ward binary at $WARD_BIN (build it with make, or set WARD_BIN)"

pod_add frontend 1
pod_add backend 2
FE_IP=$(pod_ip frontend) BE_IP=$(pod_ip backend)
FE_ID=spiffe://example.org/ns/default/sa/frontend
BE_ID=spiffe://example.org/ns/default/sa/backend
FE_UID=1337 BE_UID=1338
MARKER="ward-demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

echo "${B}ward demo${N}: one plain HTTP request between two meshed pods"
echo
# Two columns, the left one padded to 44 visible characters (colour codes not counted).
col2() {
  local plain
  plain=$(printf '%s' "$1" | sed 's/\x1b\[[0-9;]*m//g')
  printf '  %s%*s%s\n' "$1" $((44 - ${#plain})) '' "$2"
}
col2 "pod ${B}frontend${N} $FE_IP" "pod ${B}backend${N} $BE_IP"
col2 "  curl http://$BE_IP:$PORT/hello" "  app: python HTTP server :$PORT"
col2 "    | iptables OUTPUT -> :15001" "    ^ iptables PREROUTING -> :15006"
col2 "    v" "    |"
col2 "  ward agent (uid $FE_UID) == mutual TLS 1.3 =>" "  ward agent (uid $BE_UID)"
col2 "" "${D}(via veth -- bridge br0 in netns $WARD_RUN-net -- veth)${N}" | sed 's/^ \{20\}//'
echo "  ${D}Neither app knows about TLS or certificates; curl speaks plain HTTP.${N}"
echo

STEP="starting ward server (CA + Workload API; one entry per pod, by the agent's uid)"
wlserver_config 3600 "$FE_UID:frontend" "$BE_UID:backend"
wlserver_start
ok "ward server" "unix:$FE_UID -> .../sa/frontend, unix:$BE_UID -> .../sa/backend"

STEP="starting the ward agents (ward iptables, then ward agent, in each pod)"
PROXY_UID=$FE_UID agent_start frontend "$(agent_config_wl frontend "$FE_UID")"
PROXY_UID=$BE_UID agent_start backend "$(agent_config_wl backend "$BE_UID")"
ok "ward iptables + agent in each pod" "pids $(agent_pid 1), $(agent_pid 2); log level debug"

STEP="fetching each agent's SVID from ward server's Workload API"
wait_log frontend 0 10 '"event":"identity_loaded"' "$FE_ID" >/dev/null
wait_log backend 0 10 '"event":"identity_loaded"' "$BE_ID" >/dev/null
ok "SVIDs over the Workload API" "$FE_ID, .../sa/backend"

STEP="starting the backend app"
cat >"$WARD_TMP/app.py" <<'PY'
import http.server, sys
log = open(sys.argv[1], "a", buffering=1)
class App(http.server.BaseHTTPRequestHandler):
    server_version, sys_version, protocol_version = "backend-app/1.0", "", "HTTP/1.1"
    def do_GET(self):
        body = b"hello from backend\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
    def log_request(self, code="-", size="-"):
        log.write('%s "%s" %s X-Demo-Secret: %s\n' % (self.client_address[0],
                  self.requestline, code, self.headers.get("X-Demo-Secret", "-")))
    def log_message(self, fmt, *args):
        log.write("error: " + fmt % args + "\n")
http.server.HTTPServer(("0.0.0.0", int(sys.argv[2])), App).serve_forever()
PY
pod_bg backend "$PY" "$WARD_TMP/app.py" "$WARD_TMP/app.log" "$PORT" 2>>"$WARD_TMP/app.log"
app_listening() { [ -n "$(pod backend ss -Hltn "sport = :$PORT")" ]; }
wait_for app_listening || fail "the app did not listen on :$PORT within 5 s"
ok "plain HTTP app in backend" "$BE_IP:$PORT"

STEP="starting tcpdump"
WIRE=$(pod_wire backend)
ip netns exec "$WARD_RUN-net" tcpdump -i "$WIRE" --immediate-mode -U -s 0 -Z root -w "$WARD_TMP/wire.pcap" tcp \
  2>"$WARD_TMP/tcpdump-wire.err" &
WARD_PIDS+=($!)
TD_WIRE=$!
ip netns exec "$WARD_RUN-backend" tcpdump -i lo --immediate-mode -U -s 0 -Z root -w "$WARD_TMP/lo.pcap" "tcp port $PORT" \
  2>"$WARD_TMP/tcpdump-lo.err" &
WARD_PIDS+=($!)
TD_LO=$!
td_ready() { grep -q listening "$WARD_TMP/tcpdump-wire.err" && grep -q listening "$WARD_TMP/tcpdump-lo.err"; }
wait_for td_ready || fail "tcpdump did not start"
ok "tcpdump on backend's wire and lo" "$WIRE in $WARD_RUN-net; lo in $WARD_RUN-backend"

STEP="sending the request"
curl_out=$(pod frontend curl -sS --max-time 5 -o "$WARD_TMP/body" -D "$WARD_TMP/headers" \
  -H "X-Demo-Secret: $MARKER" \
  -w '%{http_code} %{size_request} %{size_header} %{size_download}' \
  "http://$BE_IP:$PORT/hello" 2>"$WARD_TMP/curl.err") ||
  fail "curl failed: $(cat "$WARD_TMP/curl.err")"
read -r http_code c_req c_hdr c_body <<<"$curl_out"
status_line=$(head -n 1 "$WARD_TMP/headers" | tr -d '\r')
body=$(tr -d '\n' <"$WARD_TMP/body")
ok "curl -H 'X-Demo-Secret: $MARKER'" "$status_line"
[ "$http_code" = 200 ] || fail "expected HTTP 200, curl got: $status_line"

STEP="collecting what the agents logged"
closed() { grep -q '"event":"conn_close"' "$WARD_TMP/frontend.log" && grep -q '"event":"conn_close"' "$WARD_TMP/backend.log"; }
wait_for closed || fail "no conn_close event in the agents' logs within 5 s"
# SIGTERM: background jobs of a non-interactive shell ignore SIGINT.
kill -TERM "$TD_WIRE" "$TD_LO" 2>/dev/null || true
wait "$TD_WIRE" 2>/dev/null || true
wait "$TD_LO" 2>/dev/null || true
vars=$(conn_close_vars "$WARD_TMP/frontend.log" outbound fe_) || fail "frontend logged no outbound conn_close"
eval "$vars"
vars=$(conn_close_vars "$WARD_TMP/backend.log" inbound be_) || fail "backend logged no inbound conn_close"
eval "$vars"
STEP="reading the captures"
vars=$("$PY" "$WARD_ROOT/tests/e2e/tlswire.py" "$WARD_TMP/wire.pcap" --port "$PORT" \
  --marker "$MARKER" --format shell --prefix w_)
eval "$vars"
vars=$("$PY" "$WARD_ROOT/tests/e2e/tlswire.py" "$WARD_TMP/lo.pcap" --port "$PORT" \
  --marker "$MARKER" --format shell --prefix lo_)
eval "$vars"
for v in fe_peer_id fe_mode fe_tls_version fe_cipher fe_group fe_connect_ms fe_handshake_ms \
  fe_bytes_to_peer fe_bytes_from_peer be_peer_id be_mode be_cipher be_group be_app_addr \
  be_app_via be_app_source be_app_proxy_header be_app_preserve_source; do
  [ -n "${!v:-}" ] || fail "the agents' conn_close events lack ${v#*_} (see the logs below)"
done
app_line=$(grep -m1 -F "$MARKER" "$WARD_TMP/app.log" || true)
# The key shares the ClientHello carried, with their sizes: "X25519MLKEM768 1216 B, x25519 32 B".
shares=$(paste -d' ' <(tr ' ' '\n' <<<"$w_client_hello_key_shares") \
  <(tr ' ' '\n' <<<"$w_client_hello_key_share_bytes") | sed 's/$/ B/' | paste -sd, - | sed 's/,/, /g')
case "$fe_group" in
  *MLKEM*) pq=yes kx_what="ECDH and ML-KEM (FIPS 203) together: post-quantum hybrid" ;;
  *) pq=no kx_what="ECDH only: this build's wolfSSL has no ML-KEM" ;;
esac

echo
box_top "the request, as the two agents saw it"
row "client identity" "$be_peer_id  ${D}(verified by backend's agent)${N}"
row "server identity" "$fe_peer_id  ${D}(verified by frontend's agent)${N}"
row "TLS" "$fe_tls_version  $fe_cipher"
row "key exchange" "$fe_group  ${D}($kx_what)${N}"
if [ "$pq" = yes ]; then
  row "" "${D}why it matters: a recording of this traffic stays secret even once a large${N}"
  row "" "${D}quantum computer exists (\"harvest now, decrypt later\"); X25519 alone would not${N}"
else
  row "" "${D}why it matters: a recording of this traffic could be decrypted once a large${N}"
  row "" "${D}quantum computer exists; build ward's own wolfSSL (make) for X25519MLKEM768${N}"
fi
row "TCP connect" "$fe_connect_ms ms  ${D}(frontend's agent to $BE_IP:$PORT)${N}"
row "TLS handshake" "$fe_handshake_ms ms  ${D}(measured by frontend's agent, the TLS client)${N}"
row "bytes, app's view" "frontend -> backend $fe_bytes_to_peer B, backend -> frontend $fe_bytes_from_peer B"
row "" "${D}(curl sent $c_req B, received $((c_hdr + c_body)) B)${N}"
row "curl got" "$status_line  ${D}body: \"$body\"${N}"
row "the app" "reached at $be_app_addr ($([ "$be_app_via" = pod_ip ] && echo "its pod IP" || echo loopback)), PROXY header: $be_app_proxy_header, source preserved: $be_app_preserve_source"
row "" "${D}(it sees $be_app_source, backend's agent, as its client; see README \"What the app sees\")${N}"
box_end
echo
box_top "on the wire: tcpdump on backend's veth $WIRE (netns $WARD_RUN-net)"
row "TCP" "$w_packets packets, $w_tcp_streams connection$([ "$w_tcp_streams" = 1 ] || echo s), frontend -> backend:$PORT"
row "bytes on the wire" "frontend -> backend $w_bytes_client_to_server B, backend -> frontend $w_bytes_server_to_client B"
row "TLS records" "handshake $w_records_handshake, application data $w_records_application_data, alert $w_records_alert, change_cipher_spec $w_records_change_cipher_spec"
row "" "${D}(after the ServerHello TLS 1.3 encrypts everything: certificates, Finished${N}"
row "" "${D} and close_notify alerts are all counted as application data records)${N}"
row "bytes not in a record" "$w_non_tls_bytes"
row "ClientHello" "$w_client_hello_first_bytes ..."
row "" "${D}16 = handshake record, ${w_client_hello_first_bytes:3:5} = record version, ${w_client_hello_first_bytes:9:5} = length $w_client_hello_record_length, 01 = ClientHello${N}"
row "" "${D}offers $w_client_hello_supported_versions, key shares $shares,${N}"
row "" "${D}cipher suites ${w_client_hello_cipher_suites// /, }${N}"
row "ServerHello" "picks $w_server_hello_version, $w_server_hello_cipher, $w_server_hello_group ($w_server_hello_group_id)"
row "" "${D}$w_client_hellos ClientHello, $w_hello_retry_requests HelloRetryRequest: one round trip${N}"
if [ "$w_marker_found" = no ]; then
  printf '  %s|%s %splaintext marker found on the wire: %sno%s\n' "$C" "$N" "$B" "$G" "$N"
else
  printf '  %s|%s %splaintext marker found on the wire: %sYES%s\n' "$C" "$N" "$B" "$R" "$N"
fi
box_end
echo "  for contrast, the same marker ($MARKER) where the traffic is plain:"
row "backend's lo" "agent -> app inside the pod: $((lo_bytes_client_to_server + lo_bytes_server_to_client)) B of plain HTTP, marker found: $lo_marker_found"
row "backend app's log" "${app_line:-(no line with the marker)}"
row "" "${D}(the app sees its own pod's agent, at the pod IP, as the client)${N}"
echo

STEP="checking the results"
problems=()
[ "$fe_peer_id" = "$BE_ID" ] || problems+=("frontend's agent saw server $fe_peer_id, expected $BE_ID")
[ "$be_peer_id" = "$FE_ID" ] || problems+=("backend's agent saw client $be_peer_id, expected $FE_ID")
[ "$fe_mode" = mtls ] && [ "$be_mode" = mtls ] || problems+=("connection mode ${fe_mode}/${be_mode}, expected mtls")
[ "$fe_tls_version" = TLSv1.3 ] || problems+=("TLS version $fe_tls_version")
[ "$fe_cipher" = "$be_cipher" ] && [ "$fe_cipher" = "$w_server_hello_cipher" ] ||
  problems+=("cipher disagrees: frontend $fe_cipher, backend $be_cipher, wire $w_server_hello_cipher")
[ "$fe_group" = "$w_server_hello_group" ] && [ "$be_group" = "$fe_group" ] ||
  problems+=("group disagrees: frontend $fe_group, backend $be_group, wire $w_server_hello_group")
[ "$w_hello_retry_requests" = 0 ] || problems+=("the server asked for another key share (HelloRetryRequest)")
[ "$fe_bytes_to_peer" = "$c_req" ] || problems+=("frontend's agent relayed $fe_bytes_to_peer B, curl sent $c_req B")
[ "$fe_bytes_from_peer" = $((c_hdr + c_body)) ] || problems+=("frontend's agent relayed $fe_bytes_from_peer B back, curl got $((c_hdr + c_body)) B")
[ -n "$w_client_hello_first_bytes" ] || problems+=("no ClientHello in the wire capture")
[ "$w_records_application_data" -gt 0 ] || problems+=("no application data records in the wire capture")
[ "$w_non_tls_bytes" = 0 ] || problems+=("$w_non_tls_bytes bytes on the wire are not TLS records")
[ "$w_marker_found" = no ] || problems+=("PLAINTEXT ON THE WIRE: the marker was found in the capture")
[ "$lo_marker_found" = yes ] || problems+=("the marker was not seen on backend's lo (the contrast capture missed the request)")
[ -n "$app_line" ] || problems+=("the app's log has no line with the marker")
[ "$be_app_addr" = "$BE_IP:$PORT" ] && [ "$be_app_via" = pod_ip ] ||
  problems+=("backend's agent reached the app at $be_app_addr ($be_app_via), expected $BE_IP:$PORT (pod_ip)")
[ "${app_line%% *}" = "${be_app_source%:*}" ] ||
  problems+=("the app logged client ${app_line%% *}, backend's agent says it saw ${be_app_source%:*}")
if [ ${#problems[@]} -gt 0 ]; then
  for p in "${problems[@]}"; do echo "  ${R}x${N} $p" >&2; done
  fail "${#problems[@]} check(s) failed"
fi
echo "${G}${B}demo ok${N}: the request went through mutual TLS 1.3 between two SPIFFE identities, keys agreed with $fe_group$([ "$pq" = yes ] && echo " (post-quantum)"), and only TLS crossed the wire ($(ms "$T0" "$(date +%s%N)") ms)."
