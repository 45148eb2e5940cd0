#!/usr/bin/python3
"""Samples and reports for tests/bench/soak.sh (standard library only).

  soak_sample.py sample OUT SECONDS NAME=PID[@NETNS]...
      Every SECONDS, one JSON line to OUT per sample: for each process its
      RSS, PSS and USS (private clean + dirty, /proc/PID/smaps_rollup, kB) and
      open descriptors; for each one given a network namespace (an agent), its
      handshake-duration histogram buckets per direction and its SVID
      rotations, from its admin endpoint's /metrics. Runs until killed.
  soak_sample.py report OUT WRK-LINE-FILE...
      Per minute: handshake p99 per direction (from the histogram deltas, as
      Prometheus' histogram_quantile()), rotations, memory and descriptors at
      the minute's end; then the verdict lines the script checks.
"""
import json
import subprocess
import sys
import time

BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
          1, 2.5, 5, float("inf")]


def smaps(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                try:
                    out[parts[0][:-1]] = int(parts[1])
                except ValueError:
                    pass
    return out


def fds(pid):
    import os
    return len(os.listdir("/proc/%d/fd" % pid))


def metrics(netns):
    text = subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "--max-time", "3",
                           "http://127.0.0.1:15020/metrics"],
                          capture_output=True, text=True).stdout
    hist = {"outbound": [0] * len(BOUNDS), "inbound": [0] * len(BOUNDS)}
    rot = 0
    for line in text.splitlines():
        if line.startswith("ward_tls_handshake_duration_seconds_bucket{"):
            labels, value = line[line.index("{") + 1:line.index("}")], float(line.split()[-1])
            kv = dict(p.split("=", 1) for p in labels.split(","))
            d, le = kv["direction"].strip('"'), kv["le"].strip('"')
            i = len(BOUNDS) - 1 if le == "+Inf" else BOUNDS.index(float(le))
            hist[d][i] = int(value)  # cumulative
        elif line.startswith("ward_svid_rotations_total "):
            rot = int(float(line.split()[-1]))
    return hist, rot


def sample(out, secs, procs):
    with open(out, "a") as f:
        while True:
            t0 = time.time()
            s = {"t": round(t0, 1), "proc": {}}
            for name, pid, netns in procs:
                m = smaps(pid)
                p = {"rss": m.get("Rss", 0), "pss": m.get("Pss", 0),
                     "uss": m.get("Private_Clean", 0) + m.get("Private_Dirty", 0),
                     "fds": fds(pid)}
                if netns:
                    p["hist"], p["rotations"] = metrics(netns)
                s["proc"][name] = p
            f.write(json.dumps(s) + "\n")
            f.flush()
            time.sleep(max(0.0, secs - (time.time() - t0)))


def quantile(q, cum):
    """histogram_quantile over cumulative bucket counts."""
    total = cum[-1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0
    for bound, count in zip(BOUNDS, cum):
        if count >= rank:
            if bound == float("inf"):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return BOUNDS[-2]


def report(out, wrk_files):
    samples = [json.loads(line) for line in open(out) if line.strip()]
    if not samples:
        print("soak: no samples")
        return 1
    t0 = samples[0]["t"]
    minutes = {}
    for s in samples:
        minutes.setdefault(int((s["t"] - t0) // 60), []).append(s)
    names = list(samples[0]["proc"])
    agents = [n for n in names if "hist" in samples[0]["proc"][n]]
    print("minute  " + "  ".join("p99 ms %-9s" % (a + " " + d) for a in agents
                                   for d in ("out", "in")) +
          "  rotations  " + "  ".join("%s RSS/USS MiB fds" % n for n in names))
    prev = samples[0]
    for m in sorted(minutes):
        last = minutes[m][-1]
        cols = []
        for a in agents:
            for d in ("outbound", "inbound"):
                delta = [x - y for x, y in zip(last["proc"][a]["hist"][d],
                                               prev["proc"][a]["hist"][d])]
                q = quantile(0.99, delta)
                cols.append("%-16s" % ("-" if q is None else "%.2f (%d)" % (q * 1000, delta[-1])))
        rot = sum(last["proc"][a]["rotations"] - prev["proc"][a]["rotations"] for a in agents)
        mem = ["%5.1f/%5.1f %4d" % (last["proc"][n]["rss"] / 1024, last["proc"][n]["uss"] / 1024,
                                    last["proc"][n]["fds"]) for n in names]
        print("%6d  %s  %9d  %s" % (m + 1, "  ".join(cols), rot, "  ".join(
            "%-21s" % x for x in mem)))
        prev = last
    failed = requests = 0
    for path in wrk_files:
        for line in open(path):
            if line.startswith("WRK "):
                kv = dict(p.split("=") for p in line.split()[1:])
                requests += int(kv["requests"])
                failed += sum(int(kv[k]) for k in ("connect", "read", "write", "status",
                                                   "timeout"))
    # Flat: after the first two minutes (warm-up), the agents' private memory
    # and descriptors at the end are within 10% (and 2 MiB / 16 fds) of then.
    base = minutes[min(2, max(minutes))][-1]
    end = samples[-1]
    flat = True
    for n in names:
        du = end["proc"][n]["uss"] - base["proc"][n]["uss"]
        df = end["proc"][n]["fds"] - base["proc"][n]["fds"]
        ok = du <= max(2048, base["proc"][n]["uss"] // 10) and df <= max(16, base["proc"][n]["fds"] // 10)
        flat = flat and ok
        print("%s: USS %.1f -> %.1f MiB, RSS %.1f -> %.1f MiB, fds %d -> %d (minute 3 -> end): %s" % (
            n, base["proc"][n]["uss"] / 1024, end["proc"][n]["uss"] / 1024,
            base["proc"][n]["rss"] / 1024, end["proc"][n]["rss"] / 1024,
            base["proc"][n]["fds"], end["proc"][n]["fds"], "flat" if ok else "GROWING"))
    rotations = sum(end["proc"][a]["rotations"] - samples[0]["proc"][a]["rotations"]
                    for a in agents)
    print("requests %d, failed %d, SVID rotations %d (all agents)" % (requests, failed, rotations))
    print("soak: %s" % ("PASS" if failed == 0 and flat and requests > 0 else "FAIL"))
    return 0 if failed == 0 and flat and requests > 0 else 1


def main():
    if sys.argv[1] == "sample":
        procs = []
        for arg in sys.argv[4:]:
            name, rest = arg.split("=", 1)
            pid, _, netns = rest.partition("@")
            procs.append((name, int(pid), netns or None))
        sample(sys.argv[2], float(sys.argv[3]), procs)
    else:
        sys.exit(report(sys.argv[2], sys.argv[3:]))


if __name__ == "__main__":
    main()
