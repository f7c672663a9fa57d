#!/usr/bin/env python3
"""Rewrites a real ND2 file into layouts the real samples lack, for the reader tests.

  nd2_variants.py SRC OUT KINDS      (KINDS: comma-separated, see below)

  zlib       frames stored zlib-compressed (eCompression = 0, "lossless")
  padded     rows padded by 8 bytes of 0xAB (uiWidthBytes raised)
  positions  the experiment replaced by XY(3 points, the 2nd invalid) > T(2) > Z(3), filled
             with the source's first 12 frames (needs a one-component source with >= 12 frames)
  time_outer with positions: the loops nested T(2) > XY > Z(3) instead
  netime     with positions: the time loop an ND time loop (two valid periods of one frame)
  rgb        one RGB channel made of the first three components (needs >= 3 components)
  u8         8-bit pixels (the 16-bit values shifted right by 4, low byte kept)
  lvzip      the metadata chunks in the compressed lite variant (type 76: zlib inside)
  xml        the metadata chunks re-encoded in the XML variant (as the nd2 package reads it)
  v2         with xml: a version 2.0 file, whose metadata chunks lack the "LV" in their names

Every other chunk is copied unchanged, a new chunk map is written, and the result is read
back with the `nd2` package (the independent reference) before the tests compare with it.
The container layout follows the nd2 package's documentation of it (BSD-3).
"""
import re
import struct
import sys
import zlib

import numpy as np

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


META = (b"ImageAttributesLV!", b"ImageMetadataSeqLV|0!", b"ImageMetadataLV!", b"ImageTextInfoLV!")
FIXED = {1: 1, 2: 4, 3: 4, 4: 8, 5: 8, 6: 8, 7: 8}


def parse(buf, count=None):
    """Lite-variant items as [kind, name, raw value] (levels hold item lists)."""
    pos, items = 0, []
    while pos < len(buf) and (count is None or len(items) < count):
        kind, nl = buf[pos], buf[pos + 1]
        name = buf[pos + 2:pos + 2 + nl * 2].decode("utf-16-le")[:-1]
        p = pos + 2 + nl * 2
        if kind == 11:
            n, length = struct.unpack_from("<IQ", buf, p)
            value = parse(buf[p + 12:pos + length], n)
            p = pos + length + 8 * n
        elif kind == 8:
            end = p
            while buf[end:end + 2] != b"\0\0":
                end += 2
            value, p = buf[p:end + 2], end + 2
        elif kind == 9:
            (n,) = struct.unpack_from("<Q", buf, p)
            value, p = buf[p:p + 8 + n], p + 8 + n
        else:
            value, p = buf[p:p + FIXED[kind]], p + FIXED[kind]
        items.append([kind, name, value])
        pos = p
    return items


def encode(items):
    out = b""
    for kind, name, value in items:
        if kind == 11:
            out += level(name, [encode([i]) for i in value])
        else:
            out += item(kind, name, value)
    return out


def child(items, name):
    return next(i for i in items if i[1] == name)


def rgb_picture(payload):
    """One picture plane of three components instead of one plane per component."""
    tree = parse(payload)
    planes = child(child(tree, "SLxPictureMetadata")[2], "sPicturePlanes")[2]
    child(planes, "uiCount")[2] = struct.pack("<I", 1)
    new = child(planes, "sPlaneNew")
    new[2] = new[2][:1]
    child(new[2][0][2], "uiCompCount")[2] = struct.pack("<I", 3)
    return encode(tree)


XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
RUNTYPE = {2: ("lx_int32", "<i"), 3: ("lx_uint32", "<I"), 4: ("lx_int64", "<q"),
           5: ("lx_uint64", "<Q"), 6: ("double", "<d"), 7: ("lx_uint64", "<Q")}


def xml_attr(s):
    s = "".join(c for c in s if c in "\t\n\r" or ord(c) >= 32)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                 ("\t", "&#9;"), ("\n", "&#10;"), ("\r", "&#13;")):
        s = s.replace(a, b)
    return s


def to_xml(items):
    out = []
    for kind, name, value in items:
        tag = name or "no_name"
        if not XML_NAME.match(tag) or tag == "matCameraToStage":  # binary matrix: no XML form
            continue
        if kind == 11:
            out.append(f"<{tag}>{to_xml(value)}</{tag}>")
        elif kind == 1:
            out.append(f'<{tag} runtype="bool" value="{"true" if value[0] else "false"}"/>')
        elif kind in RUNTYPE:
            rt, fmt = RUNTYPE[kind]
            out.append(f'<{tag} runtype="{rt}" value="{struct.unpack(fmt, value)[0]!r}"/>')
        elif kind == 8:
            text = value.decode("utf-16-le")[:-1]
            out.append(f'<{tag} runtype="CLxStringW" value="{xml_attr(text)}"/>')
        elif kind == 9 and name in ("pItemValid", "pPeriodValid"):
            flags = "".join(f'<no_name runtype="bool" value="{"true" if b else "false"}"/>'
                            for b in value[8:])
            out.append(f"<{tag}>{flags}</{tag}>")
    return "".join(out)


def xml_chunk(payload):
    body = to_xml(parse(payload))
    return ('<?xml version="1.0" encoding="UTF-8"?><variant version="1.0">'
            + body + "</variant>").encode("utf-8")


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


def time_period(count, period):
    return [u32("uiCount", count), f64("dStart", 0.0), f64("dPeriod", period), f64("dDuration", 0.0)]


def experiment(time_outer, netime):
    """XY(3 points, the 2nd invalid) > T(2) > Z(3), or T(2) > XY > Z when `time_outer`; with
    `netime` the time loop is an ND time loop of periods 1 + (5, invalid) + 1."""
    points = [level("", [f64("dPosX", 10.0 * i), f64("dPosY", -5.0 * i), f64("dPosZ", 1.0),
                         text("dPosName", f"well {name}")]) for i, name in enumerate("ABC")]
    z = [u32("eType", 4), level("uLoopPars", [
        u32("uiCount", 3), f64("dZStep", 2.5), f64("dZLow", 0.0), f64("dZHigh", 5.0),
        f64("dZHome", 2.5), item(1, "bZInverted", b"\0"), item(2, "iType", struct.pack("<i", 0))])]
    t = [u32("eType", 1), level("uLoopPars", time_period(2, 1500.0))]
    if netime:
        periods = [level("", time_period(n, 100.0 * n)) for n in (1, 5, 1)]
        t = [u32("eType", 8), level("uLoopPars", [
            level("pPeriod", periods), item(9, "pPeriodValid", struct.pack("<Q", 3) + bytes([1, 0, 1]))])]
    xy = [u32("eType", 2), level("uLoopPars", [level("Points", points)]),
          item(9, "pItemValid", struct.pack("<Q", 3) + bytes([1, 0, 1]))]
    outer, middle = (t, xy) if time_outer else (xy, t)
    middle = level("", middle + [level("ppNextLevelEx", [level("", z)])])
    return level("SLxExperiment", outer + [level("ppNextLevelEx", [middle])])


def main(src, out, kinds):
    data = open(src, "rb").read()
    chunks = read_chunks(data)
    attrs = next(p for n, _, p in chunks if n == b"ImageAttributesLV!")
    width = struct.unpack_from("<I", *patch_offset(attrs, "uiWidth"))[0]
    height = struct.unpack_from("<I", *patch_offset(attrs, "uiHeight"))[0]
    stride = struct.unpack_from("<I", *patch_offset(attrs, "uiWidthBytes"))[0]
    comps = struct.unpack_from("<I", *patch_offset(attrs, "uiComp"))[0]
    bps = stride // width // comps
    pad = 8 if "padded" in kinds else 0
    out_comps = 3 if "rgb" in kinds else comps
    out_bps = 1 if "u8" in kinds else bps
    out_stride = width * out_comps * out_bps
    new_chunks = []
    for name, nl, payload in chunks:
        if name == b"ImageAttributesLV!":
            if "zlib" in kinds:
                payload, _ = patch_item(payload, "eCompression", "<I", lambda o: 0)
            if "rgb" in kinds:
                payload, _ = patch_item(payload, "uiComp", "<I", lambda o: 3)
            if "u8" in kinds:
                payload, _ = patch_item(payload, "uiBpcInMemory", "<I", lambda o: 8)
                payload, _ = patch_item(payload, "uiBpcSignificant", "<I", lambda o: 8)
            payload, _ = patch_item(payload, "uiWidthBytes", "<I", lambda o: out_stride + pad)
            if "positions" in kinds:
                payload, _ = patch_item(payload, "uiSequenceCount", "<I", lambda o: 12)
        elif name == b"ImageMetadataSeqLV|0!" and "rgb" in kinds:
            payload = rgb_picture(payload)
        elif name == b"ImageMetadataLV!" and "positions" in kinds:
            payload = experiment("time_outer" in kinds, "netime" in kinds)
        elif name.startswith(b"ImageDataSeq|"):
            index = int(name[13:-1])
            if "positions" in kinds and index >= 12:
                continue
            stamp, pixels = payload[:8], payload[8:8 + height * stride]
            dt = np.uint16 if bps == 2 else np.uint8
            a = np.frombuffer(pixels, dt).reshape(height, stride // bps)[:, :width * comps]
            a = a.reshape(height, width, comps)[:, :, :out_comps]
            if "u8" in kinds:
                a = (a >> 4).astype(np.uint8)
            rows = a.reshape(height, -1)
            pixels = b"".join(r.tobytes() + b"\xab" * pad for r in rows)
            if "zlib" in kinds:
                pixels = zlib.compress(pixels, 6)
            payload = stamp + pixels
        if "lvzip" in kinds and name in META:
            # The compressed lite variant: type 76, no name, 10 bytes the reader skips, zlib.
            payload = bytes([76, 0]) + b"\0" * 10 + zlib.compress(payload)
        if "xml" in kinds and name in META:
            payload = xml_chunk(payload)
            if "v2" in kinds:
                name = name.replace(b"LV", b"")
        new_chunks.append((name, nl, payload))
    header = data[:112]
    if "v2" in kinds:
        header = header.replace(b"Ver3.0", b"Ver2.0")
    write(out, header, new_chunks)


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
