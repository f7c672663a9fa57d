#!/usr/bin/env python3
"""Rewrites a real ND2 file into layouts the real samples lack, for the reader tests.

  nd2_variants.py SRC OUT KINDS      (KINDS: comma-separated subset of zlib,padded,positions)

  zlib       frames stored zlib-compressed (eCompression = 0, "lossless")
  padded     rows padded by 8 bytes of 0xAB (uiWidthBytes raised)
  positions  the experiment replaced by XY(3 points, the 2nd invalid) > T(2) > Z(3), filled
             with the source's first 12 frames (needs a one-component source with >= 12 frames)

Every other chunk is copied unchanged, a new chunk map is written, and the result is read
back with the `nd2` package (the independent reference) before the tests compare with it.
The container layout follows the nd2 package's documentation of it (BSD-3).
"""
import struct
import sys
import zlib

MAGIC = 0x0ABECEDA
MAP_SIG = b"ND2 CHUNK MAP SIGNATURE 0000001!"
FILEMAP_SIG = b"ND2 FILEMAP SIGNATURE NAME 0001!"


def read_chunks(data):
    """[(name, name_len, payload)] in file order, from the chunk map."""
    (at,) = struct.unpack("<Q", data[-8:])
    _, nl, dl = struct.unpack("<IIQ", data[at:at + 16])
    cmap = data[at + 16 + nl:at + 16 + nl + dl]
    pos, out = 0, []
    while True:
        p = cmap.index(b"!", pos) + 1
        name = cmap[pos:p]
        if name == MAP_SIG:
            break
        off, _ = struct.unpack("<QQ", cmap[p:p + 16])
        _, nl2, dl2 = struct.unpack("<IIQ", data[off:off + 16])
        out.append((off, name, nl2, data[off + 16 + nl2:off + 16 + nl2 + dl2]))
        pos = p + 16
    return [c[1:] for c in sorted(out)]


def patch_item(payload, name, fmt, new):
    """Sets the value of lite-variant item `name` in place (value follows the UTF-16 name)."""
    key = (name + "\0").encode("utf-16-le")
    i = payload.index(bytes([len(name) + 1]) + key) + 1 + len(key)
    old = struct.unpack_from(fmt, payload, i)[0]
    payload = bytearray(payload)
    struct.pack_into(fmt, payload, i, new(old))
    return bytes(payload), old


def item(kind, name, value):
    return bytes([kind, len(name) + 1]) + (name + "\0").encode("utf-16-le") + value


def level(name, items):
    head = bytes([11, len(name) + 1]) + (name + "\0").encode("utf-16-le")
    body = b"".join(items)
    return head + struct.pack("<IQ", len(items), len(head) + 12 + len(body)) + body + b"\0" * (8 * len(items))


def u32(n, v):
    return item(3, n, struct.pack("<I", v))


def f64(n, v):
    return item(6, n, struct.pack("<d", v))


def text(n, s):
    return item(8, n, (s + "\0").encode("utf-16-le"))


def experiment():
    points = [level("", [f64("dPosX", 10.0 * i), f64("dPosY", -5.0 * i), f64("dPosZ", 1.0),
                         text("dPosName", f"well {name}")]) for i, name in enumerate("ABC")]
    z = level("", [u32("eType", 4), level("uLoopPars", [
        u32("uiCount", 3), f64("dZStep", 2.5), f64("dZLow", 0.0), f64("dZHigh", 5.0),
        f64("dZHome", 2.5), item(1, "bZInverted", b"\0"), item(2, "iType", struct.pack("<i", 0))])])
    t = level("", [u32("eType", 1), level("uLoopPars", [
        u32("uiCount", 2), f64("dStart", 0.0), f64("dPeriod", 1500.0), f64("dDuration", 0.0)]),
        level("ppNextLevelEx", [z])])
    return level("SLxExperiment", [
        u32("eType", 2), level("uLoopPars", [level("Points", points)]),
        item(9, "pItemValid", struct.pack("<Q", 3) + bytes([1, 0, 1])),
        level("ppNextLevelEx", [t])])


def main(src, out, kinds):
    data = open(src, "rb").read()
    chunks = read_chunks(data)
    attrs = next(p for n, _, p in chunks if n == b"ImageAttributesLV!")
    width = struct.unpack_from("<I", *patch_offset(attrs, "uiWidth"))[0]
    height = struct.unpack_from("<I", *patch_offset(attrs, "uiHeight"))[0]
    stride = struct.unpack_from("<I", *patch_offset(attrs, "uiWidthBytes"))[0]
    pad = 8 if "padded" in kinds else 0
    new_chunks = []
    for name, nl, payload in chunks:
        if name == b"ImageAttributesLV!":
            if "zlib" in kinds:
                payload, _ = patch_item(payload, "eCompression", "<I", lambda o: 0)
            if pad:
                payload, _ = patch_item(payload, "uiWidthBytes", "<I", lambda o: o + pad)
            if "positions" in kinds:
                payload, _ = patch_item(payload, "uiSequenceCount", "<I", lambda o: 12)
        elif name == b"ImageMetadataLV!" and "positions" in kinds:
            payload = experiment()
        elif name.startswith(b"ImageDataSeq|"):
            index = int(name[13:-1])
            if "positions" in kinds and index >= 12:
                continue
            stamp, pixels = payload[:8], payload[8:8 + height * stride]
            if pad:
                pixels = b"".join(pixels[r * stride:(r + 1) * stride] + b"\xab" * pad for r in range(height))
            if "zlib" in kinds:
                pixels = zlib.compress(pixels, 6)
            payload = stamp + pixels
        new_chunks.append((name, nl, payload))
    write(out, data[:112], new_chunks)


def patch_offset(payload, name):
    key = bytes([len(name) + 1]) + (name + "\0").encode("utf-16-le")
    return payload, payload.index(key) + len(key)


def write(out, header, chunks):
    buf = bytearray(header)
    entries = []
    for name, nl, payload in chunks:
        buf += b"\0" * (-len(buf) % 4096)
        entries.append(name + struct.pack("<QQ", len(buf), len(payload)))
        buf += struct.pack("<IIQ", MAGIC, nl, len(payload)) + name.ljust(nl, b"\0") + payload
    buf += b"\0" * (-len(buf) % 4096)
    at = len(buf)
    body = b"".join(entries) + MAP_SIG + struct.pack("<Q", at)
    buf += struct.pack("<IIQ", MAGIC, 32, len(body)) + FILEMAP_SIG + body
    open(out, "wb").write(buf)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
