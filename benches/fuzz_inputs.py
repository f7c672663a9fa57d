#!/usr/bin/env python3
"""Fuzz campaign against the real binary: mutated images and pipeline files.

  benches/fuzz_inputs.py --bin target/release/scopeflow [--images 10000] [--pipelines 1000]
                         [--seed 1] [--timeout 20] [--jobs 2] [--work DIR] SAMPLE...

Every mutant image goes through `inspect --json`, `qc --json` and `convert`; every mutant
pipeline through `pipeline check`. A run is a failure when the process panics or aborts
(exit 101, 134, or killed by a signal), exceeds --timeout seconds, exits with a code outside
the contract (0, 1, 2), or `convert` fails but leaves something at OUTPUT or a temporary
folder beside it. Mutation classes (drawn in turn):
  flip      1-8 random bytes replaced
  cut       truncated at a random offset
  int       a 2- or 4-byte little/big-endian field overwritten with an extreme value
            (0, 1, 2^16-1, 2^24, 2^31-1, 2^32-1): offsets, counts and dimensions
  tiffdim   TIFF only: ImageWidth/ImageLength/RowsPerStrip/StripByteCounts/TileWidth/
            TileLength/SamplesPerPixel of the first IFD set to an extreme value (the issue-20
            class: a 16x16 file claiming 2^32-1 wide)
  hugedim   the other formats' declared width/height (PNG IHDR, BMP header, JPEG SOF) set to
            an extreme value; for TIFF, width and length both huge with the strip byte counts
            left as they are
Pipelines: random edits of the example pipelines, a NUL byte in a value, a multi-MiB path,
10,000 unknown keys, duplicated keys, wrong types. Prints a summary and a markdown table row;
failing inputs are kept under WORK/failures for a look.
"""
import argparse
import concurrent.futures
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

EXTREMES = [0, 1, 0xFFFF, 1 << 24, 0x7FFFFFFF, 0xFFFFFFFF]
CONTRACT = {0, 1, 2}


def mutate_image(rng, data, kind, is_tiff):
    b = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == "cut":
        b = b[: rng.randrange(1, len(b))]
    elif kind == "int":
        at = rng.randrange(max(1, len(b) - 4))
        v = rng.choice(EXTREMES)
        fmt = rng.choice(["<I", ">I", "<H", ">H"])
        v &= 0xFFFF if fmt.endswith("H") else 0xFFFFFFFF
        packed = struct.pack(fmt, v)
        b[at : at + len(packed)] = packed
    elif kind == "tiffdim" and is_tiff:
        tiff_dimension(rng, b)
    elif kind == "hugedim":
        if is_tiff:
            v = rng.choice([1 << 16, 1 << 20, 1 << 24, 0xFFFFFFFF])
            tiff_dimension(rng, b, tag=256, value=v)
            tiff_dimension(rng, b, tag=257, value=rng.choice([1 << 16, 1 << 20, v]))
        else:
            header_dimension(rng, b)
    return bytes(b)


def header_dimension(rng, b):
    """Sets the declared width or height of a PNG, BMP or JPEG to an extreme value."""
    huge = rng.choice([0, 1 << 15, 0xFFFF, 1 << 24, 0x7FFFFFFF, 0xFFFFFFFF])
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24:
        at = rng.choice([16, 20])
        b[at : at + 4] = struct.pack(">I", huge)
    elif b[:2] == b"BM" and len(b) >= 26:
        at = rng.choice([18, 22])
        b[at : at + 4] = struct.pack("<I", huge)
    elif b[:2] == b"\xff\xd8":
        for sof in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
            i = b.find(sof)
            if i >= 0 and i + 9 <= len(b):
                at = i + rng.choice([5, 7])
                b[at : at + 2] = struct.pack(">H", huge & 0xFFFF)
                return
    else:
        # CZI, LIF, ND2, HDF5: a random 4-byte field in the first 64 KiB.
        at = rng.randrange(max(1, min(len(b), 1 << 16) - 4))
        b[at : at + 4] = struct.pack("<I", huge)


def tiff_dimension(rng, b, tag=None, value=None):
    """Sets one size tag of the first IFD of a classic TIFF to an extreme value."""
    if len(b) < 8 or b[:2] not in (b"II", b"MM") or b[2:4] not in (b"*\0", b"\0*"):
        return
    e = "<" if b[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", b[4:8])[0]
    if ifd + 2 > len(b):
        return
    n = struct.unpack(e + "H", b[ifd : ifd + 2])[0]
    wanted = tag if tag is not None else rng.choice([256, 257, 278, 279, 322, 323, 277])
    for i in range(min(n, 4096)):
        at = ifd + 2 + 12 * i
        if at + 12 > len(b):
            return
        tag, typ = struct.unpack(e + "HH", b[at : at + 4])
        if tag == wanted:
            v = value if value is not None else rng.choice([1 << 24, 1 << 28, 0x7FFFFFFF, 0xFFFFFFFF, 0])
            if typ == 3:
                b[at + 8 : at + 10] = struct.pack(e + "H", v & 0xFFFF)
            else:
                b[at + 8 : at + 12] = struct.pack(e + "I", v)
            return


def mutate_pipeline(rng, text, n):
    kind = n % 7
    lines = text.splitlines()
    if kind == 0 and lines:
        i = rng.randrange(len(lines))
        line = lines[i]
        j = rng.randrange(len(line) + 1)
        lines[i] = line[:j] + rng.choice(["", ":", "- ", "{", "[", "'", '"', "\t", "  ", "&a", "*a", "!!int "]) + line[j + 1 :]
        return "\n".join(lines) + "\n", "edit"
    if kind == 1:
        return text.replace("state: ", "state: x\0y", 1) if "state: " in text else text + "state: \"a\\0b\"\n", "nul"
    if kind == 2:
        return text + "state: " + "d/" * (1 << 20) + "x.db\n", "long-path"
    if kind == 3:
        return text + "".join(f"unknown_{k}: {k}\n" for k in range(10_000)), "many-keys"
    if kind == 4 and lines:
        return "\n".join(lines + [rng.choice(lines)]) + "\n", "duplicate"
    if kind == 5:
        return text.replace("5s", "[1, 2]", 1).replace("version: 1", "version: {a: b}", 1), "types"
    b = bytearray(text.encode())
    for _ in range(rng.randint(1, 6)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return b.decode("utf-8", "replace"), "flip"


def run(cmd, timeout):
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stderr.decode("utf-8", "replace")[-2000:], time.monotonic() - start
    except subprocess.TimeoutExpired:
        return "timeout", "", time.monotonic() - start


def problem(code, err):
    if code == "timeout":
        return "hang"
    if code < 0:
        return f"signal {-code}"
    if code in (101, 134) or "panicked" in err:
        return f"panic (exit {code})"
    if code not in CONTRACT:
        return f"exit {code}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--pipelines", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=2, help="mutants run at once")
    ap.add_argument("--work", default=None)
    ap.add_argument("--pipeline-dir", default=os.path.join(os.path.dirname(__file__), "..", "pipelines"))
    ap.add_argument("samples", nargs="*")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = a.work or tempfile.mkdtemp(prefix="scopeflow-fuzz-")
    failures_dir = os.path.join(work, "failures")
    os.makedirs(failures_dir, exist_ok=True)
    seeds = [(p, open(p, "rb").read()) for p in a.samples if os.path.getsize(p) < 8 << 20]
    if a.images and not seeds:
        sys.exit("no sample under 8 MiB given")
    counts = {"runs": 0, "failures": 0, "slowest": 0.0, "exit": {}, "kinds": {}}
    failures = []
    lock = threading.Lock()

    def record(what, path, code, err, secs):
        bad = problem(code, err)
        with lock:
            counts["runs"] += 1
            counts["slowest"] = max(counts["slowest"], secs)
            counts["exit"][str(code)] = counts["exit"].get(str(code), 0) + 1
            if bad:
                counts["failures"] += 1
                keep = os.path.join(failures_dir, f"{counts['failures']:05d}-{os.path.basename(path)}")
                shutil.copy(path, keep)
                failures.append(f"{what}: {bad}: {keep}\n{err}")
        return bad

    def one_image(i, src, data, kind):
        # Each mutant in its own folder, so concurrent runs never see each other's outputs.
        box = os.path.join(work, f"m{i}")
        os.makedirs(box, exist_ok=True)
        ext = os.path.basename(src).split(".", 1)[-1]
        path = os.path.join(box, f"mutant.{ext}")
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(box, "out.ome.zarr")
        for cmd in (["inspect", path, "--json"], ["qc", path, "--json", "--quiet"], ["convert", path, out, "--quiet"]):
            code, err, secs = run([a.bin, *cmd], a.timeout)
            record(f"{kind} of {src}: {cmd[0]}", path, code, err, secs)
            if cmd[0] == "convert":
                left = [n for n in os.listdir(box) if n.startswith(".out.ome.zarr")]
                if code != 0 and (os.path.exists(out) or left):
                    with lock:
                        counts["failures"] += 1
                        failures.append(f"{kind} of {src}: convert failed but left {out if os.path.exists(out) else left}")
        shutil.rmtree(box, ignore_errors=True)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        pending = []
        for i in range(a.images):
            src, data = seeds[i % len(seeds)]
            is_tiff = data[:4] in (b"II*\0", b"MM\0*")
            kinds = ["flip", "cut", "int", "tiffdim", "hugedim"] if is_tiff else ["flip", "cut", "int", "hugedim"]
            kind = kinds[(i // len(seeds)) % len(kinds)]
            fmt = os.path.basename(src).rsplit(".", 1)[-1].lower()
            counts["kinds"][f"{fmt}/{kind}"] = counts["kinds"].get(f"{fmt}/{kind}", 0) + 1
            pending.append(pool.submit(one_image, i, src, mutate_image(rng, data, kind, is_tiff), kind))
            if len(pending) >= 4 * a.jobs:
                pending.pop(0).result()
            if i and i % 500 == 0:
                print(f"{i} mutants, {counts['failures']} failures, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        for f in pending:
            f.result()
    image_secs = time.monotonic() - started

    examples = [os.path.join(a.pipeline_dir, n) for n in sorted(os.listdir(a.pipeline_dir)) if n.endswith(".yaml")]
    started = time.monotonic()
    for i in range(a.pipelines if examples else 0):
        src = examples[i % len(examples)]
        text, kind = mutate_pipeline(rng, open(src).read(), i)
        # Beside the example, so its relative watch folders resolve as they do for the real one.
        path = os.path.join(os.path.dirname(os.path.abspath(src)), f".fuzz-{os.getpid()}.yaml")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        try:
            code, err, secs = run([a.bin, "pipeline", "check", path], a.timeout)
            record(f"{kind} of {src}: pipeline check", path, code, err, secs)
        finally:
            os.remove(path)
    pipeline_secs = time.monotonic() - started

    for f in failures[:20]:
        print(f, file=sys.stderr)
    print(f"runs {counts['runs']}, failures {counts['failures']}, slowest {counts['slowest']:.1f} s, "
          f"exit codes {counts['exit']}, images {a.images} in {image_secs:.0f} s, pipelines {a.pipelines} in {pipeline_secs:.0f} s")
    print(f"mutants by format/class: {dict(sorted(counts['kinds'].items()))}")
    print(f"| {a.images} images × 3 commands, {a.pipelines} pipelines | {len(seeds)} seeds | "
          f"{counts['failures']} | {counts['slowest']:.1f} s | {counts['exit']} |")
    sys.exit(1 if counts["failures"] else 0)


if __name__ == "__main__":
    main()
