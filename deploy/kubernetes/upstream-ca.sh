#!/usr/bin/env bash
# Makes the upstream CA that every node's `ward server` (server.yaml) signs
# its own intermediate CA under, so that proxies on different nodes trust
# each other: a P-256 root CA, stored in the Secret ward-upstream-ca (tls.crt,
# tls.key, ca.crt) that the DaemonSet mounts. Run it once, before applying
# server.yaml; running it again replaces the CA (restart the DaemonSet, and
# expect new SVIDs everywhere). To use a CA of your own, create the same
# Secret from its files instead.
#
#   deploy/kubernetes/upstream-ca.sh [--namespace NS] [--days N] [--trust-domain TD] [--out DIR] [--no-apply]
#
#   --namespace NS      where ward server runs (ward-system)
#   --days N            validity of the CA (3650); no SVID outlives it
#   --trust-domain TD   named in the CA's subject (cluster.local)
#   --out DIR           also keep tls.crt, tls.key and ca.crt in DIR (key 0600)
#   --no-apply          make the files only; do not call kubectl (needs --out)
# KUBECTL names the kubectl to use (kubectl).
set -euo pipefail

ns=ward-system days=3650 td=cluster.local out= apply=1
kubectl=${KUBECTL:-kubectl}
while [ $# -gt 0 ]; do
  case $1 in
    --namespace) ns=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --trust-domain) td=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-apply) apply=0; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "upstream-ca.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$apply" = 1 ] || [ -n "$out" ] || { echo "upstream-ca.sh: --no-apply needs --out DIR" >&2; exit 2; }
case $days in ''|*[!0-9]*) echo "upstream-ca.sh: --days must be a number" >&2; exit 2 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/O=ward/CN=ward upstream CA for $td" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
cp "$work/tls.crt" "$work/ca.crt"

if [ -n "$out" ]; then
  mkdir -p "$out"
  install -m 0644 "$work/tls.crt" "$out/tls.crt"
  install -m 0644 "$work/ca.crt" "$out/ca.crt"
  install -m 0600 "$work/tls.key" "$out/tls.key"
fi
[ "$apply" = 1 ] || exit 0
"$kubectl" -n "$ns" create secret generic ward-upstream-ca --from-file="$work/tls.crt" \
  --from-file="$work/tls.key" --from-file="$work/ca.crt" --dry-run=client -o yaml |
  "$kubectl" apply -f -
echo "upstream-ca.sh: Secret $ns/ward-upstream-ca holds the upstream CA" >&2
