#!/usr/bin/env bash
# CZI conversion benchmark: the large synthetic OME-TIFF of make_samples.py (C=2, Z=N,
# 2048x2048 uint16) and a CZI holding the same pixels, written with pylibCZIrw as zstd1 with
# HiLoByteUnpack (ZEN's default zstd flavour), each plane as a 2x2 mosaic of 1024x1024 tiles
# at a negative stage offset, so the run exercises decompression and tile composition.
# Both are converted by `scopeflow convert` with the same settings; one markdown row each: wall
# time, MB/s of raw pixels, peak RSS, output size. Not run by the test suite.
#   bash benches/czi_convert.sh [GIB]          # default 1
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench),
#      VALIDATE=1 to also run the reference validator on the OME-TIFF's output.
set -euo pipefail

gib=${1:-1}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench}

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

mkdir -p "$scratch"
tag=$(printf '%sgib' "$gib" | sed 's/\./p/')
tif="$scratch/e_large_${tag}_czyx_u16.ome.tif"
czi="$scratch/e_large_${tag}_czyx_u16_zstd1_mosaic.czi"
if [ ! -f "$tif.truth.json" ]; then
  echo "generating $tif" >&2
  "$py" "$shared/tools/make_samples.py" --out "$scratch" --only "" --large --large-gib "$gib" >&2
fi
if [ ! -f "$czi" ]; then
  echo "writing $czi (same pixels, plane by plane)" >&2
  "$py" - "$tif" "$czi.partial" >&2 <<'EOF'
import sys
import numpy as np
import tifffile
from pylibCZIrw import czi as pyczi

src, out = sys.argv[1], sys.argv[2]
with tifffile.TiffFile(src) as tf, pyczi.create_czi(
        out, exist_ok=True, compression_options="zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack") as w:
    s = tf.series[0]
    lead = [a for a in s.axes if a in "TCZ"]
    lead_shape = s.shape[: len(lead)]
    for i, page in enumerate(s.pages):
        plane = {a: int(v) for a, v in zip(lead, np.unravel_index(i, lead_shape))}
        img = page.asarray()
        ny, nx = img.shape
        for y in range(0, ny, 1024):
            for x in range(0, nx, 1024):
                w.write(np.ascontiguousarray(img[y:y + 1024, x:x + 1024]), plane=plane,
                        location=(x - 20000, y - 15000))
    w.write_metadata(document_name="czi benchmark", scale_x=1e-7, scale_y=1e-7, scale_z=5e-7)
EOF
  mv "$czi.partial" "$czi"
fi
raw=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['raw_bytes'])" "$tif.truth.json")

measure() { # name, source, output
  local name=$1 src=$2 out=$3
  rm -rf "$out"
  sync
  cat "$src" > /dev/null # both conversions read their source from the page cache
  /usr/bin/time -f '%e %M' -o "$scratch/time.txt" \
    "$bin" convert "$src" "$out" --chunk-yx 512 --codec zstd --level 1 --levels 4 --quiet \
    > "$scratch/$name.log" 2>&1 || { echo "$name failed:" >&2; tail -5 "$scratch/$name.log" >&2; return 1; }
  read -r wall rss_kb < "$scratch/time.txt"
  local size_mb src_mb valid=""
  size_mb=$(du -sm "$out" | cut -f1)
  src_mb=$(du -sm "$src" | cut -f1)
  if [ "${VALIDATE:-0}" = 1 ] && [ "$name" = ome-tiff ]; then
    valid=$("$py" "$shared/tools/validate_omezarr.py" --zarr "$out" --source "$src" --truth "$tif.truth.json" | tail -1)
  fi
  awk -v n="$name" -v w="$wall" -v r="$raw" -v m="$rss_kb" -v s="$size_mb" -v f="$src_mb" -v v="$valid" \
    'BEGIN { printf "| %s | %d | %.1f | %.2f | %.0f | %.0f | %d | %s |\n", n, f, r / 1048576 / 1024, w, r / w / 1e6, m / 1024, s, v }'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| source | file MB | GiB raw | wall s | MB/s | peak RSS MiB | output MB | validation |"
echo "|---|---|---|---|---|---|---|---|"
measure ome-tiff "$tif" "$scratch/out_tiff.ome.zarr"
measure czi-zstd1-mosaic "$czi" "$scratch/out_czi.ome.zarr"
