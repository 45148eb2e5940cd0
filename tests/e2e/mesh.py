#!/usr/bin/python3
"""Small TCP peers for ward's mesh e2e tests (standard library only).

Servers (each connection in its own thread, forever):
  echo PORT             echo every byte until EOF, then close (half-close aware)
  banner PORT           send "220 ward-banner\\r\\n" on accept, then echo
  eof PORT              read to EOF, then reply "got N SHA256" and close
  http PORT             HTTP/1.1 with keep-alive: every GET gets 200 "ok\\n"
  flaky PORT SECONDS    echo, but reset every connection SECONDS after it opened
Clients (exit 0 on success, print why otherwise):
  bulk HOST PORT BYTES  send BYTES random bytes while reading the echo at the
                        same time on one connection; sha256 both ways must match
  halfclose HOST PORT BYTES  send, shutdown(SHUT_WR), then expect the full reply
  banner-get HOST PORT  expect the banner before sending anything
  many HOST PORT N      N concurrent connections, each echoing its own payload
  send HOST PORT TEXT   send TEXT, expect it echoed back
  hold HOST PORT        one long-lived connection; each stdin line is sent and
                        must come back; prints "ok LINE" / "fail LINE ..." per line;
                        "quit" half-closes and exits 0 once the server closes
  load HOST PORT STOPFILE  new connections one after another (10 ms apart), each
                        echoing its own payload, until STOPFILE exists; prints
                        "load: N ok, M failed [first errors]"; exit 0 if none failed
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time

TIMEOUT = float(os.environ.get("MESH_TIMEOUT", "20"))


def serve(port, handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    while True:
        c, _ = s.accept()
        threading.Thread(target=guard, args=(handler, c), daemon=True).start()


def guard(handler, c):
    try:
        handler(c)
    except OSError:
        pass
    finally:
        c.close()


def h_echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)


def h_banner(c):
    c.sendall(b"220 ward-banner\r\n")
    h_echo(c)


def h_eof(c):
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
        h.update(d)
    c.sendall(("got %d %s\n" % (n, h.hexdigest())).encode())
    c.shutdown(socket.SHUT_WR)


def h_flaky(c, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        c.settimeout(max(0.01, deadline - time.time()))
        try:
            d = c.recv(65536)
        except socket.timeout:
            break
        if not d:
            return
        c.sendall(d)
    # SO_LINGER 0: close() sends a reset, as a crashing peer would.
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def serve_http(port):
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 1024

    Server(("0.0.0.0", port), Handler).serve_forever()


def connect(host, port):
    c = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    c.settimeout(TIMEOUT)
    return c


def recv_all(c):
    out = []
    while True:
        d = c.recv(65536)
        if not d:
            return b"".join(out)
        out.append(d)


def c_bulk(host, port, nbytes):
    nbytes = int(nbytes)
    c = connect(host, port)
    sent = hashlib.sha256()
    err = []

    def sender():
        try:
            left = nbytes
            while left:
                d = os.urandom(min(left, 65536))
                sent.update(d)
                c.sendall(d)
                left -= len(d)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    got = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        got.update(d)
        n += len(d)
    t.join()
    if err or n != nbytes or got.hexdigest() != sent.hexdigest():
        print("bulk: sent %d %s, got %d %s %s" % (nbytes, sent.hexdigest(), n, got.hexdigest(), err))
        return 1
    print("bulk: %d bytes each way, sha256 %s" % (n, got.hexdigest()))
    return 0


def c_halfclose(host, port, nbytes):
    data = os.urandom(int(nbytes))
    c = connect(host, port)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    reply = recv_all(c).decode(errors="replace").strip()
    want = "got %d %s" % (len(data), hashlib.sha256(data).hexdigest())
    if reply != want:
        print("halfclose: want %r, got %r" % (want, reply))
        return 1
    return 0


def c_banner(host, port):
    c = connect(host, port)
    line = c.makefile("rb").readline()
    if line != b"220 ward-banner\r\n":
        print("banner: got %r" % line)
        return 1
    c.sendall(b"QUIT\r\n")
    c.shutdown(socket.SHUT_WR)
    rest = recv_all(c)
    if rest != b"QUIT\r\n":
        print("banner: echo %r" % rest)
        return 1
    return 0


def one_echo(host, port, payload):
    c = connect(host, port)
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    got = recv_all(c)
    c.close()
    return got == payload


def c_many(host, port, n):
    n = int(n)
    ok = [False] * n
    errs = []
    barrier = threading.Barrier(n, timeout=TIMEOUT)

    def run(i):
        payload = ("conn-%d-" % i).encode() + os.urandom(64).hex().encode()
        try:
            c = connect(host, port)
            barrier.wait()  # all n open at once before any data
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            ok[i] = recv_all(c) == payload
            c.close()
        except (OSError, threading.BrokenBarrierError) as e:
            errs.append("%d: %r" % (i, e))

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    good = sum(ok)
    print("many: %d/%d ok %s" % (good, n, errs[:3]))
    return 0 if good == n else 1


def c_load(host, port, stopfile):
    good, errs = 0, []
    while not os.path.exists(stopfile):
        payload = os.urandom(32).hex().encode()
        try:
            if one_echo(host, port, payload):
                good += 1
            else:
                errs.append("echo mismatch")
        except OSError as e:
            errs.append(repr(e))
        time.sleep(0.01)
    print("load: %d ok, %d failed %s" % (good, len(errs), errs[:3]), flush=True)
    return 0 if good > 0 and not errs else 1


def c_send(host, port, text):
    return 0 if one_echo(host, port, text.encode()) else 1


def c_hold(host, port):
    try:
        c = connect(host, port)
    except OSError as e:
        print("fail connect %s" % e, flush=True)
        return 1
    c.settimeout(None)
    f = c.makefile("rb")
    print("connected", flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            c.shutdown(socket.SHUT_WR)
            c.settimeout(TIMEOUT)
            try:
                rest = f.read()
            except OSError as e:
                print("fail quit %s" % e, flush=True)
                return 1
            print("closed %d" % len(rest), flush=True)
            return 0
        c.settimeout(TIMEOUT)
        try:
            c.sendall((line + "\n").encode())
            back = f.readline().decode(errors="replace").strip()
        except OSError as e:
            back = "error %s" % e
        if back == line:
            print("ok %s" % line, flush=True)
        else:
            print("fail %s got %r" % (line, back), flush=True)
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd in ("echo", "banner", "eof"):
        serve(int(args[0]), {"echo": h_echo, "banner": h_banner, "eof": h_eof}[cmd])
    if cmd == "http":
        serve_http(int(args[0]))
    if cmd == "flaky":
        serve(int(args[0]), lambda c: h_flaky(c, float(args[1])))
    return {"bulk": c_bulk, "halfclose": c_halfclose, "banner-get": c_banner, "many": c_many,
            "send": c_send, "hold": c_hold, "load": c_load}[cmd](*args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
