#!/usr/bin/env python3
"""Many Workload API streams on ONE HTTP/2 connection, with nothing but the
standard library (curl cannot multiplex uploads reliably), for the e2e tests
of `ward server`:

  h2streams.py SOCKET N SECONDS [WINDOW]

Opens N FetchX509SVID streams at once on one connection to the unix socket,
reads for up to SECONDS until every stream has a whole gRPC message, and
prints {"streams": N, "complete": K, "spiffe_ids": [...]} (the SPIFFE ID of
each stream's first SVID, decoded with wlapi.py). Request headers are HPACK
literals without indexing (RFC 7541 §6.2.2), which need no table; response
headers are not decoded, only DATA is read. Exits 1 on a GOAWAY or a reset.
With WINDOW, the streams' initial flow-control window (RFC 9113 §6.9.2) is
WINDOW bytes and never opened further: WINDOW 0 is a workload whose streams
never take a byte, for a forced rotation to wait on."""
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wlapi  # noqa: E402

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def literal(name, value):
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request(stream):
    block = b"".join(literal(n, v) for n, v in (
        (":method", "POST"), (":scheme", "http"),
        (":path", "/SpiffeWorkloadAPI/FetchX509SVID"), (":authority", "localhost"),
        ("content-type", "application/grpc"), ("te", "trailers"),
        ("workload.spiffe.io", "true")))
    return frame(HEADERS, END_HEADERS, stream, block) + \
        frame(DATA, END_STREAM, stream, b"\x00\x00\x00\x00\x00")


def read_frame(sock, buf):
    while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    n = int.from_bytes(buf[:3], "big")
    kind, flags = buf[3], buf[4]
    stream = struct.unpack(">I", buf[5:9])[0] & 0x7FFFFFFF
    return kind, flags, stream, bytes(buf[9:9 + n]), buf[9 + n:]


def main():
    path, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    window = int(sys.argv[4]) if len(sys.argv) > 4 else None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    streams = [1 + 2 * i for i in range(n)]
    settings = b"" if window is None else struct.pack(">HI", 4, window)  # INITIAL_WINDOW_SIZE
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0, settings)
    sock.sendall(out + b"".join(request(s) for s in streams))
    bodies = {s: b"" for s in streams}
    deadline = time.time() + secs
    buf = b""

    def complete(s):
        try:
            return len(wlapi.frames(bodies[s])) > 0
        except ValueError:
            return False

    while time.time() < deadline and not all(complete(s) for s in streams):
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            kind, flags, stream, payload, buf = read_frame(sock, buf)
        except socket.timeout:
            break
        if kind == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif kind == DATA and stream in bodies:
            bodies[stream] += payload
            if payload and window is None:  # keep both flow-control windows open
                inc = struct.pack(">I", len(payload))
                sock.sendall(frame(WINDOW, 0, 0, inc) + frame(WINDOW, 0, stream, inc))
        elif kind in (RST, GOAWAY):
            sys.exit("h2streams.py: %s on stream %d" % ("RST_STREAM" if kind == RST
                                                        else "GOAWAY", stream))
    ids = []
    for s in streams:
        if complete(s):
            msg = wlapi.frames(bodies[s])[0]
            svids = [v for num, _, v in wlapi.fields(msg) if num == 1]
            first = {num: v for num, _, v in wlapi.fields(svids[0])} if svids else {}
            ids.append(first.get(1, b"").decode())
    print(json.dumps({"streams": n, "complete": len(ids), "spiffe_ids": sorted(set(ids))}))
    sock.close()


if __name__ == "__main__":
    main()
