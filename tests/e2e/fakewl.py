#!/usr/bin/python3
"""fakewl.py SOCKET MODE ...: a deliberately minimal, misbehaving-on-demand
SPIFFE Workload API server for ward's bad-input tests (standard library only).
It speaks just enough HTTP/2 (RFC 9113) and HPACK (RFC 7541, static table and
literals only) to answer one gRPC call per stream. It answers as soon as a
call's HEADERS frame arrives, without waiting for the request message, and
sends no RST_STREAM after a complete answer: both allowed (RFC 9113, section
8.1), and a client must cope with the answer coming before its request is
all sent.

Modes:
  garbage                      write non-HTTP/2 bytes to every client, close
  svid CERT KEY BUNDLE [ID]    answer FetchX509SVID with one X509SVIDResponse
                               built from PEM files, then keep the stream open
  status CODE MESSAGE          answer with grpc-status CODE (trailers-only)
  flaky CODE MESSAGE SECONDS CERT KEY BUNDLE [ID]
                               answer grpc-status CODE (trailers-only) from the
                               first call until SECONDS after it, then as svid:
                               a registration entry that appears late

With FAKEWL_LOG=FILE, every call appends a line to FILE:
  <unix ms> conn=<n> stream=<id> refused <CODE> | served
"""
import base64
import os
import re
import socket
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY = 0, 1, 4, 6, 7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def pem_blocks(path):
    text = open(path).read()
    return [base64.b64decode(b) for b in
            re.findall(r"-----BEGIN [A-Z ]+-----(.*?)-----END", text, re.S)]


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def svid_response(cert, key, bundle, spiffe_id):
    svid = (field(1, spiffe_id.encode()) + field(2, b"".join(pem_blocks(cert))) +
            field(3, pem_blocks(key)[0]) + field(4, b"".join(pem_blocks(bundle))))
    return field(1, svid)


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def literal(name, value):
    """HPACK literal header field without indexing, new name (RFC 7541 6.2.2)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def response_headers(extra=b""):
    # :status 200 is static entry 8; content-type is static entry 31.
    ctype = b"application/grpc"
    return b"\x88" + b"\x0f\x10" + bytes([len(ctype)]) + ctype + extra


def read_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class Calls:
    """When the first call came (flaky's clock) and the call log."""
    lock = threading.Lock()
    first = None
    conns = 0

    @classmethod
    def conn(cls):
        with cls.lock:
            cls.conns += 1
            return cls.conns

    @classmethod
    def refuse(cls, seconds):
        with cls.lock:
            now = time.monotonic()
            if cls.first is None:
                cls.first = now
            return now < cls.first + seconds

    @classmethod
    def log(cls, conn, stream, what):
        path = os.environ.get("FAKEWL_LOG")
        if path:
            with cls.lock, open(path, "a") as f:
                f.write("%d conn=%d stream=%d %s\n" % (time.time() * 1000, conn, stream, what))


def answer(c, conn, stream, mode, args):
    if mode == "flaky":
        if Calls.refuse(float(args[2])):
            mode, args = "status", args[:2]
        else:
            mode, args = "svid", args[3:]
    if mode == "status":
        trailers = literal(b"grpc-status", args[0].encode()) + \
            literal(b"grpc-message", args[1].encode())
        Calls.log(conn, stream, "refused " + args[0])
        c.sendall(frame(HEADERS, END_HEADERS | END_STREAM, stream, response_headers(trailers)))
    else:
        msg = svid_response(*args[:3], args[3] if len(args) > 3 else
                            "spiffe://example.org/ns/default/sa/client")
        Calls.log(conn, stream, "served")
        c.sendall(frame(HEADERS, END_HEADERS, stream, response_headers()) +
                  frame(DATA, 0, stream, b"\0" + struct.pack(">I", len(msg)) + msg))


def serve_h2(c, mode, args):
    if read_exact(c, len(PREFACE)) != PREFACE:
        return
    c.sendall(frame(SETTINGS, 0, 0))
    conn = Calls.conn()
    while True:
        hdr = read_exact(c, 9)
        length = struct.unpack(">I", b"\0" + hdr[:3])[0]
        ftype, flags, stream = hdr[3], hdr[4], struct.unpack(">I", hdr[5:])[0] & 0x7FFFFFFF
        payload = read_exact(c, length)
        if ftype == SETTINGS and not flags & ACK:
            c.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            c.sendall(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            return
        elif ftype == HEADERS:
            answer(c, conn, stream, mode, args)


def handle(c, mode, args):
    try:
        if mode == "garbage":
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\nthis is not HTTP/2 or gRPC\r\n" * 4)
        else:
            serve_h2(c, mode, args)
    except (EOFError, OSError):
        pass
    finally:
        c.close()


def main(argv):
    path, mode, args = argv[1], argv[2], argv[3:]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o777)
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, mode, args), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
