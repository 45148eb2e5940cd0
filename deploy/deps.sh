#!/usr/bin/env bash
# Installs the Debian packages ward needs to build, test, demo and benchmark.
# Idempotent and quick when everything is already there.
#   deploy/deps.sh build   compiler and libraries
#   deploy/deps.sh test    + network test tools (iptables, tcpdump, openssl, curl...) and
#                            HAProxy and Squid, the PROXY protocol consumers of the e2e tests
#   deploy/deps.sh bench   + wrk for the comparison benchmark (against HAProxy)
#   deploy/deps.sh pods    podman (runc, netavark) and debootstrap only, for the
#                          pod tests (see deploy/podman/ and tests/pods/)
set -euo pipefail

build_pkgs=(build-essential pkg-config dpkg-dev autoconf automake libtool
  libwolfssl-dev libuv1-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev
  libnghttp2-dev libyaml-dev libhttp-parser-dev)
# chromium: an independent post-quantum TLS client (X25519MLKEM768), and the
# headless browser in which the e2e opens `ward drill`'s HTML report.
test_pkgs=(iptables iproute2 tcpdump openssl curl socat procps psmisc strace clang
  libclang-rt-14-dev python3 python3-yaml python3-h2 python3-grpcio valgrind prometheus haproxy
  squid systemd chromium) # systemd: systemd-analyze only; python3-h2: an independent HBONE client
bench_pkgs=(wrk)
# podman 4.3 with runc (crun 1.8 fails on this cgroup v1/v2 hybrid host),
# netavark/aardvark-dns (not CNI), catatonit (podman builds its pod "pause"
# image from it, as no registry is reachable); debootstrap makes the local
# debian:bookworm base images (deploy/podman/base-image.sh).
pods_pkgs=(podman runc netavark aardvark-dns catatonit debootstrap iptables iproute2 tcpdump)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench|all) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  pods) want=("${pods_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench|pods" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >&2
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
