#!/usr/bin/env bash
# Runs each cmocka binary given, prints its output, and ends with one summary line.
# VALGRIND, if set, is a command prefix (e.g. "valgrind -q --error-exitcode=9").
set -u
pass=0 fail=0
for t in "$@"; do
  if ${VALGRIND:-} "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t" >&2; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
