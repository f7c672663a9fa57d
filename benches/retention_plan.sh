#!/usr/bin/env bash
# Retention robot benchmark: `scopeflow retention plan` over a journal of N files (default
# 100,000), every one verified and old enough, each with its raw file on disk (1 KiB, 1,000 per
# folder), so the plan reads every row and stats every file. Copies are not re-verified by a
# plan (that is `retention run`'s job), so this measures the journal query, the decisions and
# the local size/mtime checks. Prints wall time and peak memory from /usr/bin/time -v, the
# median of 3 runs, and a markdown row for BENCHMARKS.md.
#   bash benches/retention_plan.sh [N]
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-retention).
set -euo pipefail

n=${1:-100000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-retention}
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }

cargo build --release -p scopeflow-cli >&2
cargo build --release -p scopeflow-retention --example bench_fill >&2
target=${CARGO_TARGET_DIR:-$repo/target}
bin=$target/release/scopeflow

rm -rf "$scratch"
mkdir -p "$scratch"
start=$(date +%s.%N)
"$target/release/examples/bench_fill" "$scratch" "$n" >&2
echo "filled in $(echo "$(date +%s.%N) - $start" | bc) s" >&2
sync

runs=()
for i in 1 2 3; do
  # Cold-ish page cache for the journal is not forced: a daily timer finds it warm or cold.
  /usr/bin/time -v "$bin" retention plan --config "$scratch/pipeline.yaml" --now 2030-01-01T00:00:00Z --json \
    > "$scratch/plan.json" 2> "$scratch/time.txt"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$scratch/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$scratch/time.txt")
  secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  purge=$(grep -c '"path"' "$scratch/plan.json" || true)
  echo "run $i: ${secs} s, peak RSS ${rss} KiB, ${purge} entries" >&2
  runs+=("$secs $rss")
done
median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
secs=${median% *}
rss=${median#* }
echo "| retention plan, $n verified files (journal + stat, no copy verification) | ${secs} s | $((rss / 1024)) MiB peak RSS | \`bash benches/retention_plan.sh $n\` |"
