#!/usr/bin/env bash
# S3 transfer benchmark: scopeflow's S3 destination against rclone, both copying the same data
# to the same loopback s3s-fs server in the same run:
#   (a) one 1 GiB raw file (multipart),  (b) an OME-Zarr-like folder of 2,000 files of 100 KiB.
# scopeflow runs with read_back on (download and hash every object, the default) and off;
# rclone runs `copy` (MD5 checked by the server per request, and compared after upload), then
# `check --download` (a read-back comparable to ours). Prints markdown rows for BENCHMARKS.md.
#   bash benches/transfer_s3.sh
# Needs: s3s-fs (`cargo install s3s-fs@0.14.1 --features binary --locked`), rclone (Debian).
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-s3),
#      SCOPEFLOW_BENCH_PARALLEL (objects/parts in flight for both tools, default 8),
#      SCOPEFLOW_BENCH_FILES (folder size, default 2000), SCOPEFLOW_BENCH_MIB (file size, 1024;
#      0 skips the large file), SCOPEFLOW_BENCH_ROUNDS (then N alternated rounds of the folder:
#      scopeflow with read-back, rclone copy --transfers 64; default 0). A folder of files of at
#      most 1 MiB is sent with 64 requests in flight by scopeflow whatever `parallel` says;
#      rclone is also run with --transfers 64.
#      SCOPEFLOW_BENCH_MSS=1448 (root): serve on 127.0.0.2 through a route with Ethernet's
#      segment size. Loopback's 64 KiB segments and s3s-fs, which does not set TCP_NODELAY,
#      hold the tail of every GET of 65-128 KiB until the client's delayed ACK (40 ms):
#      a stall of the test set-up that real networks and servers do not have (BENCHMARKS.md).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-s3}
par=${SCOPEFLOW_BENCH_PARALLEL:-8}
nfiles=${SCOPEFLOW_BENCH_FILES:-2000}
mib=${SCOPEFLOW_BENCH_MIB:-1024}

s3s=$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")
[ -x "$s3s" ] || { echo "s3s-fs missing: cargo install s3s-fs@0.14.1 --features binary --locked" >&2; exit 1; }
# rclone is the yardstick, needed by this script only: installed here, not by install-deps.sh.
command -v rclone >/dev/null || apt-get install -y -q rclone >&2 || { echo "rclone missing: apt-get install -y rclone" >&2; exit 1; }
cargo build --release -p scopeflow-s3 --example s3_put >&2
ours=${CARGO_TARGET_DIR:-$repo/target}/release/examples/s3_put

rm -rf "$scratch"
mkdir -p "$scratch/src/x.ome.zarr" "$scratch/src/file" "$scratch/server/bench"
echo "generating ${mib} MiB file and ${nfiles}-file folder in $scratch/src" >&2
head -c "$((mib << 20))" /dev/urandom > "$scratch/src/file/raw.bin"
head -c 2000 /dev/urandom | base64 > "$scratch/src/x.ome.zarr/zarr.json"
for i in $(seq 0 $((nfiles - 2))); do
  d="$scratch/src/x.ome.zarr/0/c/$((i / 50))"
  mkdir -p "$d"
  head -c 102400 /dev/urandom > "$d/$((i % 50))"
done
cat "$scratch/src/file/raw.bin" > /dev/null   # same warm page cache for every run
file_bytes=$(stat -c %s "$scratch/src/file/raw.bin")
dir_bytes=$(find "$scratch/src/x.ome.zarr" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

host=127.0.0.1
cleanup=()
if [ -n "${SCOPEFLOW_BENCH_MSS:-}" ]; then
  host=127.0.0.2
  ip route replace local "$host" dev lo table local advmss "$SCOPEFLOW_BENCH_MSS" mtu $((SCOPEFLOW_BENCH_MSS + 52))
  cleanup+=("ip route del local $host dev lo table local")
fi
port=$(python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$host")
export BENCH_AK="AK$RANDOM$RANDOM" BENCH_SK="SK$RANDOM$RANDOM$RANDOM"
"$s3s" --host "$host" --port "$port" --access-key "$BENCH_AK" --secret-key "$BENCH_SK" \
  "$scratch/server" > "$scratch/server.log" 2>&1 &
server=$!
cleanup+=("kill $server")
trap 'for c in "${cleanup[@]}"; do $c 2>/dev/null || true; done' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break; sleep 0.1; done
endpoint="http://$host:$port"

# rclone's S3 back-end fails on this machine's AWS_CA_BUNDLE (LoadCustomCABundleError): unset it.
# A wrapper script, since /usr/bin/time runs programs, not shell functions.
cat > "$scratch/rc" <<SH
#!/bin/sh
exec env -u AWS_CA_BUNDLE RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \\
  RCLONE_CONFIG_BENCH_ENDPOINT="$endpoint" RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="\$BENCH_AK" \\
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="\$BENCH_SK" RCLONE_CONFIG_BENCH_REGION=us-east-1 \\
  RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true rclone "\$@"
SH
chmod +x "$scratch/rc"
rc=$scratch/rc

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); server: s3s-fs 0.14.1 on loopback ($host, segment size ${SCOPEFLOW_BENCH_MSS:-of loopback}); parallel $par"
echo "| tool | data | files | MiB | wall s | MiB/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
# timed LABEL DATA FILES BYTES -- COMMAND...: one markdown row, from /usr/bin/time.
timed() {
  local label=$1 data=$2 files=$3 bytes=$4; shift 5
  /usr/bin/time -f "%e %M" -o "$scratch/time" "$@" > "$scratch/out" 2> "$scratch/err" || {
    echo "$label failed:" >&2; cat "$scratch/err" >&2; exit 1; }
  read -r wall rss < "$scratch/time"
  awk -v l="$label" -v d="$data" -v f="$files" -v b="$bytes" -v w="$wall" -v r="$rss" \
    'BEGIN {printf "| %s | %s | %d | %.0f | %.2f | %.1f | %.0f |\n", l, d, f, b/1048576, w, b/1048576/w, r/1024}'
}

for rb in true false; do
  [ "$mib" = 0 ] || timed "scopeflow (read_back: $rb)" "1 file" 1 "$file_bytes" -- "$ours" --endpoint "$endpoint" \
    --bucket bench --prefix "ours-$rb" --access-key-env BENCH_AK --secret-key-env BENCH_SK \
    --read-back "$rb" --parallel "$par" "$scratch/src/file/raw.bin" raw/raw.bin
  timed "scopeflow (read_back: $rb)" "folder" "$nfiles" "$dir_bytes" -- "$ours" --endpoint "$endpoint" \
    --bucket bench --prefix "ours-$rb" --access-key-env BENCH_AK --secret-key-env BENCH_SK \
    --read-back "$rb" --parallel "$par" "$scratch/src/x.ome.zarr" ome-zarr/x.ome.zarr
done
if [ "$mib" != 0 ]; then
timed "rclone copy" "1 file" 1 "$file_bytes" -- "$rc" copy "$scratch/src/file" bench:bench/rclone/raw \
  --s3-chunk-size 16M --s3-upload-cutoff 16M --s3-upload-concurrency "$par"
timed "rclone check --download" "1 file" 1 "$file_bytes" -- "$rc" check --download --one-way \
  "$scratch/src/file" bench:bench/rclone/raw
fi
timed "rclone copy" "folder" "$nfiles" "$dir_bytes" -- "$rc" copy "$scratch/src/x.ome.zarr" \
  bench:bench/rclone/ome-zarr/x.ome.zarr --transfers "$par" --checkers "$par"
timed "rclone check --download" "folder" "$nfiles" "$dir_bytes" -- "$rc" check --download --one-way \
  "$scratch/src/x.ome.zarr" bench:bench/rclone/ome-zarr/x.ome.zarr --checkers "$par"
timed "rclone copy --transfers 64" "folder" "$nfiles" "$dir_bytes" -- "$rc" copy "$scratch/src/x.ome.zarr" \
  bench:bench/rclone64/ome-zarr/x.ome.zarr --transfers 64 --checkers 64
# Issue 14's comparison, alternated: the machine's speed drifts within minutes, so the folder is
# sent ROUNDS more times by each tool in turn (scopeflow with read-back, rclone without), each
# round to new names on the same server.
for ((round = 1; round <= ${SCOPEFLOW_BENCH_ROUNDS:-0}; round++)); do
  timed "round $round: scopeflow (read_back: true)" "folder" "$nfiles" "$dir_bytes" -- "$ours" \
    --endpoint "$endpoint" --bucket bench --prefix "round$round" --access-key-env BENCH_AK \
    --secret-key-env BENCH_SK --read-back true --parallel "$par" "$scratch/src/x.ome.zarr" \
    ome-zarr/x.ome.zarr
  timed "round $round: rclone copy --transfers 64" "folder" "$nfiles" "$dir_bytes" -- "$rc" copy \
    "$scratch/src/x.ome.zarr" "bench:bench/rclone-round$round/ome-zarr/x.ome.zarr" --transfers 64 \
    --checkers 64
done
