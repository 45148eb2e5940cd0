#!/usr/bin/env bash
# Checks that podman on this machine does what ward's pod tests will rely on,
# with a plain Debian tools image (not ward's): `kube play` of two pods on
# their own bridge network; an init container that runs first and once, as
# root with only NET_ADMIN and NET_RAW, and installs nat rules with
# iptables-restore (nft) and `-m owner --uid-owner 1337`; containers of a pod
# sharing its network namespace; runAsUser; a hostPath volume carrying a unix
# socket; pod-to-pod TCP by IP and by name; tcpdump on the host's bridge.
# Needs root. Leaves the images, removes its pods, network and files.
#   tests/pods/smoke.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/podman/env.sh
. "$root/deploy/podman/env.sh"
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root" >&2; exit 1; }
"$root/deploy/podman/base-image.sh"

run=wp$$
WARD_RUN=$run WARD_TMP=$(mktemp -d /tmp/ward-pods.XXXXXX)
# check and summary; $WARD_TMP removed at the end.
source "$root/tests/e2e/lib.sh"
tmp=$WARD_TMP
chmod 1777 "$tmp"
net=$run-net
image=localhost/ward-pods-tools:smoke
dump_pid=

cleanup() {
  if [ -n "$dump_pid" ]; then kill "$dump_pid" 2>/dev/null || true; fi
  podman kube down "$tmp/pods.yaml" >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
  ward_cleanup
}
trap cleanup EXIT

cat >"$tmp/Dockerfile" <<'EOF'
FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 socat procps \
 && rm -rf /var/lib/apt/lists/*
EOF
podman build --pull=never -q -t "$image" "$tmp" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; exit 1; }

podman network create "$net" >/dev/null
bridge=$(podman network inspect "$net" --format '{{.NetworkInterface}}')

cat >"$tmp/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $run-a}
spec:
  # Must be set: with the default (Always) podman 4.3 restarts the init
  # container forever and never starts the others.
  restartPolicy: OnFailure
  volumes:
  - name: shared
    hostPath: {path: $tmp, type: Directory}
  initContainers:
  - name: init
    image: $image
    volumeMounts: [{name: shared, mountPath: /shared}]
    command: ["sh", "-c"]
    args:
    - |
      set -e
      echo init >> /shared/order
      grep CapEff /proc/self/status > /shared/init.caps
      iptables-restore <<'RULES'
      *nat
      :SMOKE_OUT - [0:0]
      -A OUTPUT -p tcp -j SMOKE_OUT
      -A SMOKE_OUT -m owner --uid-owner 1337 -j RETURN
      -A SMOKE_OUT -p tcp -d 127.0.0.1/32 --dport 9999 -j REDIRECT --to-ports 8080
      COMMIT
      RULES
    securityContext:
      runAsUser: 0
      capabilities: {add: [NET_ADMIN, NET_RAW], drop: [ALL]}
  containers:
  - name: app
    image: $image
    volumeMounts: [{name: shared, mountPath: /shared}]
    command: ["sh", "-c"]
    args:
    - |
      echo app >> /shared/order
      socat UNIX-LISTEN:/shared/app.sock,fork,mode=666 SYSTEM:'echo unix-ok' &
      exec socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo tcp-ok'
  - name: proxy
    image: $image
    command: ["sleep", "infinity"]
    securityContext: {runAsUser: 1337, runAsGroup: 1337}
---
apiVersion: v1
kind: Pod
metadata: {name: $run-b}
spec:
  restartPolicy: OnFailure
  containers:
  - name: client
    image: $image
    command: ["sleep", "infinity"]
EOF
podman kube play --network "$net" "$tmp/pods.yaml" >/dev/null 2>"$tmp/play.err" ||
  { cat "$tmp/play.err" >&2; exit 1; }

pod_ip() { # POD
  podman inspect --format "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" \
    "$(podman pod inspect "$1" --format '{{.InfraContainerID}}')"
}
ip_a=$(pod_ip "$run-a")
for _ in $(seq 50); do [ -S "$tmp/app.sock" ] && break; sleep 0.1; done
sleep 1

timeout 10 tcpdump -lni "$bridge" -c 1 "tcp and dst host $ip_a and dst port 8080" \
  >"$tmp/tcpdump.out" 2>/dev/null &
dump_pid=$!
sleep 1

check "init container ran first, once" test "$(tr '\n' ' ' <"$tmp/order")" = "init app "
check "init container CapEff = NET_ADMIN|NET_RAW" grep -q '0000000000003000$' "$tmp/init.caps"
check "proxy runs as uid 1337 without capabilities" \
  sh -c "podman exec $run-a-proxy sh -c 'id -u; grep CapEff /proc/self/status' | tr '\n' ' ' | grep -q '^1337 CapEff:.0000000000000000'"
check "pod containers share localhost" \
  sh -c "podman exec $run-a-proxy socat -T2 - TCP:127.0.0.1:8080 | grep -qx tcp-ok"
check "init's nat rule redirects root's traffic" \
  sh -c "podman exec $run-a-app socat -T2 - TCP:127.0.0.1:9999 | grep -qx tcp-ok"
check "owner match leaves uid 1337 uncaptured" \
  sh -c "! podman exec $run-a-proxy socat -T2 - TCP:127.0.0.1:9999"
check "hostPath unix socket reachable from the host" \
  sh -c "socat -T2 - UNIX-CONNECT:$tmp/app.sock | grep -qx unix-ok"
check "pod b reaches pod a by IP ($ip_a)" \
  sh -c "podman exec $run-b-client socat -T2 - TCP:$ip_a:8080 | grep -qx tcp-ok"
check "pod b reaches pod a by name" \
  sh -c "podman exec $run-b-client socat -T2 - TCP:$run-a:8080 | grep -qx tcp-ok"
wait "$dump_pid" || true
dump_pid=
check "tcpdump on bridge $bridge sees pod-to-pod traffic" grep -q "> $ip_a.8080" "$tmp/tcpdump.out"
sleep 2
check "init container did not run again" test "$(grep -c init "$tmp/order")" = 1

summary "pods smoke"
