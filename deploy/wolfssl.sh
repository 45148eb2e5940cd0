#!/usr/bin/env bash
# Builds wolfSSL from Debian's own source package with its x86-64 assembly and the
# TLS features ward needs, into a cache keyed by version and configure flags.
# Debian's binary libwolfssl is built without the assembly (AES-GCM ~30x and ECDSA
# signing ~4x slower), which would make ward's handshake and bulk figures meaningless.
#
# Prints the install prefix on stdout; everything else goes to stderr.
# The deb-src entry is handed to apt through its own options only: the system's
# apt sources are never written.
set -euo pipefail

cache_root=${WARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ward}

flags=(
  --enable-static --disable-shared --disable-examples --disable-crypttests
  --disable-benchmark
  --enable-tls13 --disable-oldtls --enable-session-ticket --enable-sni --enable-alpn
  --enable-supportedcurves --enable-ecc --enable-curve25519 --enable-aesgcm
  --enable-chacha --enable-poly1305 --enable-sha384 --enable-sha512
  --enable-certgen --enable-certreq --enable-certext --enable-keygen
  --enable-crl --enable-opensslextra
  --enable-intelasm --enable-sp --enable-sp-asm --enable-aesni
)
[ "$(uname -m)" = x86_64 ] || flags=("${flags[@]/--enable-intelasm/}")
# WOLFSSL_ALWAYS_VERIFY_CB: call the verify callback on success too, which is
# how ward binds a federated peer's chain to its own trust domain's bundle.
# WOLFSSL_ALT_NAMES: `ward server` writes the URI SAN of the certificates it
# issues (configure has no switch for it; Debian's own build defines it).
cflags="-O2 -fPIC -DWOLFSSL_ALWAYS_VERIFY_CB -DWOLFSSL_ALT_NAMES"

log() { printf 'wolfssl: %s\n' "$*" >&2; }

apt_dir="$cache_root/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d"
# Mirror the system's binary sources as deb-src entries in a private apt config.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt_dir/sources.list.d/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$apt_dir/sources.list"
else
  : >"$apt_dir/sources.list"
fi
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Debug::NoLocking=1")

version=$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null || true)
flag_hash=$(printf '%s\n' "${flags[@]}" "$cflags" "$(uname -m)" | sha256sum | cut -c1-12)

# Fast path: a cached build of the installed version with the same flags.
if [ -n "$version" ]; then
  prefix="$cache_root/wolfssl-${version//[^A-Za-z0-9.+~-]/_}-$flag_hash"
  if [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    exit 0
  fi
fi

log "fetching Debian's wolfssl source package"
apt-get "${apt_opts[@]}" -qq update >&2
src_version=$(apt-cache "${apt_opts[@]}" showsrc wolfssl | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$src_version" ] || { log "no wolfssl source package found in the apt sources"; exit 1; }
if [ -n "$version" ] && apt-cache "${apt_opts[@]}" showsrc wolfssl | grep -qx "Version: $version"; then
  src_version=$version
fi
prefix="$cache_root/wolfssl-${src_version//[^A-Za-z0-9.+~-]/_}-$flag_hash"
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

work=$(mktemp -d "$cache_root/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "${apt_opts[@]}" -qq source "wolfssl=$src_version" >&2)
srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'wolfssl-*' | head -n 1)
[ -n "$srcdir" ] || { log "apt-get source produced no wolfssl directory"; exit 1; }

log "building wolfssl $src_version (flags $flag_hash); this takes a few minutes once"
(
  cd "$srcdir"
  [ -x configure ] || ./autogen.sh >&2
  ./configure --prefix="$prefix.tmp" "${flags[@]}" CFLAGS="$cflags" >&2
  make -j"$(nproc)" >&2
  rm -rf "$prefix.tmp"
  make install >&2
)
rm -rf "$prefix"
mv "$prefix.tmp" "$prefix"
# The .pc file and options.h name the temporary prefix; ward only needs headers and
# the static archive, so the rename is safe.
touch "$prefix/.complete"
log "installed into $prefix"
echo "$prefix"
