#!/usr/bin/env bash
# e2e: `ward webhook` over real HTTPS. curl posts AdmissionReviews built from
# the Pods of tests/kube; the JSON Patch in each answer, applied to the pod
# by an independent RFC 6902 implementation (tests/e2e/jsonpatch.py), must
# give exactly the pod `ward inject` makes. Also: skipped pods get no patch,
# bad annotations are denied, malformed reviews get 400 and the server lives
# on, and a rotated serving certificate is picked up (file change, SIGHUP).
# Needs no root.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ward=$(realpath "${WARD_BIN:-$root/build/ward}")
kube=$root/tests/kube
patch_py=$root/tests/e2e/jsonpatch.py
source "$root/tests/e2e/lib.sh" # check, summary, and $WARD_TMP removed on exit
tmp=$WARD_TMP
port=$((20000 + $$ % 20000))
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  ward_cleanup
}
trap cleanup EXIT


mkcert() { # NAME: a self-signed serving certificate for 127.0.0.1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=$1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/$1.key" -out "$tmp/$1.pem" 2>/dev/null
}

mkcert first
cp "$tmp/first.pem" "$tmp/tls.crt"
cp "$tmp/first.key" "$tmp/tls.key"
"$ward" webhook --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key" --listen "127.0.0.1:$port" \
  --config "$kube/injector.json" 2>"$tmp/webhook.log" &
pid=$!
for _ in $(seq 1 50); do
  grep -q webhook_ready "$tmp/webhook.log" && break
  kill -0 "$pid" || { cat "$tmp/webhook.log" >&2; exit 1; }
  sleep 0.1
done

url=https://127.0.0.1:$port
post() { # FILE -> body on stdout, status in $tmp/status
  curl -sS --cacert "$tmp/first.pem" -o "$tmp/body" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary @"$1" "$url/inject" >"$tmp/status"
  cat "$tmp/body"
}

# review POD_JSON UID -> an AdmissionReview of it
review() {
  python3 -c '
import json, sys
pod = json.load(open(sys.argv[1]))
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
  "request": {"uid": sys.argv[2], "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"},
    "namespace": "default", "operation": "CREATE", "object": pod}}))' "$1" "$2"
}

# The pods a cluster would create: every Pod document of the test inputs, as
# JSON, one file each (YAML read by PyYAML, an independent parser).
python3 - "$kube/in" "$tmp/pods" <<'EOF'
import json, os, sys, yaml
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
n = 0
for name in sorted(os.listdir(src)):
    path = os.path.join(src, name)
    if name.endswith(".yaml"):
        docs = list(yaml.safe_load_all(open(path)))
    elif name.endswith(".json"):
        docs = [json.load(open(path))]
    else:
        continue
    def pods(d):
        if d.get("kind", "").endswith("List"):
            for i in d.get("items", []):
                yield from pods(i)
        elif d.get("kind") == "Pod":
            yield d
        elif "template" in d.get("spec", {}):
            yield {"apiVersion": "v1", "kind": "Pod", **d["spec"]["template"]}
        elif "jobTemplate" in d.get("spec", {}):
            yield {"apiVersion": "v1", "kind": "Pod", **d["spec"]["jobTemplate"]["spec"]["template"]}
    for d in docs:
        for p in pods(d or {}):
            n += 1
            json.dump(p, open(os.path.join(out, "%02d-%s.json" % (n, name.split(".")[0])), "w"))
EOF

echo "== patches equal ward inject"
for pod in "$tmp"/pods/*.json; do
  name=$(basename "$pod" .json)
  uid="uid-$name"
  review "$pod" "$uid" >"$tmp/review.json"
  post "$tmp/review.json" >"$tmp/answer.json"
  check "$name: 200" test "$(cat "$tmp/status")" = 200
  check "$name: the response carries the request's uid" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["apiVersion"] == "admission.k8s.io/v1" and r["kind"] == "AdmissionReview"
assert r["response"]["uid"] == sys.argv[2]' "$tmp/answer.json" "$uid"
  "$ward" inject --config "$kube/injector.json" -f "$pod" >"$tmp/want.json" 2>"$tmp/notes" || true
  if grep -q skipped "$tmp/notes"; then
    check "$name: skipped pod allowed without a patch" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["response"]
assert r["allowed"] is True and "patch" not in r and "patchType" not in r' "$tmp/answer.json"
  else
    check "$name: patch applied = ward inject" python3 "$patch_py" "$tmp/answer.json" "$pod" \
      "$tmp/want.json"
  fi
done

echo "== denied and malformed"
python3 -c '
import json
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad",
  "annotations": {"ward.io/inbound-mode": "open"}},
  "spec": {"containers": [{"name": "app", "image": "app"}]}}))' >"$tmp/bad-pod.json"
review "$tmp/bad-pod.json" uid-bad >"$tmp/review.json"
post "$tmp/review.json" >"$tmp/answer.json"
check "bad annotation: denied with the reason" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["response"]
assert r["allowed"] is False and r["uid"] == "uid-bad", r
assert "ward.io/inbound-mode" in r["status"]["message"] and "open" in r["status"]["message"], r' \
  "$tmp/answer.json"

malformed() { # NAME BODY EXPECTED-TEXT
  printf '%s' "$2" >"$tmp/m.json"
  post "$tmp/m.json" >"$tmp/answer.txt"
  check "$1: 400" test "$(cat "$tmp/status")" = 400
  check "$1: says why" grep -qF "$3" "$tmp/answer.txt"
}
malformed "not JSON" '{"apiVersion": ' "not JSON"
malformed "wrong apiVersion" '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}' \
  "apiVersion: must be admission.k8s.io/v1"
malformed "no request" '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' \
  "request: required"
malformed "no uid" '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}' \
  "request.uid: required"
malformed "object not an object" \
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":7}}' \
  "request.object: must be an object"
malformed "duplicate keys" \
  '{"apiVersion":"admission.k8s.io/v1","apiVersion":"x","kind":"AdmissionReview"}' "duplicate"
check "GET /inject: 405" test "$(curl -sS --cacert "$tmp/first.pem" -o /dev/null -w '%{http_code}' \
  "$url/inject")" = 405
check "unknown path: 404" test "$(curl -sS --cacert "$tmp/first.pem" -o /dev/null -w '%{http_code}' \
  "$url/mutate")" = 404
check "plain HTTP is not served" bash -c '! curl -sS -m 5 "http://127.0.0.1:$1/healthz" 2>/dev/null | grep -q ok' _ "$port"
check "still alive: /healthz" test "$(curl -sS --cacert "$tmp/first.pem" "$url/healthz")" = ok

echo "== certificate rotation"
serving_cn() {
  openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}
wait_cn() { # CN: until the server presents it (the file poll runs every 2 s)
  local i
  for i in $(seq 1 100); do
    [ "$(serving_cn)" = "$1" ] && return 0
    sleep 0.1
  done
  echo "    serving CN is '$(serving_cn)', wanted '$1'" >&2
  return 1
}
check "serves the first certificate" wait_cn first
mkcert second
# A key that does not match must not replace a working pair.
cp "$tmp/second.pem" "$tmp/tls.crt"
kill -HUP "$pid"
check "a mismatched pair is refused, logged" bash -c \
  'for i in $(seq 50); do grep -q webhook_cert_reload_failed "$1" && exit 0; sleep 0.1; done; exit 1' \
  _ "$tmp/webhook.log"
check "... and the first certificate keeps serving" wait_cn first
cp "$tmp/second.key" "$tmp/tls.key.new"
mv "$tmp/tls.key.new" "$tmp/tls.key"
check "the rotated certificate is picked up by itself" wait_cn second
mkcert third
cp "$tmp/third.pem" "$tmp/tls.crt"
cp "$tmp/third.key" "$tmp/tls.key"
kill -HUP "$pid"
check "SIGHUP reloads" wait_cn third

kill "$pid"
wait "$pid" && rc=0 || rc=$?
pid=
check "SIGTERM: exit 0" test "$rc" -eq 0

summary webhook
