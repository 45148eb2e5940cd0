#!/usr/bin/python3
"""Bulk source for tests/bench/bench.sh: answers any HTTP request with SIZE
bytes of zeros (Content-Length: SIZE), written from one 1 MiB buffer so the
server costs one write() per MiB and is never the bottleneck.
    bulk_server.py PORT SIZE_BYTES"""
import socket
import sys
import threading

PORT, SIZE = int(sys.argv[1]), int(sys.argv[2])
CHUNK = memoryview(bytes(1 << 20))


def serve(conn):
    with conn:
        req = b""
        while b"\r\n\r\n" not in req:
            data = conn.recv(4096)
            if not data:
                return
            req += data
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % SIZE)
        left = SIZE
        try:
            while left > 0:
                n = min(left, len(CHUNK))
                conn.sendall(CHUNK[:n])
                left -= n
        except OSError:
            return


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", PORT))
srv.listen(128)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
