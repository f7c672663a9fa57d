#!/usr/bin/env bash
# Central server load benchmark: ingest of event batches over HTTP into a fresh database until it
# holds FILES file rows (default 1,000,000), then the latency of the API calls and pages the
# dashboard makes, on SQLite and on a throwaway PostgreSQL cluster (loopback only). Prints
# Markdown rows for BENCHMARKS.md.
#   bash benches/server_load.sh [FILES] [sqlite|postgres|both]
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-server),
#      SCOPEFLOW_PG_BIN (folder of initdb/pg_ctl; default: Debian's /usr/lib/postgresql/*/bin),
#      SCOPEFLOW_BENCH_NO_BUILD=1 (use the example binary already built).
set -euo pipefail

files=${1:-1000000}
which=${2:-both}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-server}
[ "${SCOPEFLOW_BENCH_NO_BUILD:-}" = 1 ] || cargo build --release -p scopeflow-server --example server_load >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/examples/server_load

echo "Machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ); ${files} files"

if [ "$which" != postgres ]; then
  rm -rf "$scratch/sqlite" && mkdir -p "$scratch/sqlite"
  echo "### SQLite"
  "$bin" --db "sqlite://$scratch/sqlite/server.db" --files "$files"
  echo "database size: $(du -sh "$scratch/sqlite" | cut -f1)"
fi

if [ "$which" != sqlite ]; then
  pgbin=${SCOPEFLOW_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
  [ -x "$pgbin/initdb" ] || { echo "initdb not found: apt-get install -y postgresql, or set SCOPEFLOW_PG_BIN" >&2; exit 1; }
  as_pg=()
  [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
  pgdir=$scratch/pg
  rm -rf "$pgdir" && mkdir -p "$pgdir"
  [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 >/dev/null
  # Durable settings (fsync on) as in production; a larger shared_buffers than the tiny default.
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" \
    -o "-p $port -h 127.0.0.1 -k $pgdir -c shared_buffers=512MB -c synchronous_commit=on" -w start >/dev/null
  trap '"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true' EXIT
  "${as_pg[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres scopeflow_bench
  echo "### PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}')"
  "$bin" --db "postgres://postgres@127.0.0.1:$port/scopeflow_bench" --files "$files"
  echo "database size: $(du -sh "$pgdir/data" | cut -f1)"
fi
