#!/usr/bin/env bash
# QC alarm latency (issue 15: "within 5 s of a file becoming stable, for a 100 MB file").
# A long-running agent (settle 1 s, local destination, `qc: {saturation_max: 0.001}` with a
# webhook) is given FILES saturated 100 MB TIFFs one after another; a real HTTP receiver notes
# when each POST arrives. Latency = arrival - (the file's last write + settle), i.e. from the
# moment the file is stable; printed as median, p95 and max beside `convert` alone.
#   bash benches/alarm_latency.sh
# Env: SCOPEFLOW_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/scopeflow-bench-alarm),
#      SCOPEFLOW_BENCH_FILES (10), SCOPEFLOW_BENCH_BIN (a binary instead of building this tree).
set -euo pipefail

files=${SCOPEFLOW_BENCH_FILES:-10}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-alarm}
bash scripts/setup-python.sh >&2
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
if [ -n "${SCOPEFLOW_BENCH_BIN:-}" ]; then
  bin=$SCOPEFLOW_BENCH_BIN
else
  cargo build --release -p scopeflow-cli >&2
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/scopeflow
fi
rm -rf "$scratch"; mkdir -p "$scratch/acq" "$scratch/nas" "$scratch/src"

# 100 MB of uint16 (48 x 1024 x 1024), 1 % of the pixels at 65535: one saturation alarm.
"$py" - "$scratch/src/s.tif" <<'PY'
import sys, numpy as np, tifffile
rng = np.random.default_rng(7)
y, x = np.mgrid[0:1024, 0:1024]
base = 2000 + 1500 * np.sin(x / 40.0) * np.cos(y / 55.0)
stack = np.stack([base + rng.normal(0, 60, base.shape) for _ in range(48)]).clip(0, 65535).astype(np.uint16)
stack[:, ::10, ::10] = 65535
tifffile.imwrite(sys.argv[1], stack, photometric="minisblack")
PY
/usr/bin/time -f '%e' -o "$scratch/convert.t" "$bin" convert "$scratch/src/s.tif" "$scratch/src/s.ome.zarr" --quiet
rm -rf "$scratch/src/s.ome.zarr"

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py" - "$port" "$scratch/posts" <<'PY' &
import http.server, json, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with open(out, "a") as f:
            f.write(f"{body['file']} {time.time():.3f}\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
receiver=$!
cat > "$scratch/pipeline.yaml" <<YAML
version: 1
name: alarm-bench
watch:
  - path: acq
    settle: 1s
state: state/state.db
qc:
  saturation_max: 0.001
  notify:
    - webhook: http://127.0.0.1:$port/
destinations:
  - name: nas
    kind: local
    path: nas
YAML
"$bin" agent --config "$scratch/pipeline.yaml" 2> "$scratch/agent.log" &
agent=$!
# The copies take ~2 GB: only the logs are kept.
trap 'kill "$agent" "$receiver" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; rm -rf "$scratch/acq" "$scratch/nas" "$scratch/src" "$scratch/state"' EXIT
sleep 2
la=$(cut -d' ' -f1 /proc/loadavg)
: > "$scratch/written"
for i in $(seq -w 1 "$files"); do
  cp "$scratch/src/s.tif" "$scratch/acq/sat_$i.tif"
  echo "sat_$i.tif $(stat -c %.3Y "$scratch/acq/sat_$i.tif")" >> "$scratch/written"
  sleep 4
done
"$py" - "$scratch/written" "$scratch/posts" "$files" "$(cat "$scratch/convert.t")" "$la" <<'PY'
import os, statistics, sys, time
written, posts, n, convert_s, la = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
wrote = dict(l.split() for l in open(written))
deadline = time.time() + 300
got = {}
while time.time() < deadline:
    if os.path.exists(posts):
        got = {}
        for l in open(posts):
            f, t = l.split()
            got.setdefault(os.path.basename(f), float(t))
    if len(got) >= n:
        break
    time.sleep(0.5)
settle = 1.0
lat = sorted(got[f] - float(wrote[f]) - settle for f in got if f in wrote)
p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
print(f"alarm latency, {len(lat)} of {n} saturated files of 100 MB, settle 1 s, load {la}: "
      f"from stable to webhook POST median {statistics.median(lat):.2f} s, p95 {p95:.2f} s, "
      f"max {lat[-1]:.2f} s; convert alone {convert_s:.2f} s; target 5 s")
PY
