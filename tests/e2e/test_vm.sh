#!/usr/bin/env bash
# ward on a VM or bare host (issue 16, item 4): `make install` and the systemd
# units it installs (checked with systemd-analyze verify; systemd itself is
# not run), the capture unit's command line run as written, and `ward
# iptables` from an SSH session: it refuses to capture the session's port
# inbound without an explicit choice. Needs root (namespaces, iptables).
source "$(dirname "$0")/lib.sh"
need_root
trap ward_cleanup EXIT

echo "== make install / uninstall"
P=$WARD_TMP/prefix
ETC=$WARD_TMP/etc
install_to() { make -C "$WARD_ROOT" --no-print-directory install PREFIX="$P" SYSCONFDIR="$ETC" \
  DESTDIR="${1:-}" >"$WARD_TMP/install.log" 2>&1; }
check "make install PREFIX=... SYSCONFDIR=..." install_to
UNITS=("$P"/lib/systemd/system/ward-{agent,capture,server}.service)
check "the binary" test -x "$P/bin/ward"
check "three units, the sysusers file" ls "${UNITS[@]}" "$P/lib/sysusers.d/ward.conf"
check "the units name this prefix's binary and configs" \
  bash -c 'grep -q "^ExecStart=$1/bin/ward agent --config $2/ward/agent.json$" "$3"' \
  _ "$P" "$ETC" "${UNITS[0]}"
check "no placeholder left" bash -c '! grep -l "@[A-Z]*@" "$@"' _ "${UNITS[@]}"
check "systemd-analyze verify: no error, no warning" \
  bash -c 'out=$(systemd-analyze verify "$@" 2>&1) && [ -z "$out" ] || { echo "$out" >&2; exit 1; }' \
  _ "${UNITS[@]}"
has_lines() { # FILE LINE...: every LINE is a whole line of FILE
  local f=$1 l
  shift
  for l in "$@"; do grep -qxF -- "$l" "$f" || { echo "  $f: no line '$l'" >&2; return 1; }; done
}
check "the server unit: its user, only CAP_SYS_PTRACE, restart, LimitNOFILE" \
  has_lines "${UNITS[2]}" User=ward-server CapabilityBoundingSet=CAP_SYS_PTRACE \
  AmbientCapabilities=CAP_SYS_PTRACE Restart=on-failure LimitNOFILE=65536 StateDirectoryMode=0700
check "the agent unit: the ward user, no capability, LimitNOFILE, restart" \
  has_lines "${UNITS[0]}" User=ward CapabilityBoundingSet= AmbientCapabilities= \
  LimitNOFILE=65536 Restart=always NoNewPrivileges=yes
check "the capture unit: root with only NET_ADMIN and NET_RAW, undone on stop" \
  has_lines "${UNITS[1]}" 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW' RemainAfterExit=yes \
  "ExecStop=$P/bin/ward iptables --cleanup"
check "the configs under SYSCONFDIR/ward" ls "$ETC"/ward/{agent.json,server.json,entries.json,capture.env}
check "the installed server config passes ward server --check, writing nothing" \
  bash -c '"$1" server --config "$2/ward/server.json" --check | grep -q "^config ok: trust domain example.org, 1 entries"' \
  _ "$P/bin/ward" "$ETC"
echo '{"trust_domain": "mine.org"}' >"$ETC/ward/agent.json"
check "installing again keeps edited configs" install_to
check "  (agent.json as edited)" grep -q mine.org "$ETC/ward/agent.json"
check "DESTDIR stages everything under it" install_to "$WARD_TMP/stage"
check "  (binary and units)" ls "$WARD_TMP/stage$P/bin/ward" "$WARD_TMP/stage${UNITS[0]}"
check "make uninstall" make -C "$WARD_ROOT" --no-print-directory uninstall PREFIX="$P" \
  SYSCONFDIR="$ETC" >/dev/null
check "  removes the binary, units and examples" \
  bash -c '[ -z "$(find "$1" -type f)" ]' _ "$P"
check "  leaves the configs" test -s "$ETC/ward/agent.json"

echo "== the capture unit's command, as written"
pod_add host 1
pod_add peer 2
H=$(pod_ip host)
# Its ExecStart and ExecStop, with the capture.env shipped, run in the pod;
# `id` answers for a ward user of uid/gid 1337 (this machine may have none).
install_to
mkdir -p "$WARD_TMP/fakebin"
printf '#!/bin/sh\necho 1337\n' >"$WARD_TMP/fakebin/id"
chmod +x "$WARD_TMP/fakebin/id"
unit_cmd() { # KEY: the command line of KEY= in the capture unit
  sed -n "s/^$1=//p" "${UNITS[1]}" | sed "s|^/bin/sh -c '\\(.*\\)'\$|\\1|"
}
run_unit() { # KEY
  pod host env -i PATH="$WARD_TMP/fakebin:/usr/sbin:/usr/bin:/sbin:/bin" \
    sh -c "set -a; . '$ETC/ward/capture.env'; set +a; $(unit_cmd "$1")"
}
nat() { pod host iptables-save -t nat; }
check "ExecStart applies the rules" run_unit ExecStart
check "  the ward user's traffic is not captured" \
  grep -q -- '-A WARD_OUTPUT -m owner --uid-owner 1337 -j RETURN' <(nat)
check "  port 22 is left alone (capture.env)" \
  grep -q -- '-A WARD_INBOUND -p tcp -m tcp --dport 22 -j RETURN' <(nat)
check "ExecStop removes them" run_unit ExecStop
check "  nothing of ward's left" bash -c '! grep -q WARD <(ip netns exec "$1" iptables-save -t nat)' \
  _ "$WARD_RUN-host"

echo "== ward iptables from an SSH session"
# The "SSH server": an echo server on 2222; the session came from the peer.
serve host echo 2222
serve host echo 8080
SSH="$(pod_ip peer) 50022 $H 2222"
ipt() { pod host env SSH_CONNECTION="$SSH" "$WARD_BIN" iptables "$@"; }
refused() {
  local rc=0
  ipt >/dev/null 2>"$WARD_TMP/ipt.err" || rc=$?
  [ "$rc" = 2 ] && grep -qF "this shell came in over SSH to port 2222 here (SSH_CONNECTION)" \
    "$WARD_TMP/ipt.err" && grep -qF -- "--exclude-inbound-ports 2222" "$WARD_TMP/ipt.err"
}
check "capturing the session's port is refused, saying what to add" refused
check "  and no rule was installed" bash -c '! grep -q WARD <(ip netns exec "$1" iptables-save -t nat)' \
  _ "$WARD_RUN-host"
check "--dry-run still prints the rules" grep -q WARD_INBOUND <(ipt --dry-run)
check "a session into another namespace (ip netns exec from SSH) is not this one's" \
  pod host env SSH_CONNECTION="$(pod_ip peer) 50022 192.0.2.1 2222" "$WARD_BIN" iptables
pod host "$WARD_BIN" iptables --cleanup
check "--exclude-inbound-ports 2222 is a choice" ipt --exclude-inbound-ports 2222
check "  new sessions still reach the SSH port" mesh peer send "$H" 2222 login
captured() { ! MESH_CLIENT_TIMEOUT=5 mesh peer send "$H" 8080 x >/dev/null 2>&1; }
check "  while other ports are captured (no agent here: refused)" captured
pod host "$WARD_BIN" iptables --cleanup
check "--capture-ssh is a choice too" ipt --capture-ssh
lost() { ! MESH_CLIENT_TIMEOUT=5 mesh peer send "$H" 2222 x >/dev/null 2>&1; }
check "  and new sessions are captured: what the refusal prevents" lost

summary "vm e2e"
