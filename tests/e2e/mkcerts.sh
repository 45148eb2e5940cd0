#!/usr/bin/env bash
# A throwaway SPIFFE CA and X509-SVIDs for tests and the demo (ECDSA P-256).
#   mkcerts.sh DIR TRUST_DOMAIN NAME...       -> DIR/ca.pem, DIR/NAME/{svid.pem,svid.key,bundle.pem}
# Each SVID: one URI SAN spiffe://TD/ns/default/sa/NAME, cA=false, critical key
# usage digitalSignature, EKU serverAuth+clientAuth (X509-SVID §4).
# Env: DAYS (default 1), OWNER (uid[:gid] to own the key files), CA_NAME (ca).
set -euo pipefail
dir=$1 td=$2
shift 2
days=${DAYS:-1}
ca=${CA_NAME:-ca}
mkdir -p "$dir"
if [ ! -f "$dir/$ca.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$ca.key" 2>/dev/null
  openssl req -x509 -new -key "$dir/$ca.key" -sha256 -days 3650 -subj "/O=ward test/CN=$ca $td" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectAltName=URI:spiffe://$td" -out "$dir/$ca.pem" 2>/dev/null
fi
for name in "$@"; do
  out="$dir/$name"
  mkdir -p "$out"
  id=${SPIFFE_ID:-spiffe://$td/ns/default/sa/$name}
  openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -out "$out/svid.key"
  cat >"$out/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:$id
EXT
  openssl req -new -key "$out/svid.key" -subj "/O=ward test" -out "$out/svid.csr" 2>/dev/null
  start=()
  if [ "$days" -lt 0 ]; then # an already-expired SVID
    start=(-startdate "$(date -u -d "$((-days + 1)) days ago" +%Y%m%d%H%M%SZ)"
      -enddate "$(date -u -d "$((-days)) days ago" +%Y%m%d%H%M%SZ)")
  fi
  if [ ${#start[@]} -gt 0 ]; then
    # `openssl x509 -req` cannot backdate; a minimal `openssl ca` setup can.
    cadir="$dir/.ca-$ca"
    mkdir -p "$cadir/new"
    : >"$cadir/index.txt"
    [ -f "$cadir/serial" ] || echo 1000 >"$cadir/serial"
    cat >"$cadir/ca.cnf" <<CNF
[ca]
default_ca=d
[d]
dir=$cadir
database=\$dir/index.txt
new_certs_dir=\$dir/new
serial=\$dir/serial
default_md=sha256
policy=p
copy_extensions=none
unique_subject=no
[p]
organizationName=optional
CNF
    openssl ca -batch -config "$cadir/ca.cnf" -cert "$dir/$ca.pem" -keyfile "$dir/$ca.key" \
      -in "$out/svid.csr" -out "$out/svid.pem" -extfile "$out/ext.cnf" -notext \
      "${start[@]}" >/dev/null 2>&1
  else
    openssl x509 -req -in "$out/svid.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
      -CAcreateserial -days "$days" -sha256 -extfile "$out/ext.cnf" -out "$out/svid.pem" 2>/dev/null
  fi
  cp "$dir/$ca.pem" "$out/bundle.pem"
  rm -f "$out/svid.csr" "$out/ext.cnf"
  chmod 600 "$out/svid.key"
  [ -n "${OWNER:-}" ] && chown "$OWNER" "$out/svid.key" "$out"
done
exit 0
