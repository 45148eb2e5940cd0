-- wrk script for tests/bench/bench.sh. Adds one machine-readable line after
-- wrk's own report. With `-- DELAY_MS`, each connection waits DELAY_MS before
-- every request, so C connections send about C*1000/DELAY_MS requests/s
-- (wrk's delay() hook; wrk itself has no fixed-rate mode).
local delay_ms = 0

function init(args)
  delay_ms = tonumber(args[1] or "0") or 0
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
