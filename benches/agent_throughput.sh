#!/usr/bin/env bash
# Agent benchmarks (issue 13). Prints markdown rows for BENCHMARKS.md; every row carries the
# load average (the machine is shared) and the CPU and disk figures that say what bound it.
#   bash benches/agent_throughput.sh [large|small|latency|all]     # default all
# (a) large: COPIES copies of synthetic sample b (OME-TIFF 3x20x1024x1024 uint16, 126 MB each),
#     standalone `scopeflow convert` one after another, then `agent --once` delivering them,
#     verified, to a local destination on the same disk, back to back in one run: the ratio.
# (b) small: SMALL plate-reader TIFFs of 1-4 MB (PLATE_A01_s1_w1.tif: wells x fields x
#     channels), `agent --once`: files/s, peak RSS, journal size.
# (c) latency: a long-running agent; LATENCY files of 100 MB written one after another; time
#     from each file's last write to `verified` (median, p95), against settle + 2 x convert.
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-agent),
#      SCOPEFLOW_BENCH_COPIES (20), SCOPEFLOW_BENCH_SMALL (10000), SCOPEFLOW_BENCH_LATENCY (10),
#      SCOPEFLOW_BENCH_WORKERS (unset: the pipeline's default), SCOPEFLOW_BENCH_BIN (a binary
#      to measure instead of building this tree).
set -euo pipefail

part=${1:-all}
copies=${SCOPEFLOW_BENCH_COPIES:-20}
small=${SCOPEFLOW_BENCH_SMALL:-10000}
latency_files=${SCOPEFLOW_BENCH_LATENCY:-10}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-agent}

bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
if [ -n "${SCOPEFLOW_BENCH_BIN:-}" ]; then
  bin=$SCOPEFLOW_BENCH_BIN   # an earlier build, for before/after figures
else
  cargo build --release -p scopeflow-cli >&2
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow
fi
mkdir -p "$scratch/samples"

# The block device holding the scratch folder, for its write counters (/proc/diskstats).
dev=$(basename "$(df --output=source "$scratch" | tail -1)")
disk_written() { awk -v d="$dev" '$3 == d { printf "%.0f\n", $10 * 512 }' /proc/diskstats; }
load() { cut -d' ' -f1 /proc/loadavg; }

pipeline() { # settle
  cat > "$scratch/pipeline.yaml" <<YAML
version: 1
name: bench
watch:
  - path: acq
    settle: $1
state: state/state.db
${SCOPEFLOW_BENCH_WORKERS:+workers: $SCOPEFLOW_BENCH_WORKERS}
destinations:
  - name: nas
    kind: local
    path: nas
YAML
}
clean() { rm -rf "$scratch/acq" "$scratch/nas" "$scratch/state" "$scratch/converted"; }

# Runs a command under /usr/bin/time; sets wall, cpu (user+sys s), rss (KiB), disk (bytes
# written to the device meanwhile), la (load average before).
measure() {
  la=$(load)
  sync
  local d0; d0=$(disk_written)
  /usr/bin/time -f '%e %U %S %M' -o "$scratch/t" "$@"
  local u s
  read -r wall u s rss < "$scratch/t"
  cpu=$(echo "$u + $s" | bc)
  disk=$(( $(disk_written) - d0 ))
}
header() {
  echo "| run | files | MB | wall s | MB/s | files/s | CPU s (of $(nproc) cores) | disk writes MB | peak RSS MiB | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
}
row() { # name files bytes
  awk -v n="$1" -v c="$2" -v b="$3" -v w="$wall" -v cpu="$cpu" -v d="$disk" -v m="$rss" -v la="$la" \
    'BEGIN { printf "| %s | %d | %.0f | %.2f | %.0f | %.1f | %.1f | %.0f | %.0f | %s |\n", n, c, b / 1e6, w, b / w / 1e6, c / w, cpu, d / 1e6, m / 1024, la }'
}
check_manifest() { (cd "$scratch/nas" && sha256sum --quiet -c manifest-sha256.txt) || { echo "manifest check failed" >&2; exit 1; }; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); workers ${SCOPEFLOW_BENCH_WORKERS:-default}"

large() {
  [ -f "$scratch/samples/b_ome_czyx_u16.ome.tif" ] || "$py" "$shared/tools/make_samples.py" --out "$scratch/samples" --only b >&2
  local sample=$scratch/samples/b_ome_czyx_u16.ome.tif size
  size=$(stat -c %s "$sample")
  clean; mkdir -p "$scratch/acq" "$scratch/nas" "$scratch/converted"
  for i in $(seq -w 1 "$copies"); do cp "$sample" "$scratch/acq/b_$i.ome.tif"; done
  sync
  pipeline 1s
  echo; echo "(a) large files"; header
  measure bash -c 'for f in "$1"/acq/*.tif; do "$2" convert "$f" "$1/converted/$(basename "$f" .ome.tif).ome.zarr" --quiet; done' _ "$scratch" "$bin"
  row "scopeflow convert, one file after another" "$copies" "$((size * copies))"
  local convert_wall=$wall
  # Kept until the end: deleting 5,000 files right before the agent runs would make each file
  # it creates skip those inodes (ext4 without a journal, as on this VM: `recently_deleted`).
  measure "$bin" agent --config "$scratch/pipeline.yaml" --once 2> "$scratch/agent.log"
  row "scopeflow agent --once (settle 1s, verified at a local destination)" "$copies" "$((size * copies))"
  check_manifest
  echo "ratio agent/convert throughput: $(echo "scale=2; $convert_wall / $wall" | bc)"
  # The issue's measure: from the first file settled (`stable`) to the last `verified`, read
  # from the journal; the run above also counts start-up and the settle second.
  local window
  window=$("$py" - "$scratch/state/state.db" <<'PY'
import datetime, sqlite3, sys
ts = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
rows = sqlite3.connect(sys.argv[1]).execute("SELECT stable_at, verified_at FROM files").fetchall()
print(f"{max(ts(v) for _, v in rows) - min(ts(s) for s, _ in rows):.2f}")
PY
)
  echo "settled -> verified: ${window} s; ratio (the issue's measure): $(echo "scale=2; $convert_wall / $window" | bc)"
  clean
}

small() {
  clean; mkdir -p "$scratch/acq" "$scratch/nas" "$scratch/small"
  # Four real TIFFs (1, 2, 3 and 4 MB of uint16: a smooth field with noise), hard-linked under
  # plate-reader names: the sources cost no disk, each name is a file of its own for the agent.
  "$py" - "$scratch/small" <<'PY'
import sys, numpy as np, tifffile
rng = np.random.default_rng(13)
for mb in (1, 2, 3, 4):
    y, x = np.mgrid[0:512 * mb, 0:1024]
    img = 2000 + 1500 * np.sin(x / 40.0) * np.cos(y / 55.0) + rng.normal(0, 60, (512 * mb, 1024))
    tifffile.imwrite(f"{sys.argv[1]}/t{mb}.tif", img.clip(0, 65535).astype(np.uint16))
PY
  local n=0 bytes=0 r c f w sz
  for r in A B C D E F G H I J K L M N O P; do for c in $(seq -w 1 24); do for f in $(seq 1 9); do for w in 1 2 3 4; do
    [ "$n" -ge "$small" ] && break 4
    sz=$(( n % 4 + 1 ))
    ln "$scratch/small/t$sz.tif" "$scratch/acq/PLATE_${r}${c}_s${f}_w${w}.tif"
    bytes=$(( bytes + $(stat -c %s "$scratch/small/t$sz.tif") )); n=$((n + 1))
  done; done; done; done
  pipeline 1s
  echo; echo "(b) small files"; header
  # The CPU bound: standalone convert of the four sizes, 10 times each (process start included).
  measure bash -c 'for i in 1 2 3 4 5 6 7 8 9 10; do for s in 1 2 3 4; do "$2" convert "$1/t$s.tif" "$1/o$i$s.ome.zarr" --quiet; done; done' _ "$scratch/small" "$bin"
  row "scopeflow convert, the four sizes x 10, one after another" 40 "$(( $(stat -c %s "$scratch"/small/t[1234].tif | paste -sd+ | bc) * 10 ))"
  rm -rf "$scratch"/small/*.ome.zarr
  measure "$bin" agent --config "$scratch/pipeline.yaml" --once 2> "$scratch/agent-small.log"
  row "scopeflow agent --once, plate-reader TIFFs of 1-4 MB" "$n" "$bytes"
  echo "journal: $(du -b "$scratch/state/state.db" | cut -f1) bytes (+ WAL $(du -b "$scratch/state/state.db-wal" 2>/dev/null | cut -f1 || echo 0)) for $n files"
  check_manifest
  clean; rm -rf "$scratch/small"
}

latency() {
  clean; mkdir -p "$scratch/acq" "$scratch/nas" "$scratch/lat"
  # 100 MB: sample b cut to its first 100 MB would be a broken TIFF; write a real one instead.
  "$py" - "$scratch/lat/l.tif" <<'PY'
import sys, numpy as np, tifffile
rng = np.random.default_rng(7)
y, x = np.mgrid[0:1024, 0:1024]
base = 2000 + 1500 * np.sin(x / 40.0) * np.cos(y / 55.0)
stack = np.stack([base + rng.normal(0, 60, base.shape) for _ in range(48)])
tifffile.imwrite(sys.argv[1], stack.clip(0, 65535).astype(np.uint16), photometric="minisblack")
PY
  local sample=$scratch/lat/l.tif
  measure "$bin" convert "$sample" "$scratch/lat/l.ome.zarr" --quiet
  local convert_s=$wall; rm -rf "$scratch/lat/l.ome.zarr"
  pipeline 1s
  "$bin" agent --config "$scratch/pipeline.yaml" 2> "$scratch/agent-live.log" &
  local agent=$!
  sleep 2
  : > "$scratch/lat/written"
  la=$(load)
  for i in $(seq -w 1 "$latency_files"); do
    cp "$sample" "$scratch/acq/lat_$i.tif"
    # The file's last write: its mtime, as the journal compares it.
    echo "lat_$i.tif $(stat -c %.3Y "$scratch/acq/lat_$i.tif")" >> "$scratch/lat/written"
    sleep 3
  done
  "$py" - "$scratch/state/state.db" "$scratch/lat/written" "$latency_files" "$convert_s" "$la" "$(stat -c %s "$sample")" <<'PY'
import datetime, sqlite3, statistics, sys, time
db, written, n, convert_s, la, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
wrote = dict(l.split() for l in open(written))
deadline = time.time() + 600
while time.time() < deadline:
    rows = sqlite3.connect(db).execute(
        "SELECT rel, discovered_at, stable_at, processed_at, verified_at FROM files "
        "WHERE verified_at IS NOT NULL").fetchall()
    if len(rows) >= n:
        break
    time.sleep(0.5)
ts = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
lat = sorted(ts(r[4]) - float(wrote[r[0]]) for r in rows)
# Where the time goes: each step's median, from the file's last write.
steps = {name: statistics.median(ts(r[i]) - float(wrote[r[0]]) for r in rows)
         for i, name in ((1, "found"), (2, "stable"), (3, "processed"), (4, "verified"))}
print("from the last write, medians: " + ", ".join(f"{k} +{v:.2f} s" for k, v in steps.items()))
p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
print(f"\n(c) latency, {len(lat)} files of {size / 1e6:.0f} MB, settle 1 s, native events, load {la}: "
      f"median {statistics.median(lat):.2f} s, p95 {p95:.2f} s, max {lat[-1]:.2f} s; "
      f"convert alone {convert_s:.2f} s, target settle + 2 x convert = {1 + 2 * convert_s:.2f} s")
PY
  kill -TERM "$agent"; wait "$agent" || true
  grep -m3 "progress" "$scratch/agent-live.log" || true
  check_manifest
  clean; rm -rf "$scratch/lat"
}

case $part in
  large) large ;;
  small) small ;;
  latency) latency ;;
  all) large; small; latency ;;
  *) echo "usage: $0 [large|small|latency|all]" >&2; exit 2 ;;
esac
