#!/usr/bin/env bash
# Imaris conversion benchmark: the large synthetic OME-TIFF (C=2, Z=N, 2048x2048 uint16, as in
# convert_large.sh) and an Imaris .ims file holding the same pixels (h5py, gzip level 1, chunks
# padded like Imaris writes them), each converted by `scopeflow convert` with the same settings
# in the same run. Prints one markdown row per input: wall time, MB/s of raw pixels, peak RSS.
#   bash benches/imaris_convert.sh [GIB]          # default 1
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-imaris),
#      IMS_CHUNK (Z,Y,X chunk of the .ims, default 8,256,256).
set -euo pipefail

gib=${1:-1}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-imaris}
chunk=${IMS_CHUNK:-8,256,256}

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

mkdir -p "$scratch"
tag=$(printf '%sgib' "$gib" | sed 's/\./p/')
tif="$scratch/e_large_${tag}_czyx_u16.ome.tif"
ims="$scratch/e_large_${tag}_czyx_u16.ims"
if [ ! -f "$tif.truth.json" ]; then
  echo "generating $tif" >&2
  "$py" "$shared/tools/make_samples.py" --out "$scratch" --only "" --large --large-gib "$gib" >&2
fi
if [ ! -f "$ims" ]; then
  echo "writing $ims (same pixels, plane by plane)" >&2
  "$py" - "$tif" "$ims" "$chunk" <<'PY' >&2
import sys
import h5py
import numpy as np
import tifffile

src, dst, chunk = sys.argv[1], sys.argv[2], tuple(int(v) for v in sys.argv[3].split(","))
s = lambda v: np.frombuffer(str(v).encode(), dtype="S1")  # Imaris: arrays of 1-byte strings
with tifffile.TiffFile(src) as tif:
    series = tif.series[0]
    assert series.axes == "CZYX", series.axes
    C, Z, Y, X = series.shape
    padded = [-(-n // k) * k for n, k in zip((Z, Y, X), chunk)]
    with h5py.File(dst + ".part", "w") as f:
        for k, v in dict(ImarisDataSet="ImarisDataSet", ImarisVersion="5.5.0", DataSetDirectoryName="DataSet",
                         DataSetInfoDirectoryName="DataSetInfo").items():
            f.attrs[k] = s(v)
        im = f.create_group("DataSetInfo/Image")
        for k, v in dict(X=X, Y=Y, Z=Z, Unit="um", Noc=C, ExtMin0=0, ExtMin1=0, ExtMin2=0,
                         ExtMax0=X * 0.1, ExtMax1=Y * 0.1, ExtMax2=Z * 0.5).items():
            im.attrs[k] = s(v)
        for c in range(C):
            g = f.create_group(f"DataSet/ResolutionLevel 0/TimePoint 0/Channel {c}")
            for k, v in dict(ImageSizeX=X, ImageSizeY=Y, ImageSizeZ=Z).items():
                g.attrs[k] = s(v)
            d = g.create_dataset("Data", shape=padded, dtype=series.dtype, chunks=chunk,
                                 compression="gzip", compression_opts=1, fillvalue=0)
            for z0 in range(0, Z, chunk[0]):  # one slab of chunks at a time
                z1 = min(z0 + chunk[0], Z)
                d[z0:z1, :Y, :X] = np.stack([series.pages[c * Z + z].asarray() for z in range(z0, z1)])
    import os
    os.replace(dst + ".part", dst)
PY
fi
raw=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['raw_bytes'])" "$tif.truth.json")

measure() { # name, input, output
  local name=$1 input=$2 out=$3
  rm -rf "$out"
  sync
  cat "$input" > /dev/null # both read their source from the page cache
  /usr/bin/time -f '%e %M' -o "$scratch/time.txt" \
    "$bin" convert "$input" "$out" --chunk-yx 512 --codec zstd --level 1 --levels 4 --quiet \
    > "$scratch/$name.log" 2>&1 || { echo "$name failed:" >&2; tail -5 "$scratch/$name.log" >&2; return 1; }
  read -r wall rss_kb < "$scratch/time.txt"
  awk -v n="$name" -v w="$wall" -v r="$raw" -v m="$rss_kb" -v s="$(stat -c %s "$input")" \
    'BEGIN { printf "| %s | %.1f | %.0f | %.2f | %.0f | %.0f |\n", n, r / 1048576 / 1024, s / 1048576, w, r / w / 1e6, m / 1024 }'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| input | GiB raw | file MiB | wall s | MB/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
measure "OME-TIFF" "$tif" "$scratch/out_tiff.ome.zarr"
measure "Imaris (gzip 1, chunks $chunk)" "$ims" "$scratch/out_ims.ome.zarr"
