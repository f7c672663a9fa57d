#!/usr/bin/env bash
# Vendor formats against OME-TIFF and against Python: the large synthetic OME-TIFF of
# make_samples.py (C=2, Z=N, 2048x2048 uint16), a CZI (zstd1 + HiLoByteUnpack, 2x2 mosaic at a
# negative stage offset: benches/formats/make_czi.py) and an Imaris .ims (gzip 1, padded chunks:
# make_ims.py) holding the same pixels. Each is converted by `scopeflow convert` with the same
# settings, and the CZI and Imaris files also by the Python pipeline a user would write
# (pylibCZIrw / h5py → dask → ngff-zarr: formats/python_peer.py), all in one run. One markdown
# row per conversion: wall time, MB/s of raw pixels, peak RSS, output size, and the reference
# validator's verdict on scopeflow's outputs. Each conversion runs REPEAT times (default 3):
# the row gives the median wall time and the largest peak RSS. Not run by the test suite.
#   bash benches/formats_convert.sh [GIB]          # default 1
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-formats),
#      IMS_CHUNK (Z,Y,X chunk of the .ims, default 8,256,256), PEERS=0 to skip Python,
#      REPEAT (runs per conversion, default 3), DELETE_WAIT (seconds, default 61: see measure).
set -euo pipefail

gib=${1:-1}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-formats}
here=$repo/benches/formats

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

mkdir -p "$scratch"
tag=$(printf '%sgib' "$gib" | sed 's/\./p/')
tif="$scratch/e_large_${tag}_czyx_u16.ome.tif"
czi="$scratch/e_large_${tag}_czyx_u16_zstd1_mosaic.czi"
ims="$scratch/e_large_${tag}_czyx_u16.ims"
if [ ! -f "$tif.truth.json" ]; then
  echo "generating $tif" >&2
  "$py" "$shared/tools/make_samples.py" --out "$scratch" --only "" --large --large-gib "$gib" >&2
fi
[ -f "$czi" ] || "$py" "$here/make_czi.py" "$tif" "$czi" >&2
[ -f "$ims" ] || "$py" "$here/make_ims.py" "$tif" "$ims" "${IMS_CHUNK:-8,256,256}" >&2
raw=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['raw_bytes'])" "$tif.truth.json")

# name, source, output, command...: one row; every conversion reads its source from the page cache.
measure() {
  local name=$1 src=$2 out=$3
  shift 3
  local walls=() rss_kb=0 wall rss i valid=""
  for ((i = 0; i < ${REPEAT:-3}; i++)); do
    rm -rf "$out" "${out%.ome.zarr}.png" # convert writes its thumbnail beside the output
    sync
    # ext4 without a journal (this VM's disk) makes every new file skip the inodes freed in the
    # last 60 s (`recently_deleted`): creating the ~4,400 files of an output right after deleting
    # the previous run's costs up to 15% of our conversion's samples. A conversion in use does
    # not follow such a deletion, and a journaled filesystem has no such cost: wait it out.
    sleep "${DELETE_WAIT:-61}"
    cat "$src" >/dev/null
    /usr/bin/time -f '%e %M' -o "$scratch/time.txt" "$@" >"$scratch/$name.log" 2>&1 ||
      { echo "$name failed:" >&2; tail -5 "$scratch/$name.log" >&2; return 1; }
    read -r wall rss <"$scratch/time.txt"
    walls+=("$wall")
    ((rss > rss_kb)) && rss_kb=$rss
  done
  # The median run (a shared virtual machine varies by ±10% from one run to the next).
  wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  case "$name" in
    # Pixels against the source itself; the truth (physical sizes included) is the OME-TIFF's.
    scopeflow-ome-tiff) valid=$("$py" "$shared/tools/validate_omezarr.py" --zarr "$out" --source "$src" \
      --truth "$tif.truth.json" 2>&1 | tail -1 || true) ;;
    scopeflow*) valid=$("$py" "$shared/tools/validate_omezarr.py" --zarr "$out" --source "$src" \
      2>&1 | tail -1 || true) ;;
  esac
  awk -v n="$name" -v w="$wall" -v r="$raw" -v m="$rss_kb" -v f="$(du -sm "$src" | cut -f1)" \
    -v s="$(du -sm "$out" | cut -f1)" -v v="$valid" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN { printf "| %s | %d | %.2f | %.0f | %.0f | %d | %s | %s |\n", n, f, w, r / w / 1e6, m / 1024, s, l, v }'
}
opts=(--chunk-yx 512 --codec zstd --level 1 --levels 4 --quiet)

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); raw pixels: $((raw / 1048576)) MiB"
echo "| conversion | source MB | wall s | MB/s (raw) | peak RSS MiB | output MB | load | validation |"
echo "|---|---|---|---|---|---|---|---|"
measure scopeflow-ome-tiff "$tif" "$scratch/out_tif.ome.zarr" "$bin" convert "$tif" "$scratch/out_tif.ome.zarr" "${opts[@]}"
measure scopeflow-czi "$czi" "$scratch/out_czi.ome.zarr" "$bin" convert "$czi" "$scratch/out_czi.ome.zarr" "${opts[@]}"
measure scopeflow-ims "$ims" "$scratch/out_ims.ome.zarr" "$bin" convert "$ims" "$scratch/out_ims.ome.zarr" "${opts[@]}"
if [ "${PEERS:-1}" != 0 ]; then
  measure python-czi "$czi" "$scratch/py_czi.ome.zarr" "$py" "$here/python_peer.py" "$shared/tools" "$czi" "$scratch/py_czi.ome.zarr"
  measure python-ims "$ims" "$scratch/py_ims.ome.zarr" "$py" "$here/python_peer.py" "$shared/tools" "$ims" "$scratch/py_ims.ome.zarr"
fi
