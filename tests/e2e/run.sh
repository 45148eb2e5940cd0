#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (each builds its own namespaces and cleans up)
# and ends with one summary line. Needs root.
set -u
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
  echo "e2e: needs root (network namespaces, iptables); run make test as root" >&2
  exit 1
fi
pass=0 fail=0
for t in tests/e2e/test_*.sh; do
  echo "== $t"
  if bash "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
