#!/usr/bin/python3
"""A plain TCP app that says who connected to it (standard library only).

  serve ADDR PORT [NAME [first]]
                          listen on ADDR (an IPv4 or IPv6 literal) only; on each
                          connection first send "NAME peer=IP:PORT\\n" (what
                          accept() returned); with "first", then read 16 bytes
                          and send "first16=HEX\\n" (a server-first protocol:
                          the client has sent nothing); then echo until EOF
  ask HOST PORT           connect, print the first line
  lines HOST PORT N [HOLD_S [SRCPORT]]
                          connect (from SRCPORT if given), send nothing, print
                          the first N lines, then keep the connection HOLD_S s
  raw HOST PORT HEX       connect, send the bytes HEX, print what comes back
                          before the server closes (or "(nothing)")
"""
import socket
import sys
import threading
import time

TIMEOUT = 10


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def show(addr):
    return "[%s]:%d" % addr[:2] if ":" in addr[0] else "%s:%d" % addr[:2]


def recv_exactly(c, n):
    got = b""
    while len(got) < n:
        d = c.recv(n - len(got))
        if not d:
            break
        got += d
    return got


def handle(c, peer, name, first):
    try:
        c.sendall(("%s peer=%s\n" % (name, show(peer))).encode())
        if first:
            c.sendall(("first16=%s\n" % recv_exactly(c, 16).hex()).encode())
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()


def serve(addr, port, name="app", first=None):
    s = socket.socket(family(addr))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(addr) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, int(port)))
    s.listen(128)
    while True:
        c, peer = s.accept()
        threading.Thread(target=handle, args=(c, peer, name, first == "first"), daemon=True).start()


def connect(host, port, srcport=None):
    c = socket.socket(family(host))
    c.settimeout(TIMEOUT)
    if srcport:
        c.bind(("::" if family(host) == socket.AF_INET6 else "0.0.0.0", int(srcport)))
    c.connect((host, int(port)))
    return c


def lines(host, port, n, hold=0, srcport=None):
    c = connect(host, port, srcport)
    got = b""
    while got.count(b"\n") < int(n):
        d = c.recv(4096)
        if not d:
            break
        got += d
    print(b"\n".join(got.split(b"\n")[: int(n)]).decode(errors="replace").strip(), flush=True)
    time.sleep(float(hold))
    c.close()
    return 0 if got else 1


def ask(host, port):
    return lines(host, port, 1)


def raw(host, port, hexbytes):
    c = connect(host, port)
    c.sendall(bytes.fromhex(hexbytes))
    got = b""
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            got += d
    except OSError:
        pass
    print(got.decode(errors="replace").strip() or "(nothing)")
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    return {"serve": serve, "ask": ask, "lines": lines, "raw": raw}[cmd](*args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
