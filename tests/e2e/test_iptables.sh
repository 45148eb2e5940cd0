#!/usr/bin/env bash
# e2e: `ward iptables` in a throwaway network namespace (a "pod") wired to a
# peer namespace by a veth pair. Checks the rules iptables-save shows, that
# re-runs and --cleanup leave exactly what they should, the error without
# CAP_NET_ADMIN, and that real connections are captured (or not) as designed.
# Needs root. WARD overrides the binary (default build/ward).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ward=$(realpath "${WARD_BIN:-${WARD:-$root/build/ward}}")
ns=ward-ipt-$$
peer=ward-ipt-$$-peer
tmp=$(mktemp -d /tmp/ward-ipt-e2e.XXXXXX)
pass=0 fail=0 done=0
pids=()
# The listeners run as other uids, who may not reach a python in root's home.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

if [ "$(id -u)" -ne 0 ]; then
  echo "iptables e2e: needs root" >&2
  exit 1
fi
[ -x "$ward" ] || { echo "iptables e2e: $ward not built" >&2; exit 1; }

cleanup() {
  [ "$done" -eq 1 ] || echo "iptables e2e: $pass passed, $((fail + 1)) failed (aborted)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$peer" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

in_ns() { ip netns exec "$ns" "$@"; }
in_peer() { ip netns exec "$peer" "$@"; }
nobody=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all)
ward_ipt() { in_ns "$ward" iptables "$@"; }
# The nat table without comments and counters, so snapshots compare.
nat4() { in_ns iptables-save -t nat | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
filter4() { in_ns iptables-save -t filter | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
GUARD_JUMP='-A OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j WARD_GUARD'
nat6() { in_ns ip6tables-save -t nat | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
count() { grep -cxF -- "$1" || true; }

check() {
  local what=$1
  shift
  if "$@"; then
    pass=$((pass + 1))
    echo "ok   $what"
  else
    fail=$((fail + 1))
    echo "FAIL $what" >&2
  fi
}

# "serve PORT TAG": answers each connection with "TAG <original dst>" (from
# SO_ORIGINAL_DST), or "TAG direct" when nothing rewrote it, and closes. "get HOST PORT": prints the first line.
cat >"$tmp/tcp.py" <<'EOF'
import socket, struct, sys
if sys.argv[1] == "serve":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen(16)
    while True:
        c, _ = s.accept()
        here = "%s:%d" % c.getsockname()
        try:
            d = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
            dst = "%s:%d" % (socket.inet_ntoa(d[4:8]), struct.unpack("!H", d[2:4])[0])
        except OSError:  # no conntrack entry: nothing rewrote it
            dst = here
        dst = "direct" if dst == here else dst
        c.sendall(("%s %s\n" % (sys.argv[3], dst)).encode())
        c.close()
else:
    try:
        c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3)
        print(c.makefile().readline().strip())
    except OSError as e:
        print("error %s" % e)
EOF
chmod 0755 "$tmp"
chmod 0644 "$tmp/tcp.py"

serve() { # serve NS UID PORT TAG
  ip netns exec "$1" setpriv --reuid "$2" --regid "$2" --clear-groups \
    "$py" "$tmp/tcp.py" serve "$3" "$4" &
  pids+=($!)
  for _ in $(seq 50); do
    ip netns exec "$1" ss -Hltn "sport = :$3" | grep -q . && return 0
    sleep 0.1
  done
  echo "listener on $3 did not come up" >&2
  return 1
}
get() { # get NS UID GID HOST PORT
  ip netns exec "$1" setpriv --reuid "$2" --regid "$3" --clear-groups \
    "$py" "$tmp/tcp.py" get "$4" "$5"
}
answer_is() { # answer_is EXPECTED NS UID GID HOST PORT
  local want=$1 got
  shift
  got=$(get "$@")
  [ "$got" = "$want" ] || { echo "  expected '$want', got '$got'" >&2; return 1; }
}

ip netns add "$ns"
ip netns add "$peer"
in_ns ip link set lo up
in_peer ip link set lo up
ip link add wardipt$$a netns "$ns" type veth peer name wardipt$$b netns "$peer"
in_ns ip addr add 10.99.0.1/24 dev wardipt$$a
in_peer ip addr add 10.99.0.2/24 dev wardipt$$b
in_ns ip link set wardipt$$a up
in_peer ip link set wardipt$$b up
# Someone else's rules, which ward must leave alone.
in_ns iptables -t nat -N USER_CHAIN
in_ns iptables -t nat -A OUTPUT -p udp --dport 53 -j USER_CHAIN
user_rules=$(nat4 | grep -e USER_CHAIN)

# --- dry run: prints both families, changes nothing, needs no privileges
before=$(nat4)
dry=$(ward_ipt --dry-run)
check "dry run prints v4 and v6 input (nat and filter each)" \
  test "$(grep -c '^COMMIT$' <<<"$dry")" -eq 4
check "dry run prints the jumps" \
  test "$(count '-A OUTPUT -p tcp -j WARD_OUTPUT' <<<"$dry")" -eq 2
check "dry run changes nothing" test "$(nat4)" = "$before"
check "dry run works without privileges" in_ns "${nobody[@]}" "$ward" iptables --dry-run >/dev/null

# --- install
ward_ipt
rules=$(nat4)
check "four WARD_ chains" test "$(grep -c '^:WARD_' <<<"$rules")" -eq 4
check "one PREROUTING jump" \
  test "$(count '-A PREROUTING -p tcp -j WARD_INBOUND' <<<"$rules")" -eq 1
check "one OUTPUT jump" test "$(count '-A OUTPUT -p tcp -j WARD_OUTPUT' <<<"$rules")" -eq 1
check "proxy uid excluded" \
  test "$(count '-A WARD_OUTPUT -m owner --uid-owner 1337 -j RETURN' <<<"$rules")" -eq 1
check "proxy gid excluded" \
  test "$(count '-A WARD_OUTPUT -m owner --gid-owner 1337 -j RETURN' <<<"$rules")" -eq 1
check "loopback excluded" test "$(count '-A WARD_OUTPUT -o lo -j RETURN' <<<"$rules")" -eq 1
check "admin port excluded" \
  test "$(count '-A WARD_INBOUND -p tcp -m tcp --dport 15020 -j RETURN' <<<"$rules")" -eq 1
check "tunnel port excluded" \
  test "$(count '-A WARD_INBOUND -p tcp -m tcp --dport 15008 -j RETURN' <<<"$rules")" -eq 1
check "inbound redirect to 15006" \
  test "$(count '-A WARD_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006' <<<"$rules")" -eq 1
check "outbound redirect to 15001" \
  test "$(count '-A WARD_REDIRECT -p tcp -j REDIRECT --to-ports 15001' <<<"$rules")" -eq 1
check "IPv6 rules too (lo has ::1)" \
  test "$(nat6 | count '-A OUTPUT -p tcp -j WARD_OUTPUT')" -eq 1
check "other rules untouched" test "$(nat4 | grep -e USER_CHAIN)" = "$user_rules"
guard=$(filter4)
check "fail-closed: one jump to WARD_GUARD, first in filter OUTPUT" \
  test "$(grep '^-A OUTPUT' <<<"$guard" | head -1)" = "$GUARD_JUMP"
check "fail-closed: the guard refuses what capture would take" \
  test "$(count '-A WARD_GUARD -p tcp -j REJECT --reject-with tcp-reset' <<<"$guard")" -eq 1
check "fail-closed: IPv6 too" \
  test "$(in_ns ip6tables-save -t filter | count "$GUARD_JUMP")" -eq 1

# --- idempotent
ward_ipt
check "second run leaves the same rules" test "$(nat4)" = "$rules"
check "second run: the same guard" test "$(filter4)" = "$guard"
check "second run: one v6 jump" test "$(nat6 | count '-A OUTPUT -p tcp -j WARD_OUTPUT')" -eq 1
# A duplicate jump (say, from an older tool) is folded back into one.
in_ns iptables -t nat -A OUTPUT -p tcp -j WARD_OUTPUT
ward_ipt
check "duplicate jump folded into one" test "$(nat4)" = "$rules"

# --- no CAP_NET_ADMIN
if out=$(in_ns "${nobody[@]}" "$ward" iptables 2>&1); then rc=0; else rc=$?; fi
check "without CAP_NET_ADMIN: non-zero exit" test "$rc" -ne 0
check "without CAP_NET_ADMIN: clear message" grep -qF \
  "ward iptables: not permitted to change iptables rules (needs CAP_NET_ADMIN in the pod's network namespace)" \
  <<<"$out"
check "without CAP_NET_ADMIN: child's stderr forwarded" grep -q "Permission denied" <<<"$out"
check "without CAP_NET_ADMIN: rules unchanged" test "$(nat4)" = "$rules"

# --- missing binary (the sbin directories hidden in a private mount namespace)
if out=$(in_ns unshare -m sh -c \
  'mount -t tmpfs none /usr/sbin && mount -t tmpfs none /usr/local/sbin && exec "$0" iptables' \
  "$ward" 2>&1); then rc=0; else rc=$?; fi
check "missing iptables-restore is named" \
  test "$rc" -ne 0 -a -n "$(grep 'iptables-restore not found' <<<"$out")"

# --- bad value
if out=$(ward_ipt --exclude-outbound-cidrs 10.0.0.0/33 2>&1); then rc=0; else rc=$?; fi
check "bad CIDR: exit 2 naming option and value" \
  test "$rc" -eq 2 -a -n "$(grep -F -- "--exclude-outbound-cidrs '10.0.0.0/33'" <<<"$out")"

# --- real capture through the veth
serve "$peer" 0 80 peer
serve "$peer" 0 8080 peer
serve "$ns" 1337 15001 outbound
serve "$ns" 1337 15006 inbound
serve "$ns" 1337 15020 admin
serve "$ns" 0 8081 local
check "app's connection captured to the outbound port" \
  answer_is "outbound 10.99.0.2:80" "$ns" 1000 1000 10.99.0.2 80
check "proxy uid's connection not captured" answer_is "peer direct" "$ns" 1337 1337 10.99.0.2 80
check "proxy gid's connection not captured" answer_is "peer direct" "$ns" 1000 1337 10.99.0.2 80
check "localhost not captured" answer_is "local direct" "$ns" 1000 1000 127.0.0.1 8081
check "inbound captured to the inbound port" \
  answer_is "inbound 10.99.0.1:8080" "$peer" 0 0 10.99.0.1 8080
check "admin port not captured inbound" answer_is "admin direct" "$peer" 0 0 10.99.0.1 15020
# The peer's own nat table is empty, so 8080 there is a plain connection.
check "peer itself not captured" answer_is "peer direct" "$peer" 0 0 10.99.0.2 8080

ward_ipt --exclude-outbound-ports 80 --exclude-inbound-ports 8080
check "excluded outbound port not captured" answer_is "peer direct" "$ns" 1000 1000 10.99.0.2 80
check "excluded inbound port not captured" \
  answer_is "error [Errno 111] Connection refused" "$peer" 0 0 10.99.0.1 8080
ward_ipt --exclude-outbound-cidrs 10.99.0.0/24
check "excluded CIDR not captured" answer_is "peer direct" "$ns" 1000 1000 10.99.0.2 80
ward_ipt --include-outbound-cidrs 10.99.0.2/32 --include-outbound-ports 80
check "included CIDR and port captured" \
  answer_is "outbound 10.99.0.2:80" "$ns" 1000 1000 10.99.0.2 80
check "port outside the include list not captured" \
  answer_is "peer direct" "$ns" 1000 1000 10.99.0.2 8080

# --- cleanup
ward_ipt --cleanup
after=$(nat4)
check "cleanup: no WARD_ chains or jumps (v4)" test -z "$(grep WARD_ <<<"$after")"
check "cleanup: no WARD_ chains or jumps (v6)" test -z "$(nat6 | grep WARD_)"
check "cleanup: no guard (v4, v6)" \
  test -z "$(filter4 | grep WARD_)$(in_ns ip6tables-save -t filter | grep WARD_)"
check "cleanup: other rules untouched" test "$(grep -e USER_CHAIN <<<"$after")" = "$user_rules"
check "cleanup: traffic flows uncaptured" answer_is "peer direct" "$ns" 1000 1000 10.99.0.2 80
check "cleanup with nothing to remove succeeds" ward_ipt --cleanup
check "cleanup twice changes nothing" test "$(nat4)" = "$after"

done=1
echo "iptables e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
