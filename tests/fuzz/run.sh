#!/usr/bin/env bash
# Builds each libFuzzer target into $BUILD/fuzz (default build/fuzz) and runs it
# for FUZZ_SECONDS (default 60) on a corpus kept under $BUILD/fuzz/corpus.
# Exits non-zero if a target fails to build or finds a crash, leak or
# sanitizer report; the reproducer is left in $BUILD/fuzz/crashes.
#   tests/fuzz/run.sh [target...]      (from the repo root; default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${BUILD:-build}/fuzz
seconds=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang}
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.)

# Sources each target needs besides its own file.
# (inject_opts.c checks agent_defaults with the agent's config loader.)
kube_srcs="kube/manifest.c kube/yaml_read.c kube/yaml_write.c kube/yaml_scalar.c kube/inject.c
  kube/inject_opts.c kube/sidecar.c kube/workload.c kube/probes.c config/capture.c config/probe.c
  config/config.c lib/tls_profile.c lib/addr.c spiffe/id.c spiffe/pattern.c
  lib/json.c lib/buf.c lib/err.c lib/file.c"
declare -A srcs=(
  [fuzz_spiffe_id]="spiffe/id.c spiffe/pattern.c lib/err.c"
  [fuzz_workload_msg]="spiffe/workload_msg.c spiffe/proto.c spiffe/grpc.c spiffe/id.c lib/buf.c lib/err.c"
  [fuzz_http]="lib/http_parse.c lib/buf.c lib/err.c"
  [fuzz_manifest]="$kube_srcs"
  [fuzz_admission]="$kube_srcs kube/admission.c kube/patch.c"
  [fuzz_app_probes]="agent/app_probe_parse.c config/probe.c lib/json.c spiffe/grpc.c spiffe/proto.c
    lib/buf.c lib/err.c"
)
# Libraries each target links besides the sanitizer runtimes.
declare -A libs=(
  [fuzz_http]="-lhttp_parser"
  [fuzz_manifest]="-ljansson -lyaml -lwolfssl"
  [fuzz_admission]="-ljansson -lyaml -lwolfssl"
  [fuzz_app_probes]="-ljansson -lcurl"
)
# Seed inputs: valid and nearly valid IDs.
declare -A seeds=(
  [fuzz_spiffe_id]="spiffe://example.org/ns/default/sa/web spiffe://example.org spiffe://example.org/** spiffe://Example.org/a//b/../c?x#y"
)
# Seed inputs: what ward inject writes for tests/kube/in/probes.yaml.
seeds[fuzz_app_probes]='{"/app-health/web/liveness":{"tcpSocket":{"port":8080}},"/app-health/web/readiness":{"httpGet":{"httpHeaders":[{"name":"X-Probe","value":"kubelet"}],"path":"/healthz?full=1","port":8080,"scheme":"HTTPS"},"timeoutSeconds":2},"/app-health/web/startup":{"grpc":{"port":9090,"service":"web"},"timeoutSeconds":60}}'
# Seed files: the golden-test inputs.
declare -A seed_files=(
  [fuzz_manifest]="tests/kube/in/*.yaml tests/kube/in/*.json tests/kube/bad/*.yaml"
)
# Binary seed inputs, in hex: an X509SVIDResponse and an X509BundlesResponse
# (as in tests/unit/test_workload_msg.c), the first again in a gRPC frame, two
# DER elements, and a percent-encoded grpc-message.
declare -A hex_seeds=(
  [fuzz_workload_msg]="0a1e0a0d7370696666653a2f2f74642f77120230001a023000220230002a01781a120a0c7370696666653a2f2f66656412023000 0a01ff12110a0b7370696666653a2f2f746412023000 00000000340a1e0a0d7370696666653a2f2f74642f77120230001a023000220230002a01781a120a0c7370696666653a2f2f66656412023000 30030201003000 6e6f25323053564944253235"
)

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${!srcs[@]}")
mkdir -p "$build/crashes"
fail=0
for t in "${targets[@]}"; do
  [ -n "${srcs[$t]:-}" ] || { echo "fuzz: unknown target $t" >&2; exit 2; }
  echo "fuzz: building $t" >&2
  # shellcheck disable=SC2086
  "$cc" "${flags[@]}" -o "$build/$t" "tests/fuzz/$t.c" ${srcs[$t]} ${libs[$t]:-}
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  i=0
  for s in ${seeds[$t]:-}; do printf '%s' "$s" >"$corpus/seed-$i"; i=$((i + 1)); done
  for s in ${hex_seeds[$t]:-}; do
    printf '%b' "$(sed 's/../\\x&/g' <<<"$s")" >"$corpus/seed-$i"
    i=$((i + 1))
  done
  # shellcheck disable=SC2086
  for f in ${seed_files[$t]:-}; do cp "$f" "$corpus/seed-$(basename "$f")"; done
  echo "fuzz: running $t for ${seconds}s" >&2
  if ! "$build/$t" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$t-" "$corpus" >"$build/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; see $build/$t.log and $build/crashes/" >&2
    tail -n 30 "$build/$t.log" >&2
    fail=1
  else
    echo "fuzz: $t ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build/$t.log" | grep -o '[0-9]*$') runs)" >&2
  fi
done
exit "$fail"
