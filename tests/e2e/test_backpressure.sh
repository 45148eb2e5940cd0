#!/usr/bin/env bash
# Backpressure: an app that reads slower than its peer sends must get every
# byte, with the agents holding at most a bounded buffer instead of reading
# ahead (or giving up). A regression test for a reset once 1 MiB piled up.
source "$(dirname "$0")/lib.sh"
trap ward_cleanup EXIT
need_root

pod_add a 1
pod_add b 2
certs_for a b
LOG_LEVEL=info agent_start a "$(LOG_LEVEL=info agent_config a)"
LOG_LEVEL=info agent_start b "$(LOG_LEVEL=info agent_config b)"
head -c $((24 * 1048576)) /dev/urandom >"$WARD_TMP/blob"
want=$(sha256sum <"$WARD_TMP/blob" | cut -d' ' -f1)
pod_bg b /usr/bin/python3 -m http.server 8080 --directory "$WARD_TMP" --bind 0.0.0.0 2>/dev/null
wait_port b 8080

a_pid=${WARD_PIDS[0]}
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$a_pid/status")
# 24 MiB at 8 MiB/s: the sender is far faster than the reader for 3 seconds.
got=$(pod a curl -sS --max-time 30 --limit-rate 8M "http://$(pod_ip b):8080/blob" | sha256sum | cut -d' ' -f1)
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$a_pid/status")
check "slow reader gets every byte (sha256 matches)" test "$got" = "$want"
check "no relay failure logged" sh -c "! grep -q relay_failed '$WARD_TMP/a.log' '$WARD_TMP/b.log'"
check "agent did not buffer the download (RSS grew $((rss_after - rss_before)) kB)" \
  test $((rss_after - rss_before)) -lt 8192
summary "backpressure e2e"
