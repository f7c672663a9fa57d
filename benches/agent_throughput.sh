#!/usr/bin/env bash
# Agent benchmark: 20 copies of synthetic sample b (OME-TIFF 3x20x1024x1024 uint16, 120 MiB
# each) dropped into a watch folder and delivered, verified, to a local destination, against
# standalone `scopeflow convert` of the same files, in the same run. Then the detection
# latency of a long-running agent: time from a file's last write to its `stable` state
# (target ≤ settle + 1 s). Prints markdown rows for BENCHMARKS.md.
#   bash benches/agent_throughput.sh [COPIES]     # default 20
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-agent).
set -euo pipefail

copies=${1:-20}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-agent}

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
cargo build --release -p scopeflow-cli >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow

mkdir -p "$scratch/samples"
[ -f "$scratch/samples/b_ome_czyx_u16.ome.tif" ] || "$py" "$shared/tools/make_samples.py" --out "$scratch/samples" --only b >&2
sample=$scratch/samples/b_ome_czyx_u16.ome.tif
size=$(stat -c %s "$sample")

reset() {
  rm -rf "$scratch/acq" "$scratch/nas" "$scratch/state" "$scratch/converted"
  mkdir -p "$scratch/acq" "$scratch/nas" "$scratch/converted"
  for i in $(seq -w 1 "$copies"); do cp "$sample" "$scratch/acq/b_$i.ome.tif"; done
  sync
}
cat > "$scratch/pipeline.yaml" <<YAML
version: 1
name: bench
watch:
  - path: acq
    settle: 1s
workers: ${SCOPEFLOW_BENCH_WORKERS:-1}
state: state/state.db
destinations:
  - name: nas
    kind: local
    path: nas
YAML

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| run | files | MB | wall s | MB/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
row() { awk -v n="$1" -v c="$copies" -v b="$((size * copies))" -v w="$2" -v m="$3" \
  'BEGIN { printf "| %s | %d | %.0f | %.2f | %.0f | %.0f |\n", n, c, b / 1e6, w, b / w / 1e6, m / 1024 }'; }

reset
start=$(date +%s.%N)
rss=0
for f in "$scratch"/acq/*.tif; do
  /usr/bin/time -f '%M' -o "$scratch/t" "$bin" convert "$f" "$scratch/converted/$(basename "$f" .ome.tif).ome.zarr" --quiet
  r=$(cat "$scratch/t"); [ "$r" -gt "$rss" ] && rss=$r
done
row "scopeflow convert, one file after another" "$(echo "$(date +%s.%N) - $start" | bc)" "$rss"

reset
/usr/bin/time -f '%e %M' -o "$scratch/t" "$bin" agent --config "$scratch/pipeline.yaml" --once 2> "$scratch/agent.log"
read -r wall rss < "$scratch/t"
row "scopeflow agent --once (settle 1s, verified at a local destination)" "$wall" "$rss"
(cd "$scratch/nas" && sha256sum --quiet -c manifest-sha256.txt) || { echo "manifest check failed" >&2; exit 1; }

# Detection latency: long-running agent, one file written, time until the journal says stable.
rm -rf "$scratch/acq" "$scratch/nas" "$scratch/state"; mkdir -p "$scratch/acq" "$scratch/nas"
"$bin" agent --config "$scratch/pipeline.yaml" 2> "$scratch/agent-live.log" &
agent=$!
sleep 2
cp "$sample" "$scratch/acq/late.ome.tif"
written=$(date +%s.%N)
"$py" - "$bin" "$scratch/pipeline.yaml" "$written" <<'PY'
import json, subprocess, sys, time
binary, config, written = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.time() + 60
while time.time() < deadline:
    out = subprocess.run([binary, "status", "--config", config, "--json"], capture_output=True, text=True).stdout
    files = json.loads(out or '{"files": []}')["files"]
    if files and files[0]["state"] not in ("discovered",):
        print(f"detection latency (last write -> stable, settle 1 s, native events): {time.time() - written:.2f} s")
        break
    time.sleep(0.05)
else:
    print("detection latency: not stable within 60 s")
PY
kill -TERM "$agent"; wait "$agent" || true
