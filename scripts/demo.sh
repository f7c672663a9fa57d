#!/usr/bin/env bash
# The main job on the embedded default (SQLite journal, local folders, the sample data):
# build scopeflow, generate the synthetic samples (fixed seed), drop them and the real samples
# into the demo pipeline's acquisition folder, run the agent once (metadata, QC, OME-Zarr,
# verified copy to the stand-in NAS folder), then show `status`, check the destination with
# `sha256sum -c` and print a QC table from the delivered QC documents.
#   bash scripts/demo.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
samples=${SCOPEFLOW_DEMO_SAMPLES:-${TMPDIR:-/tmp}/scopeflow-demo-samples}
config=pipelines/demo.yaml
acq=pipelines/demo/acquisitions
nas=pipelines/demo/nas

bash scripts/setup-python.sh
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

if ! ls "$samples"/*.truth.json >/dev/null 2>&1; then
  echo "generating samples in $samples"
  mkdir -p "$samples"
  "$py" "$shared/tools/make_samples.py" --out "$samples"
fi
mkdir -p "$acq/synthetic" "$acq/real"
cp -n "$samples"/*.tif "$acq/synthetic/"
for f in "$shared"/samples/real/*.truth.json; do cp -n "${f%.truth.json}" "$acq/real/"; done

"$bin" pipeline check "$config"
"$bin" agent --config "$config" --once
echo
"$bin" status --config "$config"
echo
(cd "$nas" && sha256sum --quiet -c manifest-sha256.txt && echo "$nas: sha256sum -c manifest-sha256.txt: all $(wc -l < manifest-sha256.txt) files OK")

python3 - "$nas" <<'PY'
import glob, json, os, sys
root = sys.argv[1]
print()
print(f"{'file':<44} {'ch':>2} {'name':<8} {'snr':>9} {'saturation':>11} {'otsu':>9}")
for path in sorted(glob.glob(os.path.join(root, "qc", "**", "*.json"), recursive=True)):
    doc = json.load(open(path))
    rel = os.path.relpath(path, os.path.join(root, "qc"))
    for c in doc["qc"]["channels"]:
        snr = "-" if c["snr"] is None else f"{c['snr']:.3f}"
        otsu = "-" if c["otsu_threshold"] is None else f"{c['otsu_threshold']:.4g}"
        print(f"{rel:<44} {c['index']:>2} {(c['name'] or '-'):<8} {snr:>9} {c['saturation_fraction']:>11.3e} {otsu:>9}")
PY
