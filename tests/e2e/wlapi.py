#!/usr/bin/env python3
"""Decodes SPIFFE Workload API responses captured by curl (the gRPC-framed
body of FetchX509SVID or FetchX509Bundles) with nothing but the standard
library, for the e2e tests of `ward server`.

  wlapi.py svid BODY OUTDIR     X509SVIDResponse messages
  wlapi.py bundles BODY OUTDIR  X509BundlesResponse messages

Prints one JSON object describing the LAST message (each message is the full
state) plus the number of messages, and writes PEM files into OUTDIR for
openssl: svidN.pem (chain, leaf first), svidN.key (PKCS#8), bundle.pem (the
trust domain bundle of the first SVID, or the first bundle), and
fed-<trust domain>.pem for federated bundles.

Schema: workload.proto of github.com/spiffe/go-spiffe (see
spiffe/workload_msg.h). Exits 1 on anything malformed."""
import base64
import json
import os
import struct
import sys


def frames(body):
    """gRPC Length-Prefixed-Messages: flag byte, 4-byte length, bytes."""
    out, off = [], 0
    while off < len(body):
        if len(body) - off < 5:
            raise ValueError("frame header cut short at %d" % off)
        flag, length = struct.unpack(">BI", body[off:off + 5])
        if flag != 0:
            raise ValueError("compressed frame")
        off += 5
        if len(body) - off < length:
            raise ValueError("frame of %d bytes cut short" % length)
        out.append(body[off:off + length])
        off += length
    return out


def varint(buf, off):
    value, shift = 0, 0
    while True:
        if off >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[off]
        off += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, off


def fields(buf):
    """(field number, wire type, value) of a protobuf message."""
    off = 0
    while off < len(buf):
        key, off = varint(buf, off)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, off = varint(buf, off)
        elif wire == 2:
            length, off = varint(buf, off)
            if off + length > len(buf):
                raise ValueError("field %d runs past the end" % num)
            value, off = buf[off:off + length], off + length
        elif wire == 1:
            value, off = buf[off:off + 8], off + 8
        elif wire == 5:
            value, off = buf[off:off + 4], off + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield num, wire, value


def der_split(buf):
    """Concatenated DER certificates into a list (outer SEQUENCE headers)."""
    out, off = [], 0
    while off < len(buf):
        if buf[off] != 0x30:
            raise ValueError("not a DER SEQUENCE at %d" % off)
        first = buf[off + 1]
        if first < 0x80:
            hdr, length = 2, first
        else:
            n = first & 0x7F
            hdr, length = 2 + n, int.from_bytes(buf[off + 2:off + 2 + n], "big")
        out.append(buf[off:off + hdr + length])
        off += hdr + length
    if off != len(buf):
        raise ValueError("DER runs past the end")
    return out


def pem(label, der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def map_entry(buf):
    key, value = b"", b""
    for num, _, v in fields(buf):
        if num == 1:
            key = v
        elif num == 2:
            value = v
    return key.decode(), value


def write_fed(outdir, td, der):
    name = td.replace("spiffe://", "")
    write(os.path.join(outdir, "fed-%s.pem" % name),
          "".join(pem("CERTIFICATE", c) for c in der_split(der)))


def svid_response(msg, outdir):
    svids, fed = [], {}
    for num, _, v in fields(msg):
        if num == 1:
            s = {1: b"", 2: b"", 3: b"", 4: b"", 5: b""}
            for n, _, w in fields(v):
                s[n] = w
            chain = der_split(s[2])
            i = len(svids)
            write(os.path.join(outdir, "svid%d.pem" % i),
                  "".join(pem("CERTIFICATE", c) for c in chain))
            write(os.path.join(outdir, "svid%d.key" % i), pem("PRIVATE KEY", s[3]), 0o600)
            if i == 0:
                write(os.path.join(outdir, "bundle.pem"),
                      "".join(pem("CERTIFICATE", c) for c in der_split(s[4])))
            svids.append({"spiffe_id": s[1].decode(), "hint": s[5].decode(),
                          "chain_certs": len(chain), "bundle_certs": len(der_split(s[4]))})
        elif num == 3:
            td, der = map_entry(v)
            fed[td] = len(der_split(der))
            write_fed(outdir, td, der)
    return {"svids": svids, "federated_bundles": fed}


def bundles_response(msg, outdir):
    bundles = {}
    for num, _, v in fields(msg):
        if num == 2:
            td, der = map_entry(v)
            bundles[td] = len(der_split(der))
            if len(bundles) == 1:
                write(os.path.join(outdir, "bundle.pem"),
                      "".join(pem("CERTIFICATE", c) for c in der_split(der)))
            write_fed(outdir, td, der)
    return {"bundles": bundles}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("svid", "bundles"):
        sys.exit(__doc__)
    kind, body_path, outdir = sys.argv[1:]
    with open(body_path, "rb") as f:
        body = f.read()
    try:
        msgs = frames(body)
        if not msgs:
            print(json.dumps({"messages": 0}))
            return
        decode = svid_response if kind == "svid" else bundles_response
        result = decode(msgs[-1], outdir)
    except (ValueError, UnicodeDecodeError) as e:
        sys.exit("wlapi.py: %s" % e)
    result["messages"] = len(msgs)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
