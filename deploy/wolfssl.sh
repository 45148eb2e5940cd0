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

# The wolfSSL source ward builds, pinned here and nowhere else: Debian's package
# WOLFSSL_VERSION from WOLFSSL_SUITE. It has the hybrid post-quantum TLS groups
# X25519MLKEM768 (0x11EC) and SecP256r1MLKEM768 (0x11EB); bookworm's 5.5.4 and
# trixie's 5.7.2 have neither. The .dsc hash pins the exact source whichever way
# it is fetched (dpkg-source checks every file the .dsc names against it), so a
# stale or replayed index cannot change what is built.
WOLFSSL_VERSION=5.9.2-1
WOLFSSL_SUITE=sid
WOLFSSL_DSC_SHA256=6fc35cea9c1685d1450ef775a8e70c3d446d5081b7988e98f9a6c58e592fe42f

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
  # ML-KEM (FIPS 203, with SHA-3/SHAKE) and the hybrid groups X25519MLKEM768,
  # SecP256r1MLKEM768 and SecP384r1MLKEM1024. Both are 5.9's defaults; named so
  # that a later default cannot drop them silently.
  --enable-mlkem --enable-pqc-hybrids
)
[ "$(uname -m)" = x86_64 ] || flags=("${flags[@]/--enable-intelasm/}")
# WOLFSSL_ALWAYS_VERIFY_CB: call the verify callback on success too, which is
# how ward binds a federated peer's chain to its own trust domain's bundle.
# WOLFSSL_ALT_NAMES: `ward server` writes the URI SAN of the certificates it
# issues (configure has no switch for it; Debian's own build defines it).
cflags="-O2 -fPIC -DWOLFSSL_ALWAYS_VERIFY_CB -DWOLFSSL_ALT_NAMES"

log() { printf 'wolfssl: %s\n' "$*" >&2; }

flag_hash=$(printf '%s\n' "${flags[@]}" "$cflags" "$(uname -m)" | sha256sum | cut -c1-12)
prefix="$cache_root/wolfssl-${WOLFSSL_VERSION//[^A-Za-z0-9.+~-]/_}-$flag_hash"

# Fast path: the pinned version is already built with these flags.
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

# The Debian archive the system already uses (its first non-security URI),
# so a local mirror or proxy keeps working; deb.debian.org otherwise.
mirror=$(
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n'
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f"
    done
  } | grep -E '^https?://[^ ]*/debian/?$' | head -n 1 | sed 's:/*$::'
) || true
mirror=${mirror:-http://deb.debian.org/debian}

apt_dir="$cache_root/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d"
rm -f "$apt_dir"/sources.list.d/*
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -f "$keyring" ]; then
  echo "deb-src [signed-by=$keyring] $mirror $WOLFSSL_SUITE main" >"$apt_dir/sources.list"
else
  echo "deb-src $mirror $WOLFSSL_SUITE main" >"$apt_dir/sources.list"
fi
# Check-Valid-Until is off for this private list only: the .dsc hash above is
# what vouches for the source, and a mirror whose sid Release file is past its
# Valid-Until date (a stale mirror or proxy) must not stop the build.
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Acquire::Check-Valid-Until=false"
  -o "Debug::NoLocking=1")

work=$(mktemp -d "$cache_root/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
dsc="wolfssl_${WOLFSSL_VERSION#*:}.dsc"

log "fetching Debian's wolfssl $WOLFSSL_VERSION source package ($WOLFSSL_SUITE)"
apt-get "${apt_opts[@]}" -qq update >&2 || log "apt-get update failed; trying the pool directly"
listed=$(apt-cache "${apt_opts[@]}" showsrc wolfssl 2>/dev/null | sed -n 's/^Version: //p' | tr '\n' ' ') || true
case " $listed " in
  *" $WOLFSSL_VERSION "*)
    (cd "$work" && apt-get "${apt_opts[@]}" -qq --download-only source "wolfssl=$WOLFSSL_VERSION" >&2) ||
      rm -f "$work"/wolfssl_* ;;
esac
if [ ! -f "$work/$dsc" ]; then
  # The suite has moved on to another revision (or the mirror's index and pool
  # disagree): fetch the pinned .dsc and the files it names from the pool.
  listed=${listed% }
  log "$WOLFSSL_SUITE lists wolfssl ${listed:-nothing}; fetching $dsc from the pool"
  pool="$mirror/pool/main/w/wolfssl"
  /usr/lib/apt/apt-helper "${apt_opts[@]}" download-file "$pool/$dsc" "$work/$dsc" \
    "SHA256:$WOLFSSL_DSC_SHA256" >&2 ||
    { log "cannot fetch $pool/$dsc; pick a version the archive still has (WOLFSSL_VERSION)"; exit 1; }
  sed -n '/^Checksums-Sha256:/,/^[^ ]/s/^ \([0-9a-f]\{64\}\) [0-9]\+ \([^ ]\+\)$/\1 \2/p' "$work/$dsc" |
    while read -r sum file; do
      /usr/lib/apt/apt-helper "${apt_opts[@]}" download-file "$pool/$file" "$work/$file" "SHA256:$sum" >&2 || exit 1
    done
fi
echo "$WOLFSSL_DSC_SHA256  $work/$dsc" | sha256sum -c --quiet - >&2 ||
  { log "$dsc does not match WOLFSSL_DSC_SHA256"; exit 1; }
# dpkg-source checks every file against the .dsc's checksums (apt-get source
# would skip that); the Debian maintainer's signature is not checked here.
(cd "$work" && dpkg-source -x "$dsc" wolfssl-src >&2)
srcdir="$work/wolfssl-src"

log "building wolfssl $WOLFSSL_VERSION (flags $flag_hash); this takes a few minutes once"
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
