#!/usr/bin/env bash
# Makes the Debian base images that deploy/Dockerfile starts FROM, without a
# container registry: debootstrap (minbase) from the Debian mirror, then
# `podman import`. Idempotent: returns at once when the images are there, and
# re-imports from the cached tarballs (no debootstrap) when only those are.
#
#   deploy/podman/base-image.sh          ensure the images exist
#   deploy/podman/base-image.sh --force  rebuild the tarballs and re-import
#
# Images (each under its short and its docker.io name, so FROM lines resolve
# locally and `podman build --pull=never` never reaches for a registry):
#   debian:bookworm       = docker.io/library/debian:bookworm        (minbase)
#   debian:bookworm-slim  = docker.io/library/debian:bookworm-slim   (minbase
#       less docs, man pages and locales, with the same dpkg path-excludes as
#       Debian's official slim image)
# Cache: ${WARD_CACHE:-~/.cache/ward}/podman/debian-bookworm{,-slim}.tar
# Needs root, podman and debootstrap (deploy/deps.sh pods installs them).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/podman/env.sh
. "$here/env.sh"

suite=bookworm
mirror=${WARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache_root=${WARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ward}
cache=$cache_root/podman
full_tar=$cache/debian-$suite.tar
slim_tar=$cache/debian-$suite-slim.tar
label=org.ward.base=debootstrap-minbase-$suite

log() { printf 'base-image: %s\n' "$*" >&2; }

force=0
[ "${1:-}" = --force ] && force=1

have_images() {
  local n
  for n in docker.io/library/debian:$suite docker.io/library/debian:$suite-slim \
    localhost/debian:$suite localhost/debian:$suite-slim; do
    podman image exists "$n" || return 1
  done
}

# podman, runc, netavark, catatonit, debootstrap (quick when installed).
"$here/../deps.sh" pods

if [ $force -eq 0 ] && have_images; then
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap and rootful podman)"; exit 1; }

mkdir -p "$cache"
if [ $force -eq 1 ] || [ ! -s "$full_tar" ] || [ ! -s "$slim_tar" ]; then
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  root=$work/rootfs
  log "debootstrap --variant=minbase $suite from $mirror (about 30 s)"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    exit 1
  }

  # Make it look like Debian's official image: deb822 sources with updates and
  # security, no package lists or .debs left, apt that cleans up after itself,
  # no host files (resolv.conf, hostname; podman provides both at run time).
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
    "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
  mkdir -p "$root/var/lib/apt/lists/partial"
  : >"$root/etc/resolv.conf"
  rm -f "$root/etc/hostname"

  tar --numeric-owner -C "$root" -cf "$full_tar.tmp" .
  mv "$full_tar.tmp" "$full_tar"

  # The slim variant: the same tree without docs, man pages and locales, and the
  # dpkg excludes that keep later installs that way.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# This is the "slim" variant of the Debian base image.
# Many files which are normally unnecessary in containers are excluded,
# and this configuration file keeps them that way.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/groff/* "$root"/usr/share/info/* \
    "$root"/usr/share/linda/* "$root"/usr/share/lintian/overrides/* \
    "$root"/usr/share/locale/* "$root"/usr/share/man/*
  tar --numeric-owner -C "$root" -cf "$slim_tar.tmp" .
  mv "$slim_tar.tmp" "$slim_tar"
  rm -rf "$work"
  trap - EXIT
fi

import() { # TARBALL NAME...
  local tarball=$1 id n
  shift
  log "importing $tarball as $*"
  id=$(podman import --quiet --change 'CMD ["bash"]' --change "LABEL $label" \
    "$tarball" "$1")
  for n in "${@:2}"; do podman tag "$id" "$n"; done
}
import "$full_tar" localhost/debian:$suite docker.io/library/debian:$suite
import "$slim_tar" localhost/debian:$suite-slim docker.io/library/debian:$suite-slim
podman images --filter "reference=debian:$suite*" >&2
