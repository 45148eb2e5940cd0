#!/usr/bin/env python3
"""The test apps of tests/pods/run.sh, as plain as users' apps: no TLS, no
knowledge of ward.

  app.py web      HTTP on :8080 (GET /hello answers "hello from POD", echoing
                  the request's X-Marker header into the pod's log; /healthz
                  is 200 while /tmp/healthy exists (created at start), 503
                  after `rm /tmp/healthy`; /slow answers after 6 s), and a
                  gRPC health service on :9090 (grpchealth.py, same flag)
  app.py idle     does nothing until SIGTERM (a client to `podman exec` into)
"""
import http.server
import os
import signal
import subprocess
import sys
import time

FLAG = "/tmp/healthy"


def stop(*_):
    sys.exit(0)


class Web(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            code, body = (200, "ok") if os.path.exists(FLAG) else (503, "unhealthy")
        elif self.path == "/hello":
            print("request X-Marker=%s" % self.headers.get("X-Marker"), flush=True)
            code, body = 200, "hello from %s" % os.uname().nodename
        elif self.path == "/slow":
            time.sleep(6)
            code, body = 200, "slow"
        else:
            code, body = 404, "no"
        data = (body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def main():
    signal.signal(signal.SIGTERM, stop)
    if sys.argv[1] == "idle":
        while True:
            time.sleep(3600)
    open(FLAG, "w").close()
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.Popen([sys.executable, os.path.join(here, "grpchealth.py"), "9090", "web", FLAG])
    http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Web).serve_forever()


if __name__ == "__main__":
    main()
