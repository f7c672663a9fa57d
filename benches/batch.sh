#!/usr/bin/env bash
# Batch benchmark: the same backlog (COPIES x synthetic sample b, OME-TIFF 3x20x1024x1024 uint16,
# 126 MB each; 16 copies = 2.0 GB) converted with `batch submit --engine local` and with
# `--engine slurm --tasks 4` on a throwaway one-node Slurm cluster (benches' `with-slurm`, the
# tests' harness). Slurm's overhead = (submit to `status --wait` returning) / local wall time.
# Per-task peak RSS comes from each task's own records (`peak_rss_mib` in `status --json`).
# Prints markdown rows for BENCHMARKS.md. Needs root (munged, slurmd) and the Slurm packages.
#   bash benches/batch.sh [COPIES]     # default 16
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-batch).
set -euo pipefail

copies=${1:-16}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-batch}

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli -p scopeflow-benches --bin scopeflow --bin with-slurm >&2
target=${CARGO_TARGET_DIR:-$repo/target}/release
bin=$target/scopeflow

mkdir -p "$scratch/samples"
[ -f "$scratch/samples/b_ome_czyx_u16.ome.tif" ] || "$py" "$shared/tools/make_samples.py" --out "$scratch/samples" --only b >&2
sample=$scratch/samples/b_ome_czyx_u16.ome.tif
size=$(stat -c %s "$sample")
rm -rf "$scratch/archive"
mkdir -p "$scratch/archive"
for i in $(seq -w 1 "$copies"); do cp "$sample" "$scratch/archive/b_$i.ome.tif"; done
sync
export SCOPEFLOW_BATCH_HOME=$scratch/home

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| engine | files | MB | wall s | MB/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
row() { awk -v n="$1" -v c="$copies" -v b="$((size * copies))" -v w="$2" -v m="$3" \
  'BEGIN { printf "| %s | %d | %.0f | %.2f | %.0f | %s |\n", n, c, b / 1e6, w, b / w / 1e6, m }'; }

rm -rf "$scratch/local"; sync
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$scratch/t" "$bin" batch submit --from "$scratch/archive" --to "$scratch/local" \
  --engine local --tasks 4 >/dev/null
local_wall=$(echo "$(date +%s.%N) - $start" | bc)
row "local, 4 shards (whole process)" "$local_wall" "$(awk '{printf "%.0f", $1 / 1024}' "$scratch/t")"

# The Slurm run, inside a throwaway cluster: submit, then wait for the last task.
cat > "$scratch/slurm-run.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
rm -rf "$scratch/slurm"; sync
start=\$(date +%s.%N)
id=\$("$bin" batch submit --from "$scratch/archive" --to "$scratch/slurm" --engine slurm --tasks 4 \
  --sbatch-arg=--cpus-per-task=1 | tail -n1 | awk '{print \$NF}')
"$bin" batch status "\$id" --wait --interval 1 >/dev/null
echo "\$(date +%s.%N) - \$start" | bc > "$scratch/slurm-wall"
"$bin" batch status "\$id" --json > "$scratch/slurm-status.json"
SH
"$target/with-slurm" bash "$scratch/slurm-run.sh"
slurm_wall=$(cat "$scratch/slurm-wall")
rss=$("$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.0f' % max(t['peak_rss_mib'] or 0 for t in d['tasks']))" "$scratch/slurm-status.json")
row "slurm, array of 4 tasks (max per task)" "$slurm_wall" "$rss"
echo
echo "overhead: slurm / local = $(echo "scale=3; $slurm_wall / $local_wall" | bc)"
(cd "$scratch/slurm" && sha256sum --quiet -c manifest-sha256.txt && echo "slurm DEST: sha256sum -c OK")
