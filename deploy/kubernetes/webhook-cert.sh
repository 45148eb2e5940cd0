#!/usr/bin/env bash
# Gives `ward webhook` its serving certificate without cert-manager: makes a
# private CA and a P-256 leaf for ward-webhook.<namespace>.svc, stores the
# leaf in the Secret ward-webhook-tls, and writes the CA into caBundle of both
# webhooks of the MutatingWebhookConfiguration ward-sidecar-injector. The CA
# key is thrown away after signing: running the script again makes a new CA
# and patches caBundle again (the webhook re-reads the Secret by itself).
#
#   deploy/kubernetes/webhook-cert.sh [--namespace NS] [--days N] [--out DIR] [--no-apply]
#
#   --namespace NS  where the webhook runs (ward-system)
#   --days N        validity of the certificate (365)
#   --out DIR       also keep ca.pem, tls.crt and tls.key in DIR (key 0600)
#   --no-apply      make the files only; do not call kubectl (needs --out)
# KUBECTL names the kubectl to use (kubectl).
set -euo pipefail

ns=ward-system days=365 out= apply=1
kubectl=${KUBECTL:-kubectl}
while [ $# -gt 0 ]; do
  case $1 in
    --namespace) ns=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-apply) apply=0; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "webhook-cert.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$apply" = 1 ] || [ -n "$out" ] || { echo "webhook-cert.sh: --no-apply needs --out DIR" >&2; exit 2; }
case $days in ''|*[!0-9]*) echo "webhook-cert.sh: --days must be a number" >&2; exit 2 ;; esac

service=ward-webhook
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/CN=ward-webhook-ca" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=$service.$ns.svc" -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
cat >"$work/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$service,DNS:$service.$ns,DNS:$service.$ns.svc,DNS:$service.$ns.svc.cluster.local
EXT
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days "$days" -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null
openssl verify -CAfile "$work/ca.pem" "$work/tls.crt" >/dev/null

if [ -n "$out" ]; then
  mkdir -p "$out"
  install -m 0644 "$work/ca.pem" "$out/ca.pem"
  install -m 0644 "$work/tls.crt" "$out/tls.crt"
  install -m 0600 "$work/tls.key" "$out/tls.key"
fi
[ "$apply" = 1 ] || exit 0

"$kubectl" -n "$ns" create secret tls ward-webhook-tls --cert="$work/tls.crt" \
  --key="$work/tls.key" --dry-run=client -o yaml | "$kubectl" apply -f -
ca=$(base64 -w0 <"$work/ca.pem")
"$kubectl" patch mutatingwebhookconfiguration ward-sidecar-injector --type=json -p \
  "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$ca\"},
    {\"op\":\"replace\",\"path\":\"/webhooks/1/clientConfig/caBundle\",\"value\":\"$ca\"}]"
echo "webhook-cert.sh: Secret $ns/ward-webhook-tls written, caBundle patched" >&2
