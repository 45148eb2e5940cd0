#!/usr/bin/python3
"""What a pcap shows of TLS, with nothing but the Python standard library.

    tlswire.py PCAP [--port N] [--marker TEXT] [--format json|shell]

Reads a classic pcap (what `tcpdump -w` writes; Ethernet, Linux cooked v1/v2
or raw IP), reassembles every TCP stream (optionally only those with port N
at one end), splits each direction into TLS records and reports:

  packets, tcp_streams, payload bytes each way (client = the side that sent SYN,
  or the lower-numbered-port-agnostic first talker when no SYN was seen),
  records by content type, bytes that do not parse as TLS records,
  the first bytes of the ClientHello and what it offers (key shares by group,
  GREASE left out, and their sizes), what the ServerHello selects (cipher, group
  and its code point; a HelloRetryRequest is counted, and the ServerHello
  after it reported), how many ClientHellos and HelloRetryRequests were seen
  (both hellos travel in clear in TLS 1.3; everything after is encrypted),
  and whether MARKER occurs anywhere in the raw capture file or in any
  reassembled stream.

--format shell prints NAME=VALUE lines (values shell-quoted) for `eval`.
Exit status: 0 on success, 2 when the file cannot be read as a pcap.
"""
import json
import shlex
import struct
import sys

CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake",
                 23: "application_data", 24: "heartbeat"}
CIPHERS = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
           0x1303: "TLS_CHACHA20_POLY1305_SHA256", 0x1304: "TLS_AES_128_CCM_SHA256",
           0x1305: "TLS_AES_128_CCM_8_SHA256", 0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"}
GROUPS = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1",
          0x001d: "x25519", 0x001e: "x448", 0x0100: "ffdhe2048", 0x0101: "ffdhe3072",
          0x0102: "ffdhe4096", 0x0103: "ffdhe6144", 0x0104: "ffdhe8192",
          # hybrid post-quantum groups (draft-ietf-tls-ecdhe-mlkem), as IANA spells them
          0x11eb: "SecP256r1MLKEM768", 0x11ec: "X25519MLKEM768", 0x11ed: "SecP384r1MLKEM1024",
          0x6399: "X25519Kyber768Draft00"}
# RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def is_grease(v):
    """RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa), which browsers offer."""
    return v & 0x0f0f == 0x0a0a and v >> 8 == v & 0xff
VERSIONS = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1.0",
            0x0300: "SSLv3"}


def name(table, v):
    return table.get(v, "0x%04x" % v)


def read_pcap(path):
    """Yields (linktype, frame bytes). Raises ValueError on a non-pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("too short for a pcap header (%d bytes)" % len(data))
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        raise ValueError("pcapng is not supported; capture with tcpdump -w (pcap)")
    else:
        raise ValueError("not a pcap file (magic %s)" % magic.hex())
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    frames = []
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        off += 16
        frames.append(data[off:off + incl])
        off += incl
    return data, linktype, frames


def ip_payload(linktype, frame):
    """Returns (ethertype-ish family, ip bytes) or None."""
    if linktype == 1:  # Ethernet
        if len(frame) < 14:
            return None
        et = struct.unpack(">H", frame[12:14])[0]
        off = 14
        while et in (0x8100, 0x88a8) and len(frame) >= off + 4:  # VLAN tags
            et = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
        return et, frame[off:]
    if linktype == 113:  # Linux cooked v1
        return struct.unpack(">H", frame[14:16])[0], frame[16:]
    if linktype == 276:  # Linux cooked v2
        return struct.unpack(">H", frame[0:2])[0], frame[20:]
    if linktype in (101, 12, 14):  # raw IP
        if not frame:
            return None
        return (0x0800 if frame[0] >> 4 == 4 else 0x86DD), frame
    return None


def tcp_segment(et, ip):
    """Returns (src, sport, dst, dport, seq, flags, payload) or None."""
    if et == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        tcp = ip[ihl:total] if total >= ihl else ip[ihl:]
    elif et == 0x86DD and len(ip) >= 40 and ip[6] == 6:  # no extension headers
        plen = struct.unpack(">H", ip[4:6])[0]
        src = "[%s]" % ip[8:24].hex()
        dst = "[%s]" % ip[24:40].hex()
        tcp = ip[40:40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", tcp[0:8])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return src, sport, dst, dport, seq, flags, tcp[doff:]


def reassemble(segs, isn):
    """segs: [(seq, payload)]; isn: sequence number of the first payload byte
    or None. Returns (bytes, gaps)."""
    if isn is None:
        isn = min(s for s, _ in segs) if segs else 0
    out = bytearray()
    gaps = 0
    for seq, p in sorted(((s - isn) & 0xFFFFFFFF, p) for s, p in segs):
        if seq > len(out):
            gaps += 1
            out.extend(b"\0" * (seq - len(out)))
        end = seq + len(p)
        if end > len(out):
            out.extend(p[len(out) - seq:])
    return bytes(out), gaps


def records(stream):
    """Splits a byte stream into TLS records. Returns (list of (type, version,
    body)), number of trailing bytes that are not a (complete) TLS record."""
    recs = []
    off = 0
    while off + 5 <= len(stream):
        ctype, ver, ln = struct.unpack(">BHH", stream[off:off + 5])
        if ctype not in CONTENT_TYPES or ver >> 8 != 3 or off + 5 + ln > len(stream):
            break
        recs.append((ctype, ver, stream[off + 5:off + 5 + ln]))
        off += 5 + ln
    return recs, len(stream) - off


def extensions(b, off):
    exts = {}
    if off + 2 > len(b):
        return exts
    total = struct.unpack(">H", b[off:off + 2])[0]
    off += 2
    end = min(len(b), off + total)
    while off + 4 <= end:
        t, ln = struct.unpack(">HH", b[off:off + 4])
        exts[t] = b[off + 4:off + 4 + ln]
        off += 4 + ln
    return exts


def client_hello(hs):
    """hs: handshake message bytes (type 1). Returns a dict."""
    d = {}
    off = 4 + 2 + 32
    sid = hs[off]
    off += 1 + sid
    n = struct.unpack(">H", hs[off:off + 2])[0]
    d["cipher_suites"] = [name(CIPHERS, struct.unpack(">H", hs[off + 2 + i:off + 4 + i])[0])
                          for i in range(0, n, 2)]
    off += 2 + n
    off += 1 + hs[off]
    exts = extensions(hs, off)
    if 43 in exts:
        v = exts[43]
        d["supported_versions"] = [name(VERSIONS, struct.unpack(">H", v[1 + i:3 + i])[0])
                                   for i in range(0, v[0], 2)]
    if 10 in exts:
        v = exts[10]
        n = struct.unpack(">H", v[0:2])[0]
        d["supported_groups"] = [name(GROUPS, struct.unpack(">H", v[2 + i:4 + i])[0])
                                 for i in range(0, n, 2)]
    if 51 in exts:
        v, o, shares, sizes = exts[51], 2, [], []
        while o + 4 <= len(v):
            g, kl = struct.unpack(">HH", v[o:o + 4])
            if not is_grease(g):
                shares.append(name(GROUPS, g))
                sizes.append(kl)
            o += 4 + kl
        d["key_shares"] = shares
        d["key_share_bytes"] = sizes
    d["sni"] = None
    if 0 in exts and len(exts[0]) > 5:
        v = exts[0]
        ln = struct.unpack(">H", v[3:5])[0]
        d["sni"] = v[5:5 + ln].decode("ascii", "replace")
    d["extensions"] = len(exts)
    return d


def server_hello(hs):
    d = {"hello_retry_request": hs[6:38] == HRR_RANDOM}
    off = 4 + 2 + 32
    off += 1 + hs[off]
    d["cipher"] = name(CIPHERS, struct.unpack(">H", hs[off:off + 2])[0])
    off += 3
    exts = extensions(hs, off)
    if 43 in exts and len(exts[43]) >= 2:
        d["version"] = name(VERSIONS, struct.unpack(">H", exts[43][:2])[0])
    else:
        d["version"] = name(VERSIONS, struct.unpack(">H", hs[4:6])[0])
    if 51 in exts and len(exts[51]) >= 2:  # the selected group (and, unless HRR, its share)
        g = struct.unpack(">H", exts[51][:2])[0]
        d["group"] = name(GROUPS, g)
        d["group_id"] = "0x%04x" % g
    return d


def analyse(path, port=None, marker=None):
    raw, linktype, frames = read_pcap(path)
    flows = {}  # (src, sport, dst, dport) -> {"segs": [], "isn": None}
    order = []
    packets = 0
    for fr in frames:
        ipp = ip_payload(linktype, fr)
        seg = ipp and tcp_segment(*ipp)
        if not seg:
            continue
        src, sport, dst, dport, seq, flags, payload = seg
        if port is not None and port not in (sport, dport):
            continue
        packets += 1
        key = (src, sport, dst, dport)
        fl = flows.get(key)
        if fl is None:
            fl = flows[key] = {"segs": [], "isn": None, "syn": False, "synack": False,
                               "fin": False, "rst": False}
            order.append(key)
        if flags & 0x02:
            fl["isn"] = (seq + 1) & 0xFFFFFFFF
            fl["syn"] = True
            fl["synack"] = bool(flags & 0x10)
        fl["fin"] |= bool(flags & 0x01)
        fl["rst"] |= bool(flags & 0x04)
        if payload:
            fl["segs"].append((seq, payload))

    res = {"packets": packets, "linktype": linktype, "tcp_streams": 0,
           "bytes_client_to_server": 0, "bytes_server_to_client": 0,
           "records": {v: 0 for v in CONTENT_TYPES.values()},
           "records_client_to_server": 0, "records_server_to_client": 0,
           "non_tls_bytes": 0, "gaps": 0, "fin": False, "rst": False,
           "client_hellos": 0, "hello_retry_requests": 0,
           "client_hello": None, "server_hello": None}
    seen = set()
    streams = []
    for key in order:
        src, sport, dst, dport = key
        conn = frozenset([(src, sport), (dst, dport)])
        if conn in seen:
            continue
        seen.add(conn)
        res["tcp_streams"] += 1
        rev = (dst, dport, src, sport)
        a, b = flows[key], flows.get(rev)
        # The client is the side that sent the bare SYN; else the first talker.
        if a["synack"] and b is not None:
            a, b = b, a
            key, rev = rev, key
        for fl, direction in ((a, "client_to_server"), (b, "server_to_client")):
            if fl is None:
                continue
            stream, gaps = reassemble(fl["segs"], fl["isn"])
            streams.append(stream)
            res["gaps"] += gaps
            res["fin"] |= fl["fin"]
            res["rst"] |= fl["rst"]
            res["bytes_" + direction] += len(stream)
            recs, rest = records(stream)
            res["non_tls_bytes"] += rest
            res["records_" + direction] += len(recs)
            for ctype, ver, body in recs:
                res["records"][CONTENT_TYPES[ctype]] += 1
                if ctype != 22 or len(body) < 4:
                    continue
                try:
                    if body[0] == 1:
                        res["client_hellos"] += 1
                    if body[0] == 1 and res["client_hello"] is None:
                        ch = client_hello(body)
                        rec = stream[:5 + len(body)]
                        ch["first_bytes"] = rec[:16].hex(" ")
                        ch["record_version"] = name(VERSIONS, ver)
                        ch["record_length"] = len(body)
                        res["client_hello"] = ch
                    elif body[0] == 2:
                        sh = server_hello(body)
                        sh["record_length"] = len(body)
                        res["hello_retry_requests"] += sh["hello_retry_request"]
                        # The ServerHello that settles the handshake, not a retry request.
                        if res["server_hello"] is None or \
                                res["server_hello"]["hello_retry_request"]:
                            res["server_hello"] = sh
                except (IndexError, struct.error):
                    pass
    if marker is not None:
        m = marker.encode()
        res["marker_in_file"] = m in raw
        res["marker_in_streams"] = any(m in s for s in streams)
        res["marker_found"] = res["marker_in_file"] or res["marker_in_streams"]
    return res


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        k = prefix + k
        if isinstance(v, dict):
            out.update(flatten(v, k + "_"))
        elif isinstance(v, list):
            out[k] = " ".join(map(str, v))
        elif isinstance(v, bool):
            out[k] = "yes" if v else "no"
        elif v is None:
            out[k] = ""
        else:
            out[k] = str(v)
    return out


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int)
    ap.add_argument("--marker")
    ap.add_argument("--format", choices=("json", "shell"), default="json")
    ap.add_argument("--prefix", default="wire_", help="variable prefix for --format shell")
    a = ap.parse_args(argv)
    try:
        res = analyse(a.pcap, a.port, a.marker)
    except (OSError, ValueError) as e:
        print("tlswire: %s: %s" % (a.pcap, e), file=sys.stderr)
        return 2
    if a.format == "shell":  # the same variables whether or not a hello was seen
        res["client_hello"] = res["client_hello"] or dict.fromkeys(
            ("cipher_suites", "supported_versions", "supported_groups", "key_shares",
             "key_share_bytes", "sni", "extensions", "first_bytes", "record_version",
             "record_length"))
        res["server_hello"] = res["server_hello"] or dict.fromkeys(
            ("cipher", "version", "group", "group_id", "hello_retry_request", "record_length"))
        for k in ("supported_versions", "supported_groups", "key_shares", "key_share_bytes"):
            res["client_hello"].setdefault(k, None)
        for k in ("group", "group_id"):
            res["server_hello"].setdefault(k, None)
    if a.format == "json":
        print(json.dumps(res, indent=2))
    else:
        for k, v in flatten(res, a.prefix).items():
            print("%s=%s" % (k, shlex.quote(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
