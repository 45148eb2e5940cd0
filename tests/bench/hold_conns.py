#!/usr/bin/python3
"""Opens N connections to HOST:PORT and keeps them open and idle until killed.
Mode "request" (default) first sends one keep-alive HTTP GET on each and reads
the whole response (every connection proven end to end, through any proxies);
mode "echo" sends 1 KiB on each and reads it back (an echo server); mode
"connect" sends nothing (the caller checks the far end).  Prints "held N"
once done; exits 1 if any connection or response fails.
    hold_conns.py HOST PORT N [request|echo|connect]"""
import socket
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "request"
req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
socks = []
try:
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        socks.append(s)
    for s in socks if mode == "echo" else []:
        s.sendall(b"e" * 1024)
    for s in socks if mode == "echo" else []:
        got = b""
        while len(got) < 1024:
            d = s.recv(65536)
            if not d:
                raise OSError("connection closed before the echo")
            got += d
    for s in socks if mode == "request" else []:
        s.sendall(req)
    for s in socks if mode == "request" else []:
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise OSError("connection closed before the response")
            buf += d
        head, body = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            raise OSError("bad response: %r" % head[:40])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            d = s.recv(65536)
            if not d:
                raise OSError("connection closed mid-body")
            body += d
except OSError as e:
    print("hold_conns: %d/%d connections: %s" % (len(socks), n, e), file=sys.stderr, flush=True)
    sys.exit(1)
print("held %d" % len(socks), flush=True)
while True:
    time.sleep(3600)
