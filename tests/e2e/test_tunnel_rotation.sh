#!/usr/bin/env bash
# e2e: tunnel connections never outlive the SVIDs that authenticated them.
# Two pods on `ward server` with SVIDs rotating every 2 s (4 s TTL, renewed at
# half), a new-connection load through the tunnel and one long-lived stream:
# every rotation drains the pooled connections made with the old SVID
# (GOAWAY; closed once their streams end), new streams go to connections
# made with the new one, no request fails and the long-lived stream lives on.
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT

CLIENT_UID=1337
SERVER_UID=1338
count() { grep -c -F -- "$2" "$WARD_TMP/$1.log" || true; }
metric() { # POD NAME{LABELS}
  pod "$1" curl -sS --max-time 3 http://127.0.0.1:15020/metrics |
    awk -v k="$2" '$1 == k {print $2}'
}

pod_add client 1
pod_add server 2
wlserver_config 4 "$CLIENT_UID:client" "$SERVER_UID:server"
wlserver_start
serve server echo 8080
PROXY_UID=$CLIENT_UID agent_start client "$(agent_config_wl client $CLIENT_UID)"
PROXY_UID=$SERVER_UID agent_start server "$(agent_config_wl server $SERVER_UID)"
check "client agent has its SVID" wait_log client 0 10 '"event":"identity_loaded"' 'sa/client'
check "server agent has its SVID" wait_log server 0 10 '"event":"identity_loaded"' 'sa/server'
S=$(pod_ip server)

check "a request goes through the tunnel" mesh client send "$S" 8080 hello
check "... as a tunnel stream" wait_log client 0 3 '"event":"conn_close"' '"mode":"tunnel"'

echo "== rotation under a new-connection load"
rot_client=$(count client '"event":"identity_rotated"')
rot_server=$(count server '"event":"identity_rotated"')
mc=$(log_mark client) ms=$(log_mark server)
hold_open h1 client "$S" 8080
pod_bg client "$WARD_PY" "$WARD_MESH_PY" load "$S" 8080 "$WARD_TMP/stop" >"$WARD_TMP/load.out" 2>&1
load_pid=${WARD_PIDS[-1]}
for i in $(seq 1 20); do
  sleep 0.5
  hold_ping h1 "ping-$i" >/dev/null || echo "  ping $i failed" >&2
done
touch "$WARD_TMP/stop"
load_rc=0
wait "$load_pid" || load_rc=$?
cat "$WARD_TMP/load.out"
check "zero failed requests through four or more rotations" test "$load_rc" -eq 0
check "client rotated at least 4 times" \
  test "$(count client '"event":"identity_rotated"')" -ge $((rot_client + 4))
check "server rotated at least 4 times" \
  test "$(count server '"event":"identity_rotated"')" -ge $((rot_server + 4))
# Both agents rotate within a few ms of each other: whichever changes SVID
# first drains (svid_rotated) and its GOAWAY drains the other side.
drains() { log_since "$1" "$2" | grep '"event":"tunnel_drain"' | grep -c -- "$3" || true; }
check "the client drained a connection at each rotation (its SVID's or the server's)" \
  test "$(drains client "$mc" '"reason":"\(svid_rotated\|peer sent GOAWAY\)"')" -ge 3
check "the server did too" \
  test "$(drains server "$ms" '"reason":"\(svid_rotated\|peer sent GOAWAY\)"')" -ge 3
check "and the side whose SVID changed first drained for that reason" \
  test "$(($(drains client "$mc" svid_rotated) + $(drains server "$ms" svid_rotated)))" -ge 3
check "new streams went to new connections" \
  test "$(log_since client "$mc" | grep '"event":"conn_close"' | grep -o '"tunnel":[0-9]*' |
    sort -u | wc -l)" -ge 4
check "drained connections were closed" \
  test "$(log_since client "$mc" | grep -c '"event":"tunnel_close"')" -ge 3
check "the long-lived stream survived every rotation" hold_ping h1 after-rotations
check "the long-lived stream closes cleanly" hold_quit h1
sleep 1.5
check "what is left: at most the current connection and one draining" \
  test "$(metric client 'ward_tunnel_connections{direction="outbound"}')" -le 2
check "no tunnel stream failed" \
  test "$(metric client 'ward_tunnel_streams_total{direction="outbound",result="failed"}')" = 0
check "no handshake failed" test "$(grep -h '"event":"handshake_failed"' "$WARD_TMP/client.log" \
  "$WARD_TMP/server.log" | wc -l)" -eq 0

summary "tunnel rotation e2e"
