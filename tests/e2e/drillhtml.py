#!/usr/bin/python3
"""Opens a `ward drill --html` page in Debian's headless chromium and checks
that it renders as a page of its own (standard library only):

  drillhtml.py PAGE REPORT.json SCREENSHOT.png

Chromium runs twice on a fresh profile (no network features, no GPU): once
to dump the DOM after load, once for a screenshot. Its console output (every
console message, script error or Content-Security-Policy refusal is logged
as CONSOLE) must be empty. The DOM must hold the SVG timeline, one line per
rotation of the report, and per rotation per agent a marker for each time
the report says that agent served the new SVID or trusted the new CA, and a cross for
each agent a rotation never reached; the verdict shown must be the report's. Prints what it found as JSON; exits 1
with the reasons when something is off.

  drillhtml.py --self-test DIR   shows that a page with a console error or a
                                 missing marker is caught (the checker can fail)
"""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--window-size=1200,1600"]


def chromium(args, page):
    profile = tempfile.mkdtemp(prefix="ward-chromium-")
    try:
        run = subprocess.run(["chromium"] + FLAGS + ["--user-data-dir=" + profile] + args +
                             ["file://" + os.path.abspath(page)],
                             capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return run.returncode, run.stdout, console


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []  # (tag, attrs)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def having(self, tag, cls):
        return [a for t, a in self.tags if t == tag and cls in a.get("class", "").split()]


def expected(report):
    rotations = report["rotations"]
    svid = sum(1 for r in rotations for a in r["agents"] if a.get("svid_ms") is not None)
    ca = sum(1 for r in rotations for a in r["agents"] if a.get("bundle_ms") is not None)
    missed = sum(1 for r in rotations if r.get("ok", True) for a in r["agents"]
                 if (r["kind"] != "bundle" and a.get("svid_ms") is None)
                 or ("new_ca" in r and a.get("bundle_ms") is None))
    return len(rotations), svid, ca, missed


def check(page, report_path, shot):
    errors = []
    report = json.load(open(report_path))
    rc, dom_text, console = chromium(["--dump-dom"], page)
    if rc != 0:
        errors.append("chromium --dump-dom exited %d" % rc)
    errors += ["console: " + line for line in console]
    dom = Dom()
    dom.feed(dom_text)
    n_rot, n_svid, n_ca, n_missed = expected(report)
    found = {
        "svg": len([a for t, a in dom.tags if t == "svg" and a.get("id") == "timeline"]),
        "rotation_lines": len(dom.having("line", "rotation")),
        "svid_markers": len(dom.having("circle", "agent-svid")),
        "ca_markers": len(dom.having("path", "agent-ca")),
        "missed_markers": len(dom.having("path", "agent-missed")),
        "scripts": len([1 for t, _ in dom.tags if t == "script"]),
        "verdict": "PASS" if ">PASS</span>" in dom_text else "FAIL" if ">FAIL</span>" in dom_text
        else None,
    }
    want = {"svg": 1, "rotation_lines": n_rot, "svid_markers": n_svid, "ca_markers": n_ca,
            "missed_markers": n_missed, "scripts": 0, "verdict": "PASS" if report["verdict"]["pass"] else "FAIL"}
    for k, v in want.items():
        if found[k] != v:
            errors.append("%s: found %r, want %r" % (k, found[k], v))
    rc, _, console = chromium(["--screenshot=" + os.path.abspath(shot)], page)
    errors += ["console (screenshot run): " + line for line in console]
    size = os.path.getsize(shot) if os.path.exists(shot) else 0
    if rc != 0 or size < 10000:
        errors.append("screenshot: chromium exited %d, %d bytes" % (rc, size))
    found["screenshot_bytes"] = size
    found["console_lines"] = len(console)
    print(json.dumps(found))
    for e in errors:
        print("drillhtml: " + e, file=sys.stderr)
    return 1 if errors else 0


def self_test(d):
    """The checker must catch a script error and a missing marker."""
    report = {"rotations": [{"kind": "svids", "agents": [{"svid_ms": 1.0, "bundle_ms": None}]}],
              "verdict": {"pass": True}}
    rp = os.path.join(d, "r.json")
    json.dump(report, open(rp, "w"))
    good = ('<!DOCTYPE html><html><body><h1><span>PASS</span></h1><svg id="timeline">'
            '<line class="marker rotation"/><circle class="marker agent-svid"/></svg>'
            '%s</body></html>')
    pages = {"ok": good % "", "script": good % "<script>nope();</script>",
             "marker": good.replace('<circle class="marker agent-svid"/>', "") % ""}
    got = {}
    for name, text in pages.items():
        p = os.path.join(d, name + ".html")
        open(p, "w").write(text)
        with open(os.devnull, "w") as null:
            old = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = null
            try:
                got[name] = check(p, rp, os.path.join(d, name + ".png"))
            finally:
                sys.stdout, sys.stderr = old
    # The tiny pages make small screenshots: only the console and DOM checks count here.
    ok = got["script"] == 1 and got["marker"] == 1
    print(json.dumps({"caught_script_error": got["script"] == 1,
                      "caught_missing_marker": got["marker"] == 1}))
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "--self-test":
        sys.exit(self_test(sys.argv[2]))
    sys.exit(check(sys.argv[1], sys.argv[2], sys.argv[3]))
