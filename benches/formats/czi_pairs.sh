#!/usr/bin/env bash
# Our CZI conversion and the Python pipeline, alternated in pairs, each run 61 s after the
# previous output's deletion (see formats_convert.sh's `measure`) with the source in the page
# cache: this virtual machine's speed drifts within minutes, so a ratio is only worth what a
# pair measured back to back gives. Needs the 1 GiB CZI that formats_convert.sh generates.
#   bash benches/formats/czi_pairs.sh [PAIRS]      # default 5
# Env: SCOPEFLOW_BENCH_DIR (as formats_convert.sh), SCOPEFLOW_BENCH_BIN (a build to measure).
set -euo pipefail

pairs=${1:-5}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-formats}
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
czi=$scratch/e_large_1gib_czyx_u16_zstd1_mosaic.czi
[ -f "$czi" ] || { echo "$czi missing: run bash benches/formats_convert.sh 1 first" >&2; exit 1; }
if [ -n "${SCOPEFLOW_BENCH_BIN:-}" ]; then
  bin=$SCOPEFLOW_BENCH_BIN
else
  (cd "$repo" && cargo build --release -p scopeflow-cli >&2)
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow
fi

# out, command...: sets `wall`, `user`, `sys`, `rss` (MiB).
run() {
  local out=$1
  shift
  rm -rf "$out" "${out%.ome.zarr}.png"
  sync
  sleep 61
  cat "$czi" >/dev/null
  /usr/bin/time -f '%e %U %S %M' -o "$scratch/pair-time.txt" "$@" >"$scratch/pair.log" 2>&1 ||
    { echo "failed: $*" >&2; tail -5 "$scratch/pair.log" >&2; exit 1; }
  read -r wall user sys rss <"$scratch/pair-time.txt"
  rss=$((rss / 1024))
}

echo "| pair | ours s (user / sys) | peak RSS MiB | Python s | Python peak RSS MiB | Python / ours |"
echo "|---|---|---|---|---|---|"
for ((i = 1; i <= pairs; i++)); do
  run "$scratch/out_czi.ome.zarr" "$bin" convert "$czi" "$scratch/out_czi.ome.zarr" \
    --chunk-yx 512 --codec zstd --level 1 --levels 4 --quiet
  ours=("$wall" "$user" "$sys" "$rss")
  run "$scratch/py_czi.ome.zarr" "$py" "$repo/benches/formats/python_peer.py" "$shared/tools" \
    "$czi" "$scratch/py_czi.ome.zarr"
  echo "| $i | ${ours[0]} (${ours[1]} / ${ours[2]}) | ${ours[3]} | $wall | $rss | $(echo "scale=2; $wall / ${ours[0]}" | bc) |"
done
