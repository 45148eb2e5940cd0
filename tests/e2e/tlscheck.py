#!/usr/bin/python3
"""tlscheck.py PCAP PORT MARKER: checks a tcpdump capture (classic pcap,
Ethernet link type) of the wire between two sidecars.
  - MARKER (a plaintext string the app sent) appears in no packet;
  - each TCP stream to PORT, and back, reassembled by sequence number, parses
    as back-to-back TLS records: content type 20..23, legacy version 0x0303
    (0x0301 allowed on the first ClientHello record), length <= 2^14 + 256;
  - the first client record is a Handshake holding a ClientHello, the first
    server record a Handshake holding a ServerHello; at least one
    application_data record flows each way.
Prints a one-line summary; exit 0 when everything holds."""
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        raise SystemExit("not a classic pcap file")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit("link type %d, want Ethernet (1)" % linktype)
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl


def tcp_segments(path):
    for frame in packets(path):
        eth_type = struct.unpack("!H", frame[12:14])[0]
        p = frame[14:]
        if eth_type == 0x0800:
            ihl = (p[0] & 15) * 4
            if p[9] != 6:
                continue
            total = struct.unpack("!H", p[2:4])[0]
            src, dst = p[12:16], p[16:20]
            t = p[ihl:total]
        elif eth_type == 0x86DD:
            if p[6] != 6:
                continue
            plen = struct.unpack("!H", p[4:6])[0]
            src, dst = p[8:24], p[24:40]
            t = p[40:40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack("!HHI", t[:8])
        doff = (t[12] >> 4) * 4
        flags = t[13]
        yield (src, sport, dst, dport), seq, flags, t[doff:]


def reassemble(segs):
    """segs: [(seq, flags, payload)] of one direction -> ordered byte stream."""
    isn = None
    for seq, flags, _ in segs:
        if flags & 0x02:  # SYN
            isn = seq + 1
    if isn is None:
        isn = min(s for s, _, p in segs if p) if any(p for _, _, p in segs) else 0
    buf = {}
    for seq, _, payload in segs:
        if payload:
            buf[(seq - isn) & 0xFFFFFFFF] = payload
    out = bytearray()
    for rel in sorted(buf):
        if rel > len(out):
            raise ValueError("gap in stream at %d" % len(out))
        out[rel:rel + len(buf[rel])] = buf[rel]
    return bytes(out)


def records(stream):
    """Yields (content_type, version, body); raises on anything not TLS."""
    off = 0
    while off < len(stream):
        if off + 5 > len(stream):
            raise ValueError("truncated record header at %d" % off)
        ctype, ver, length = struct.unpack("!BHH", stream[off:off + 5])
        if ctype not in (20, 21, 22, 23):
            raise ValueError("content type %d at offset %d" % (ctype, off))
        if ver != 0x0303 and not (off == 0 and ver == 0x0301):
            raise ValueError("legacy version 0x%04x at offset %d" % (ver, off))
        if length > 16384 + 256:
            raise ValueError("record length %d at offset %d" % (length, off))
        body = stream[off + 5:off + 5 + length]
        if len(body) < length:  # capture may end mid-record; fine at the tail
            return
        yield ctype, ver, body
        off += 5 + length


def main():
    path, port, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    streams = {}
    raw = b""
    for key, seq, flags, payload in tcp_segments(path):
        streams.setdefault(key, []).append((seq, flags, payload))
        raw += payload
    problems = []
    if marker in raw:
        problems.append("plaintext marker found on the wire")
    conns = [k for k in streams if k[3] == port]
    if not conns:
        problems.append("no TCP stream to port %d captured" % port)
    n_records = {"c": 0, "s": 0}
    hello = {"c": 0, "s": 0}
    appdata = {"c": 0, "s": 0}
    for k in conns:
        rev = (k[2], k[3], k[0], k[1])
        for side, key in (("c", k), ("s", rev)):
            segs = streams.get(key, [])
            if not any(p for _, _, p in segs):
                continue
            try:
                recs = list(records(reassemble(segs)))
            except ValueError as e:
                problems.append("%s stream %s:%d: %s" % (side, key[0].hex(), key[1], e))
                continue
            n_records[side] += len(recs)
            if recs and recs[0][0] == 22 and recs[0][2][:1] == (b"\x01" if side == "c" else b"\x02"):
                hello[side] += 1
            appdata[side] += sum(1 for r in recs if r[0] == 23)
    if not hello["c"]:
        problems.append("no ClientHello seen")
    if not hello["s"]:
        problems.append("no ServerHello seen")
    if not appdata["c"] or not appdata["s"]:
        problems.append("no application_data both ways")
    print("tlscheck: %d conns, records c=%d s=%d, hellos c=%d s=%d, appdata c=%d s=%d%s" % (
        len(conns), n_records["c"], n_records["s"], hello["c"], hello["s"], appdata["c"],
        appdata["s"], "; " + "; ".join(problems) if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
