#!/usr/bin/env bash
# Golden tests of `ward inject` / `ward uninject` on tests/kube/in/*: each
# output must equal tests/kube/golden/<name> (stderr notes: <base>.stderr),
# injecting the output again must change nothing, uninjecting it must give the
# input back byte for byte, and objects without a pod template must come out
# equal to what went in (checked by an independent parser, PyYAML / json).
# Every tests/kube/bad/* input must fail with exit 1, the exact error, no
# output and no file written. Needs no root.
# WARD_GOLDEN_UPDATE=1 rewrites the golden files (review the diff!).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ward=$(realpath "${WARD_BIN:-$root/build/ward}")
kube=$root/tests/kube
source "$root/tests/e2e/lib.sh" # check, summary, and $WARD_TMP removed on exit
tmp=$WARD_TMP
trap ward_cleanup EXIT


same() { # same FILE EXPECTED: byte-equal, a diff when not
  cmp -s "$1" "$2" && return 0
  diff -u "$2" "$1" | head -40 >&2
  return 1
}

# Objects that carry no pod template must come through untouched, as an
# independent parser reads them.
untouched() {
  python3 - "$1" "$2" <<'EOF'
import json, sys, yaml
WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
             "ReplicationController", "Job", "CronJob"}
def load(path):
    text = open(path).read()
    if text.lstrip().startswith("{"):
        dec, docs, i = json.JSONDecoder(), [], 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i < len(text):
                doc, i = dec.raw_decode(text, i)
                docs.append(doc)
        return docs
    return [d for d in yaml.safe_load_all(text) if d is not None]
def flat(docs):
    for d in docs:
        if d.get("kind", "").endswith("List") and "items" in d:
            yield from flat(d["items"])
        else:
            yield d
a, b = list(flat(load(sys.argv[1]))), list(flat(load(sys.argv[2])))
assert len(a) == len(b), "document count changed"
for x, y in zip(a, b):
    if x.get("kind") not in WORKLOADS:
        assert x == y, "%s changed:\n%s\n%s" % (x.get("kind"), x, y)
EOF
}

run_inject() { # NAME FLAGS... -- writes $tmp/out, $tmp/err
  local in=$1
  shift
  (cd "$root" && "$ward" inject "$@" -f "$in" >"$tmp/out" 2>"$tmp/err")
}

echo "== golden"
for in in "$kube"/in/*.yaml "$kube"/in/*.json; do
  name=$(basename "$in")
  base=${name%.*}
  flags=()
  [ -f "$kube/in/$base.flags" ] && read -ra flags <"$kube/in/$base.flags"
  check "$name: inject exits 0" run_inject "$in" "${flags[@]}"
  if [ -n "${WARD_GOLDEN_UPDATE:-}" ]; then
    cp "$tmp/out" "$kube/golden/$name"
    cp "$tmp/err" "$kube/golden/$base.stderr"
  fi
  check "$name: output is the golden one" same "$tmp/out" "$kube/golden/$name"
  check "$name: notes are the golden ones" same "$tmp/err" "$kube/golden/$base.stderr"
  check "$name: other objects untouched" untouched "$in" "$tmp/out"
  cp "$tmp/out" "$tmp/injected"
  check "$name: injecting twice changes nothing" run_inject "$tmp/injected" "${flags[@]}"
  check "$name: ... byte for byte" same "$tmp/out" "$tmp/injected"
  check "$name: uninject exits 0" \
    bash -c '"$1" uninject -f "$2" >"$3" 2>/dev/null' _ "$ward" "$tmp/injected" "$tmp/back"
  check "$name: uninject gives the input back" same "$tmp/back" "$in"
done

echo "== input and output paths"
check "stdin to stdout" bash -c '"$1" inject <"$2" | cmp -s - "$3"' _ "$ward" \
  "$kube/in/pod.yaml" "$kube/golden/pod.yaml"
check "-o FILE writes the file" bash -c '"$1" inject -f "$2" -o "$3" && cmp -s "$3" "$4"' _ \
  "$ward" "$kube/in/pod.yaml" "$tmp/written.yaml" "$kube/golden/pod.yaml"
check "JSON in, JSON out" bash -c 'python3 -m json.tool "$1" >/dev/null' _ "$kube/golden/list.json"

echo "== bad input"
for in in "$kube"/bad/*.yaml "$kube"/bad/*.json; do
  name=$(basename "$in")
  base=${name%.*}
  cmd=inject
  [ -f "$kube/bad/$base.cmd" ] && cmd=$(cat "$kube/bad/$base.cmd")
  echo "keep me" >"$tmp/target"
  set +e
  "$ward" "$cmd" -f "$in" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  "$ward" "$cmd" -f "$in" -o "$tmp/target" 2>/dev/null
  set -e
  check "$name: exit status 1" test "$rc" -eq 1
  check "$name: nothing on stdout" test ! -s "$tmp/out"
  echo "ward $cmd: $(cat "$kube/bad/$base.err")" >"$tmp/want"
  check "$name: the error names the document and field" same "$tmp/err" "$tmp/want"
  check "$name: -o FILE left alone" bash -c '[ "$(cat "$1")" = "keep me" ]' _ "$tmp/target"
done
check "no temporary files left behind" bash -c '[ -z "$(ls "$1" | grep target.)" ]' _ "$tmp"

echo "== usage"
check "bad injector config names the key" bash -c \
  '"$1" inject --config <(echo "{\"log_level\": \"loud\"}") </dev/null 2>&1 |
   grep -q "log_level: .loud. is not one of debug, info, warn, error"' _ "$ward"
check "unknown injector config key" bash -c \
  '"$1" inject --config <(echo "{\"imag\": \"x\"}") </dev/null 2>&1 | grep -q "imag: unknown key"' \
  _ "$ward"
check "bad agent_defaults names the agent's key" bash -c \
  '"$1" inject --config <(echo "{\"agent_defaults\": {\"inbound\": {\"mode\": \"loud\"}}}") </dev/null 2>&1 |
   grep -q "agent_defaults: inbound.mode: must be one of strict, permissive"' _ "$ward"
check "agent_defaults must be an object" bash -c \
  '"$1" inject --config <(echo "{\"agent_defaults\": []}") </dev/null 2>&1 |
   grep -q "agent_defaults: must be a JSON object"' _ "$ward"
check "rewrite_probes must be a bool" bash -c \
  '"$1" inject --config <(echo "{\"rewrite_probes\": \"no\"}") </dev/null 2>&1 |
   grep -q "rewrite_probes: must be true or false"' _ "$ward"
check "usage error exits 2" bash -c '"$1" inject --nope </dev/null 2>/dev/null; [ $? -eq 2 ]' _ "$ward"

summary inject
