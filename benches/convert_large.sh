#!/usr/bin/env bash
# Conversion benchmark: the large synthetic sample (C=2, Z=N, 2048x2048 uint16 OME-TIFF) converted
# by scopeflow and by ngff-zarr in the same run, same settings (chunk 512, zstd level 1,
# 4 levels). Prints one markdown row per converter: wall time, MB/s of raw pixels, peak RSS,
# output size; BENCHMARKS.md records them.
#   bash benches/convert_large.sh [GIB]        # default 1; e.g. 4 for the 4 GiB memory check
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench),
#      PEERS (default "ngff-zarr"; empty to run scopeflow alone), VALIDATE=1 to also run the
#      reference validator on each output (slow: it compares every pixel).
set -euo pipefail

gib=${1:-1}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench}
peers=${PEERS-ngff-zarr}

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

mkdir -p "$scratch"
tag=$(printf '%sgib' "$gib" | sed 's/\./p/')
src="$scratch/e_large_${tag}_czyx_u16.ome.tif"
if [ ! -f "$src.truth.json" ]; then
  echo "generating $src" >&2
  "$py" "$shared/tools/make_samples.py" --out "$scratch" --only "" --large --large-gib "$gib" >&2
fi
raw=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['raw_bytes'])" "$src.truth.json")

measure() { # name, output, command...
  local name=$1 out=$2
  shift 2
  rm -rf "$out" "${out%.ome.zarr}.png"  # convert writes its thumbnail beside the output
  sync
  cat "$src" > /dev/null # every converter reads the source from the page cache
  /usr/bin/time -f '%e %M' -o "$scratch/time.txt" "$@" > "$scratch/$name.log" 2>&1 || {
    echo "$name failed:" >&2; tail -5 "$scratch/$name.log" >&2; return 1; }
  read -r wall rss_kb < "$scratch/time.txt"
  local size_mb valid=""
  size_mb=$(du -sm "$out" | cut -f1)
  if [ "${VALIDATE:-0}" = 1 ]; then
    valid=$("$py" "$shared/tools/validate_omezarr.py" --zarr "$out" --source "$src" --truth "$src.truth.json" | tail -1)
  fi
  awk -v n="$name" -v w="$wall" -v r="$raw" -v m="$rss_kb" -v s="$size_mb" -v v="$valid" \
    'BEGIN { printf "| %s | %.1f | %.2f | %.0f | %.0f | %d | %s |\n", n, r / 1048576 / 1024, w, r / w / 1e6, m / 1024, s, v }'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| converter | GiB raw | wall s | MB/s | peak RSS MiB | output MB | validation |"
echo "|---|---|---|---|---|---|---|"
measure scopeflow "$scratch/out_scopeflow.ome.zarr" \
  "$bin" convert "$src" "$scratch/out_scopeflow.ome.zarr" --chunk-yx 512 --codec zstd --level 1 --levels 4 --quiet
for peer in $peers; do
  measure "$peer" "$scratch/out_$peer.ome.zarr" \
    "$py" "$shared/tools/peer_convert.py" --peer "$peer" --input "$src" --output "$scratch/out_$peer.ome.zarr"
done
