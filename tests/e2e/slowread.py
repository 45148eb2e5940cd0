#!/usr/bin/env python3
"""Workload API clients that ask and never read (issue 10, item 6), standard
library only: CONNS connections to the unix socket, each opening STREAMS
FetchX509SVID streams with flow-control windows opened wide (so the server
may send as much as it likes), then never reading a byte. Prints "open N"
once every request is written, then holds until killed.

  slowread.py SOCKET CONNS STREAMS"""
import socket
import struct
import sys
import time

from h2streams import SETTINGS, WINDOW, frame, request

MAX_WINDOW = 2**31 - 1


def main():
    path, conns, streams = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # SETTINGS_INITIAL_WINDOW_SIZE (4) for every stream, and the connection's.
    hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + \
        frame(SETTINGS, 0, 0, struct.pack(">HI", 4, MAX_WINDOW)) + \
        frame(WINDOW, 0, 0, struct.pack(">I", MAX_WINDOW - 65535))
    held = []
    for _ in range(conns):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(path)
        s.sendall(hello + b"".join(request(1 + 2 * i) for i in range(streams)))
        held.append(s)
    print("open %d" % len(held), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
