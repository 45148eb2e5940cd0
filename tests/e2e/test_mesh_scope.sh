#!/usr/bin/env bash
# The mesh scope (issue 16, item 2): which outbound destinations get mTLS.
# From a meshed pod with the default scope (the private ranges), a meshed pod
# gets mTLS, an unmeshed plaintext server outside the scope (a public address)
# keeps working, and an unmeshed plaintext server inside the scope is refused,
# never downgraded, with reason not_tls, its first bytes and a hint. With the
# scope set once in the injector config (`mesh_cidrs`, reaching the agent as
# --override outbound.mesh_cidrs), a server left out of it works in plaintext.
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT

EXT=198.51.100.4 # TEST-NET-2: outside every private range
pod_add client 1
pod_add server 2
pod_add db 3
pod_add ext 4
S=$(pod_ip server)
DB=$(pod_ip db)
pod ext ip addr add "$EXT/24" dev eth0
pod client ip route add 198.51.100.0/24 dev eth0
certs_for client server
serve server echo 8080
serve db banner 5432 # a server-first plaintext protocol (SMTP, MySQL, ...)
serve ext echo 5432
agent_start server "$(agent_config server)"

metric() { pod client curl -s http://127.0.0.1:15020/metrics | grep -F "$1" | awk '{print $2}'; }
mode_logged() { # MARK DST MODE: a conn_close for DST in MODE after MARK
  wait_log client "$1" 5 '"event":"conn_close"' "\"dst\":\"$2\"" "\"mode\":\"$3\""
}

echo "== the default scope"
agent_start client "$(agent_config client)"
check "the ready line shows the scope" log_grep client 0 '"event":"ready"' \
  '"mesh_cidrs":["10.0.0.0/8","100.64.0.0/10","172.16.0.0/12","192.168.0.0/16","fd00::/8"]'
mark=$(log_mark client)
check "meshed server: a request flows" mesh client send "$S" 8080 hello
check "... over mTLS" mode_logged "$mark" "$S:8080" mtls
check "unmeshed server outside the scope: a request flows" mesh client send "$EXT" 5432 hello
check "... in plaintext, as it was" mode_logged "$mark" "$EXT:5432" passthrough
refused() { ! mesh client banner-get "$DB" 5432 >/dev/null 2>&1; }
check "unmeshed server inside the scope: refused, not downgraded" refused
check "... logged as not_tls with its first bytes and a hint" wait_log client "$mark" 5 \
  '"event":"handshake_failed"' "\"dst\":\"$DB:5432\"" '"reason":"not_tls"' \
  'the destination sent plaintext, not TLS (first bytes \"220 ward\")' \
  '"hint":"a destination without a ward sidecar' 'outbound.mesh_cidrs'
check "... never as protocol_version" not_logged client protocol_version
check "... counted as not_tls" \
  test "$(metric 'ward_tls_handshake_errors_total{direction="outbound",reason="not_tls"}')" -ge 1

echo "== the scope from the injector config"
# The injector's mesh_cidrs: only the server's address is meshed.
printf '{ "mesh_cidrs": "%s/32" }\n' "$S" >"$WARD_TMP/injector.json"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: client}\nspec:\n  containers: [{name: app, image: app}]\n' \
  >"$WARD_TMP/pod.yaml"
"$WARD_BIN" inject --config "$WARD_TMP/injector.json" -f "$WARD_TMP/pod.yaml" >"$WARD_TMP/injected.yaml"
override=$("$WARD_PY" - "$WARD_TMP/injected.yaml" <<'PY'
import sys, yaml
pod = yaml.safe_load(open(sys.argv[1]))
cmd = [c for c in pod["spec"]["initContainers"] if c["name"] == "ward-proxy"][0]["command"]
print(cmd[cmd.index("--override") + 1])
PY
)
check "the injector passes the scope to the agent" \
  test "$override" = "{\"proxy\":{\"uid\":1337,\"gid\":1337},\"outbound\":{\"mesh_cidrs\":[\"$S/32\"]}}"
kill "${WARD_PIDS[-1]}"
wait "${WARD_PIDS[-1]}" 2>/dev/null || true
pod client "$WARD_BIN" iptables --cleanup >/dev/null
mark=$(log_mark client)
pod_bg client "$WARD_BIN" agent --config "$WARD_TMP/client.json" --override "$override" \
  2>>"$WARD_TMP/client.log"
pod client "$WARD_BIN" iptables --proxy-uid "$PROXY_UID" >/dev/null
check "the agent runs with the injected scope" \
  wait_log client "$mark" 5 '"event":"ready"' "\"mesh_cidrs\":[\"$S/32\"]"
check "meshed server: still mTLS" mesh client send "$S" 8080 again
check "... logged as mTLS" mode_logged "$mark" "$S:8080" mtls
check "the server left out of the scope now works in plaintext" mesh client banner-get "$DB" 5432
check "... as passthrough" mode_logged "$mark" "$DB:5432" passthrough

summary "mesh scope e2e"
