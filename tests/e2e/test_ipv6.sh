#!/usr/bin/env bash
# IPv6 through the mesh: ip6tables capture, IP6T_SO_ORIGINAL_DST, the [::]
# twin listener, and the inbound hop to the app at its v6 pod IP.
source "$(dirname "$0")/lib.sh"
trap ward_cleanup EXIT
need_root

pod_add a 1
pod_add b 2
pod a ip addr add "fd00:$WARD_NET::1/64" dev eth0 nodad
pod b ip addr add "fd00:$WARD_NET::2/64" dev eth0 nodad
certs_for a b
agent_start a "$(agent_config a)"
agent_start b "$(agent_config b)"
echo "ipv6-through-ward" >"$WARD_TMP/index.html"
pod_bg b /usr/bin/python3 -m http.server 8080 --directory "$WARD_TMP" --bind :: 2>/dev/null
wait_port b 8080

body=$(pod a curl -sS --max-time 5 "http://[fd00:$WARD_NET::2]:8080/index.html" || true)
sleep 0.2
check "IPv6 request answered through the mesh" test "$body" = "ipv6-through-ward"
check "outbound side used mTLS to the v6 destination" \
  grep -q "\"dst\":\"\[fd00:$WARD_NET::2\]:8080\".*\"peer_id\":\"spiffe://example.org/ns/default/sa/b\".*\"mode\":\"mtls\"" "$WARD_TMP/a.log"
check "inbound side verified the client over v6" \
  grep -q '"direction":"inbound".*"peer_id":"spiffe://example.org/ns/default/sa/a".*"tls_version":"TLSv1.3"' "$WARD_TMP/b.log"
check "ip6tables rules installed" sh -c "ip netns exec $WARD_RUN-b ip6tables-save -t nat | grep -q WARD_INBOUND"
summary "ipv6 e2e"
