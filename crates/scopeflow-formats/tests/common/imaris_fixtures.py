"""Imaris test inputs and their independent reading with h5py, for tests/imaris*.rs.

  imaris_fixtures.py OUT TOOLS_DIR write   # the extra .ims / .h5 files (h5py)
  imaris_fixtures.py OUT TOOLS_DIR dump F… # F.expect.json + F.planes for each Imaris file F
  imaris_fixtures.py OUT TOOLS_DIR lz4 SRC DST  # DST = SRC with every Data LZ4-compressed

`dump` reads only through h5py and the published layout: the image size from ImageSizeZ/Y/X
(else the Data shape), physical size (ExtMax - ExtMin) / size in micrometres, channel names,
recording date; F.planes holds every plane (T, C, Z order; Z x Y cropped from the padded
array) as little-endian bytes.
"""
import datetime
import json
import os
import sys

import h5py
import numpy as np

OUT, TOOLS = sys.argv[1], sys.argv[2]
sys.path.insert(0, TOOLS)
import make_format_samples as mfs  # noqa: E402


def write():
    # T=3 C=2 Z=3, uint8, unit nm, chunks padded in Z, Y and X, distinct time stamps.
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 256, size=(3, 2, 3, 70, 90), dtype=np.uint8)
    path = os.path.join(OUT, "tczyx_u8_nm.ims")
    mfs.write_ims(path, arr, "TCZYX", {"x": 200.0, "y": 250.0, "z": 800.0}, "nm", ["GFP", ""],
                  "2024-03-05 09:10:11.250", levels=2, chunk=(4, 32, 32))
    with h5py.File(path, "a") as f:
        for t in range(3):
            f["DataSetInfo/TimeInfo"].attrs[f"TimePoint{t + 1}"] = mfs._s(f"2024-03-05 09:10:{11 + 5 * t:02d}.250")
    # A single float32 plane, padded to 64 x 64.
    arr = rng.normal(100.0, 30.0, size=(50, 60)).astype(np.float32)
    mfs.write_ims(os.path.join(OUT, "yx_f32.ims"), arr, "YX", {"x": 0.5, "y": 0.5}, "um", None,
                  "2020-01-02 03:04:05.000", levels=1)
    # An HDF5 file that is not an Imaris file.
    with h5py.File(os.path.join(OUT, "plain.h5"), "w") as f:
        f.create_dataset("images/data", data=np.arange(600, dtype=np.uint16).reshape(20, 30))
        f.attrs["title"] = "not imaris"
    # Imaris files broken in one way each.
    small = rng.integers(0, 4000, size=(2, 2, 2, 40, 48), dtype=np.uint16)
    data0 = "DataSet/ResolutionLevel 0/TimePoint 0/Channel 0"
    for name, edit in [
        ("lzf.ims", lambda f: replace(f, data0, compression="lzf")),
        ("u64.ims", lambda f: replace(f, data0, dtype=np.uint64)),
        ("too_big.ims", lambda f: f[data0].attrs.__setitem__("ImageSizeX", mfs._s(5000))),
        ("missing_channel.ims", lambda f: f.__delitem__("DataSet/ResolutionLevel 0/TimePoint 1/Channel 1")),
        ("two_d.ims", lambda f: replace(f, data0, shape2d=True)),
    ]:
        path = os.path.join(OUT, name)
        mfs.write_ims(path, small, "TCZYX", {"x": 0.3, "y": 0.3, "z": 1.0}, "um", None,
                      "2024-01-01 00:00:00.000", levels=1, chunk=(2, 16, 16))
        with h5py.File(path, "a") as f:
            edit(f)
    # Storage variants the reader's direct chunk path must read (shuffle + gzip, one channel
    # stored differently from the other) or leave to HDF5 (big-endian pixels, chunks never
    # written, which read as the fill value).
    for name, edit in [
        ("shuffled.ims", lambda f: replace_all(f, shuffle=True, compression="gzip")),
        ("mixed.ims", lambda f: replace(f, data0, compression="gzip", shuffle=True)),
        ("big_endian.ims", lambda f: replace_all(f, dtype=">u2", compression="gzip")),
        ("sparse.ims", lambda f: sparse(f, data0)),
    ]:
        path = os.path.join(OUT, name)
        mfs.write_ims(path, small, "TCZYX", {"x": 0.3, "y": 0.3, "z": 1.0}, "um", None,
                      "2024-01-01 00:00:00.000", levels=1, chunk=(2, 16, 16))
        with h5py.File(path, "a") as f:
            edit(f)
    # A small valid file for the byte-mutation property test.
    mfs.write_ims(os.path.join(OUT, "tiny.ims"), small[0, :, :, :24, :20], "CZYX", {"x": 0.3, "y": 0.3, "z": 1.0},
                  "um", ["a", "b"], "2024-01-01 00:00:00.000", levels=1, chunk=(2, 16, 16))


def lz4_literals(raw):
    """One LZ4 block holding `raw` as literals only (valid LZ4, no matches)."""
    n = len(raw)
    if n < 15:
        return bytes([n << 4]) + raw
    extra, rest = bytearray(), n - 15
    while rest >= 255:
        extra.append(255)
        rest -= 255
    extra.append(rest)
    return bytes([0xF0]) + bytes(extra) + raw


def lz4_chunk(raw, block=4096):
    """A chunk in the format of HDF5's LZ4 filter (id 32004): total size (u64 BE), block size
    (u32 BE), then per block its compressed size (u32 BE) and bytes. Odd blocks are stored raw
    (compressed size == block size), even ones as literal-only LZ4 blocks."""
    out = bytearray(len(raw).to_bytes(8, "big") + block.to_bytes(4, "big"))
    for i, at in enumerate(range(0, len(raw), block)):
        part = raw[at:at + block]
        body = part if i % 2 else lz4_literals(part)
        out += len(body).to_bytes(4, "big") + body
    return bytes(out)


def lz4(src, dst):
    """Copies `src` to `dst` with every Data array rewritten LZ4-compressed (chunks written
    directly: h5py's own HDF5 has no LZ4 filter)."""
    import shutil
    shutil.copyfile(src, dst)
    with h5py.File(dst, "a") as f:
        names = []
        f["DataSet"].visititems(lambda n, o: names.append("DataSet/" + n) if n.endswith("/Data") else None)
        for name in names:
            data, chunks = f[name][...], f[name].chunks
            del f[name]
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk(chunks)
            dcpl.set_filter(32004, h5py.h5z.FLAG_OPTIONAL, (4096,))
            space = h5py.h5s.create_simple(data.shape)
            tid = h5py.h5t.py_create(data.dtype)
            ds = h5py.h5d.create(f.id, name.encode(), tid, space, dcpl=dcpl)
            for idx in np.ndindex(*[-(-n // k) for n, k in zip(data.shape, chunks)]):
                at = tuple(i * k for i, k in zip(idx, chunks))
                block = np.zeros(chunks, dtype=data.dtype)
                part = data[tuple(slice(a, a + k) for a, k in zip(at, chunks))]
                block[tuple(slice(0, n) for n in part.shape)] = part
                ds.write_direct_chunk(at, lz4_chunk(block.astype(data.dtype.newbyteorder("<")).tobytes()))


def replace(f, group, compression=None, dtype=None, shape2d=False, shuffle=False):
    g = f[group]
    data = g["Data"][...]
    del g["Data"]
    if shape2d:
        g.create_dataset("Data", data=data[0])
    else:
        g.create_dataset("Data", data=data.astype(dtype or data.dtype), chunks=(2, 16, 16), compression=compression,
                         shuffle=shuffle)


def replace_all(f, **how):
    l0 = f["DataSet/ResolutionLevel 0"]
    for t in range(count(l0, "TimePoint")):
        for c in range(count(l0[f"TimePoint {t}"], "Channel")):
            replace(f, f"DataSet/ResolutionLevel 0/TimePoint {t}/Channel {c}", **how)


def sparse(f, group):
    """Rewrites `group`'s Data with only its first chunk row written: the others never
    allocated, read as the fill value 7."""
    g = f[group]
    data = g["Data"][...]
    del g["Data"]
    ds = g.create_dataset("Data", shape=data.shape, dtype=data.dtype, chunks=(2, 16, 16), compression="gzip",
                          fillvalue=7)
    ds[:, :16, :] = data[:, :16, :]


def text(attrs, key):
    if key not in attrs:
        return None
    v = attrs[key]
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return b"".join(v.tolist()).split(b"\0")[0].decode("latin-1").strip()
    if isinstance(v, bytes):
        return v.split(b"\0")[0].decode("latin-1").strip()
    return str(v)


def count(group, prefix):
    n = 0
    while f"{prefix} {n}" in group:
        n += 1
    return n


def dump(path):
    with h5py.File(path, "r") as f:
        l0 = f["DataSet/ResolutionLevel 0"]
        T, C = count(l0, "TimePoint"), count(l0["TimePoint 0"], "Channel")
        g0 = l0["TimePoint 0/Channel 0"]
        shape = g0["Data"].shape
        image = f["DataSetInfo/Image"] if "DataSetInfo/Image" in f else None
        size = []
        for i, (own, alt) in enumerate([("ImageSizeZ", "Z"), ("ImageSizeY", "Y"), ("ImageSizeX", "X")]):
            v = text(g0.attrs, own) or (image is not None and text(image.attrs, alt)) or shape[i]
            size.append(int(v))
        nz, ny, nx = size
        dtype = g0["Data"].dtype
        axes = "".join(a for a, n in (("T", T), ("C", C), ("Z", nz)) if n > 1) + "YX"
        dims = dict(T=T, C=C, Z=nz, Y=ny, X=nx)
        phys = None
        if image is not None:
            factor = {None: 1.0, "um": 1.0, "nm": 1e-3}[text(image.attrs, "Unit")]
            phys = {}
            for i, (k, n) in enumerate((("x", nx), ("y", ny), ("z", nz))):
                lo, hi = text(image.attrs, f"ExtMin{i}"), text(image.attrs, f"ExtMax{i}")
                if lo is not None and hi is not None and (k != "z" or nz > 1):
                    phys[k] = (float(hi) - float(lo)) / n * factor
        names = [text(f[f"DataSetInfo/Channel {c}"].attrs, "Name") if f"DataSetInfo/Channel {c}" in f else None
                 for c in range(C)]
        # Imaris writes "(name not specified)" for a channel without a name.
        names = ["" if n is None or n == "(name not specified)" else n for n in names]
        names = names if any(names) else None
        date = text(image.attrs, "RecordingDate") if image is not None else None
        when = None
        if date:
            when = datetime.datetime.strptime(date, "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        dt = None
        if T > 1 and "DataSetInfo/TimeInfo" in f:
            ti = f["DataSetInfo/TimeInfo"].attrs
            stamps = [datetime.datetime.strptime(text(ti, f"TimePoint{t + 1}"), "%Y-%m-%d %H:%M:%S.%f")
                      for t in (0, T - 1)]
            dt = (stamps[1] - stamps[0]).total_seconds() / (T - 1)
        stats = []
        with open(path + ".planes", "wb") as out:
            for c in range(C):
                stats.append(dict(min=None, max=None, sum=0.0, n=0))
            for t in range(T):
                for c in range(C):
                    data = l0[f"TimePoint {t}/Channel {c}/Data"]
                    for z in range(nz):
                        plane = data[z, :ny, :nx]
                        out.write(plane.astype(dtype.newbyteorder("<")).tobytes())
                        s = stats[c]
                        s["min"] = float(plane.min()) if s["min"] is None else min(s["min"], float(plane.min()))
                        s["max"] = float(plane.max()) if s["max"] is None else max(s["max"], float(plane.max()))
                        s["sum"] += float(plane.astype(np.float64).sum())
                        s["n"] += plane.size
    expect = dict(axes=axes, shape=[dims[a] for a in axes], dtype=dtype.name, physical_sizes=phys,
                  channel_names=names, acquired_at_epoch=when, time_increment=dt,
                  channels=[dict(min=s["min"], max=s["max"], mean=s["sum"] / s["n"]) for s in stats])
    with open(path + ".expect.json", "w") as out:
        json.dump(expect, out)


if sys.argv[3] == "write":
    write()
elif sys.argv[3] == "lz4":
    lz4(sys.argv[4], sys.argv[5])
else:
    for p in sys.argv[4:]:
        dump(p)
