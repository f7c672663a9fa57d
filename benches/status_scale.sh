#!/usr/bin/env bash
# `scopeflow status` at scale: a journal of N files (default 100,000; each with its QC document
# and two verified copies; 1.5% failed or quarantined) built by
# crates/scopeflow-journal/examples/status_fill.rs, then `status`, `status --json`, one page
# (`--limit 100 --offset N/2`) and a filter (`--state failed,quarantined`), output to a file.
# Prints wall time and peak RSS (GNU time -v), median of 3, as markdown rows for BENCHMARKS.md.
# Then the RO-Crate's cost on the same journal (issue 16): `agent --once` with nothing to process
# rebuilds each destination's ro-crate-metadata.json as it stops; the agent's own timing of
# each rebuild, the crate's size, and the run's wall time and peak RSS.
#   bash benches/status_scale.sh [N]
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-status),
#      SCOPEFLOW_BENCH_NO_BUILD=1 (use the binaries already built),
#      SCOPEFLOW_BENCH_PROFILE=dev (the test profile instead of release: slower, so an upper bound).
set -euo pipefail

n=${1:-100000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-status}
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }
profile=${SCOPEFLOW_BENCH_PROFILE:-release}
if [ "${SCOPEFLOW_BENCH_NO_BUILD:-}" != 1 ]; then
  cargo build --profile "$profile" -p scopeflow-cli >&2
  cargo build --profile "$profile" -p scopeflow-journal --example status_fill >&2
fi
target=${CARGO_TARGET_DIR:-$repo/target}
out=$target/$([ "$profile" = dev ] && echo debug || echo "$profile")
bin=$out/scopeflow

rm -rf "$scratch"
mkdir -p "$scratch"
start=$(date +%s.%N)
"$out/examples/status_fill" "$scratch" "$n" >&2
echo "filled in $(echo "$(date +%s.%N) - $start" | bc) s; journal $(du -h "$scratch/state/state.db" | cut -f1)" >&2
sync

echo "Machine: $(nproc) cores, $(uname -sr), profile $profile, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ); $n files"
echo "| command | wall (median of 3) | peak RSS | output |"
echo "|---|---|---|---|"
measure() {
  local label=$1; shift
  local runs=()
  for i in 1 2 3; do
    /usr/bin/time -v "$bin" "$@" > "$scratch/out" 2> "$scratch/time.txt"
    local wall rss secs
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$scratch/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$scratch/time.txt")
    secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    runs+=("$secs $rss")
  done
  local median secs rss
  median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
  secs=${median% *}
  rss=${median#* }
  echo "| \`$label\` | ${secs} s | $((rss / 1024)) MiB | $(du -h "$scratch/out" | cut -f1), $(wc -l < "$scratch/out") lines |"
}
cfg=$scratch/pipeline.yaml
measure "status" status --config "$cfg"
measure "status --json" status --config "$cfg" --json
measure "status --json --limit 100 --offset $((n / 2))" status --config "$cfg" --json --limit 100 --offset $((n / 2))
measure "status --json --state failed,quarantined" status --config "$cfg" --json --state failed,quarantined
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(f["state"] in ("failed","quarantined") for f in d["files"]), "filter"; print(len(d["files"]), "failed or quarantined rows: valid JSON", file=sys.stderr)' "$scratch/out"

# The RO-Crate: the failed rows would be retried (their raw files do not exist); quarantine them
# so the run does nothing but write the crates and stop.
mkdir -p "$scratch/nas" "$scratch/nas2"
python3 - "$scratch/state/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE files SET state = 'quarantined' WHERE state IN ('failed', 'pending')")
db.commit()
PY
sync

echo
echo "RO-Crate rebuild, same journal, 2 destinations, load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -v "$out/scopeflow" -v agent --config "$scratch/pipeline.yaml" --once > /dev/null 2> "$scratch/agent.log" || true
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$scratch/agent.log")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$scratch/agent.log")
echo "| step | figure |"
echo "|---|---|"
grep 'RO-Crate written' "$scratch/agent.log" | sed -E 's/\x1b\[[0-9;]*m//g' | sed -E 's/.*destination=([^ ]+).* files=([0-9]+).* seconds=([0-9.]+).*/| rebuild at \1 (\2 files) | \3 s |/'
echo "| ro-crate-metadata.json | $(du -h "$scratch/nas/ro-crate-metadata.json" | cut -f1) |"
echo "| whole \`agent --once\` (open, reconcile, both crates, stop) | $wall, peak RSS $((rss / 1024)) MiB |"
# The journal and the two crates take ~800 MB.
rm -rf "$scratch/state" "$scratch/nas" "$scratch/nas2" "$scratch/out"
