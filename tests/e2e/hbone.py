#!/usr/bin/python3
"""hbone.py: an HBONE client that shares no code with ward, for the tunnel
e2e: Python's ssl (TLS 1.3, a client certificate, ALPN h2) and the h2
package (Debian's python3-h2) against a ward agent's tunnel port.

  hbone.py HOST PORT CERT KEY CA AUTHORITY [--send TEXT] [--streams N]
           [--method M] [--expect STATUS]

Opens N (default 1) CONNECT streams for AUTHORITY ("ip:port") on one TLS
connection, with a Forwarded header. With --send, each stream that got 200
sends "TEXT-<i>\\n", ends its side (END_STREAM), and must read exactly that
back before the server ends its side. --method sends another method (with
:scheme and :path, as a non-CONNECT request must). Prints one line per
stream, "stream ID status S [echo ok]"; exits 0 when every status is
--expect (default 200) and every echo came back."""
import argparse
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def tls(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # identity is the SPIFFE ID, not a host name
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((args.host, args.port), timeout=10)
    s = ctx.wrap_socket(raw)
    if s.selected_alpn_protocol() != "h2":
        sys.exit("hbone.py: ALPN %r, not h2" % s.selected_alpn_protocol())
    return s


def headers(args, i):
    if args.method == "CONNECT":
        h = [(":method", "CONNECT"), (":authority", args.authority)]
    else:
        h = [(":method", args.method), (":scheme", "https"), (":path", "/"),
             (":authority", args.authority)]
    return h + [("forwarded", 'for="192.0.2.%d:%d"' % (i % 250 + 1, 40000 + i))]


def run(args):
    s = tls(args)
    # h2 4.1 wants :scheme and :path in every request it sends, a plain
    # CONNECT included (RFC 9113 §8.5 forbids them there): its outbound
    # check is off, what ward receives is what the RFC says.
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
    conn.initiate_connection()
    streams = {}
    for i in range(args.streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers(args, i))
        streams[sid] = {"i": i, "status": None, "got": b"", "ended": False, "reset": False}
    s.sendall(conn.data_to_send())
    pending = set(streams)
    while pending:
        data = s.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            st = streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                st["status"] = int(dict(ev.headers)[b":status"])
                if st["status"] != 200 or not args.send:
                    pending.discard(ev.stream_id)
                    continue
                conn.send_data(ev.stream_id, ("%s-%d\n" % (args.send, st["i"])).encode(),
                               end_stream=True)
            elif isinstance(ev, h2.events.DataReceived):
                st["got"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st["ended"] = True
                pending.discard(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                st["reset"] = True
                pending.discard(ev.stream_id)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                pending.clear()
        s.sendall(conn.data_to_send())
    ok = True
    for sid, st in sorted(streams.items()):
        line = "stream %d status %s" % (sid, st["status"])
        good = st["status"] == args.expect
        if args.send and st["status"] == 200:
            echo = st["got"] == ("%s-%d\n" % (args.send, st["i"])).encode() and st["ended"]
            line += " echo %s" % ("ok" if echo else "BAD %r" % st["got"][:60])
            good = good and echo
        print(line)
        ok = ok and good
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    for a in ("host", "port", "cert", "key", "ca", "authority"):
        p.add_argument(a, type=int if a == "port" else str)
    p.add_argument("--send")
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--method", default="CONNECT")
    p.add_argument("--expect", type=int, default=200)
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
