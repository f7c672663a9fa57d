#!/usr/bin/env bash
# The main job on the embedded default: build scopeflow, generate the synthetic sample images
# (fixed seed), convert each to OME-Zarr and print a QC table.
#   bash scripts/demo.sh            # output under ${SCOPEFLOW_DEMO:-${TMPDIR:-/tmp}/scopeflow-demo}
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
demo=${SCOPEFLOW_DEMO:-${TMPDIR:-/tmp}/scopeflow-demo}

bash scripts/setup-python.sh
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

mkdir -p "$demo/samples" "$demo/ome-zarr"
if ! ls "$demo"/samples/*.truth.json >/dev/null 2>&1; then
  echo "generating samples in $demo/samples"
  "$py" "$shared/tools/make_samples.py" --out "$demo/samples"
fi

reports=()
for f in "$demo"/samples/*.tif; do
  name=$(basename "$f")
  out="$demo/ome-zarr/${name%%.*}.ome.zarr"
  "$bin" convert "$f" "$out" --overwrite --quiet --json > "$demo/ome-zarr/${name%%.*}.json"
  reports+=("$demo/ome-zarr/${name%%.*}.json")
  echo "converted $name -> $out"
done

python3 - "${reports[@]}" <<'PY'
import json, os, sys
print()
print(f"{'file':<34} {'ch':>2} {'name':<8} {'snr':>9} {'saturation':>11} {'otsu':>9} {'MB/s':>7}")
for path in sys.argv[1:]:
    r = json.load(open(path))
    mbps = r["source_size"] / r["seconds"] / 1e6
    for c in r["qc"]["channels"]:
        snr = "-" if c["snr"] is None else f"{c['snr']:.3f}"
        otsu = "-" if c["otsu_threshold"] is None else f"{c['otsu_threshold']:.4g}"
        print(f"{os.path.basename(r['input']):<34} {c['index']:>2} {(c['name'] or '-'):<8} {snr:>9} "
              f"{c['saturation_fraction']:>11.3e} {otsu:>9} {mbps:>7.0f}")
PY
