#!/usr/bin/env bash
# The Windows agent, built and run: cross-builds scopeflow.exe (x86_64-pc-windows-gnu, MinGW,
# profile `win-release`), checks that it is one self-contained file (no DLL of the GNU
# toolchain needed beside it), then runs it under Wine from a folder holding nothing else:
# --version, inspect, convert (validated by validate_omezarr.py), pipeline check, agent --once
# (polling, a local destination checked with `sha256sum -c`, non-ASCII names and a path longer
# than MAX_PATH), status, retention plan, and the service wrapper against Wine's service
# manager. Every command must exit 0, and no process may crash on its way out.
#
#   bash scripts/windows-smoke.sh            # from the repository root; installs wine64 if missing
#
# Env: CARGO_TARGET_DIR (default $HOME/.cache/scopeflow/target), SCOPEFLOW_WINDOWS_EXE (an .exe
# already built: skips the build), SCOPEFLOW_SHARED (default ../shared), SCOPEFLOW_PYTHON.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
shared=$(cd "$shared" && pwd)
target=x86_64-pc-windows-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/scopeflow/target}
say() { printf '\n--- windows smoke: %s\n' "$*"; }
fail() { echo "windows smoke: FAIL: $*" >&2; exit 1; }

# ---- build -------------------------------------------------------------------------------
exe=${SCOPEFLOW_WINDOWS_EXE:-}
if [ -z "$exe" ]; then
  say "cargo build --profile win-release --target $target -p scopeflow-cli --no-default-features"
  cargo build --profile win-release --target "$target" -p scopeflow-cli --no-default-features
  exe=$CARGO_TARGET_DIR/$target/win-release/scopeflow.exe
fi
[ -f "$exe" ] || fail "$exe was not built"
size=$(stat -c %s "$exe")
say "$exe: $size bytes ($((size / 1024 / 1024)) MiB)"

# Self-contained: the .exe may import only DLLs that every Windows has.
imports=$(x86_64-w64-mingw32-objdump -p "$exe" | awk '/DLL Name:/ {print $3}' | sort -u)
echo "imports: $(echo $imports)"
if printf '%s\n' "$imports" | grep -iE '^(libstdc|libgcc|libwinpthread|libssp|zlib|libz)' >/dev/null; then
  fail "the .exe needs a MinGW DLL beside it: $(printf '%s\n' "$imports" | grep -iE '^lib' | xargs)"
fi

# ---- Wine ----------------------------------------------------------------------------------
find_wine() {
  if command -v wine64 >/dev/null 2>&1; then command -v wine64
  elif [ -x /usr/lib/wine/wine64 ]; then echo /usr/lib/wine/wine64
  elif command -v wine >/dev/null 2>&1; then command -v wine
  fi
}
wine=$(find_wine)
if [ -z "$wine" ]; then
  say "installing wine64 (Debian)"
  [ "$(id -u)" = 0 ] || fail "wine64 is missing and this is not root: apt-get install wine64"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 wine >/dev/null
  wine=$(find_wine)
  [ -n "$wine" ] || fail "wine64 could not be installed"
fi
echo "wine: $wine ($("$wine" --version 2>/dev/null || echo '?'))"

work=$(mktemp -d "${TMPDIR:-/tmp}/scopeflow-winsmoke.XXXXXX")
export WINEPREFIX=$work/prefix WINEARCH=win64 WINEDEBUG=-all
# No Mono/Gecko installer dialogs: there is no display, and console programs need neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
cleanup() {
  "$wineserver" -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/run"
cp "$exe" "$work/bin/scopeflow.exe"
say "wineboot (a fresh prefix)"
"$wine" wineboot -i >"$work/boot.log" 2>&1 || true
"$wineserver" -w >/dev/null 2>&1 || true
# A prefix without its registry means wineboot failed (a full disk does that silently).
if [ ! -s "$WINEPREFIX/system.reg" ]; then
  tail -20 "$work/boot.log" >&2
  df -h "$work" >&2
  fail "wineboot did not create the Wine prefix in $WINEPREFIX (see its log and the free space above)"
fi

# Runs the .exe from $work/run (Wine maps the Unix cwd to Z:), relative paths only.
# Output goes to $work/out and $work/err; a non-zero exit or a crash report fails the smoke.
win() {
  local rc=0
  (cd "$work/run" && "$wine" "$work/bin/scopeflow.exe" "$@") >"$work/out" 2>"$work/err" </dev/null || rc=$?
  cat "$work/out"
  cat "$work/err" >&2
  if [ "$rc" != 0 ]; then fail "scopeflow $* exited $rc"; fi
  if grep -qiE 'unhandled (page fault|exception)|backtrace:|wine: (unhandled|assertion)' "$work/err"; then
    fail "scopeflow $*: crash report from Wine (see above)"
  fi
}

# Wine before 9 lacks bcryptprimitives.dll!ProcessPrng, which Rust's standard library imports:
# the loader refuses the .exe. Then (only then) the shim goes beside it.
say "scopeflow --version (checks whether this Wine needs the ProcessPrng shim)"
first=0
(cd "$work/run" && WINEDEBUG=err+module "$wine" "$work/bin/scopeflow.exe" --version) \
  >"$work/out" 2>"$work/err" </dev/null || first=$?
if [ "$first" != 0 ]; then
  if grep -qi 'bcryptprimitives\|ProcessPrng' "$work/err"; then
    echo "this Wine lacks ProcessPrng: building deploy/windows/processprng-shim.c into bcryptprimitives.dll"
    x86_64-w64-mingw32-gcc -O2 -shared -o "$work/bin/bcryptprimitives.dll" \
      deploy/windows/processprng-shim.c -ladvapi32
  else
    cat "$work/err" >&2
    df -h "$work" >&2
    fail "scopeflow.exe --version does not start under Wine (exit $first; Wine's messages above)"
  fi
fi
win --version
grep -q '^scopeflow ' "$work/out" || fail "--version printed no version"

# ---- batch commands ------------------------------------------------------------------------
bash scripts/setup-python.sh >/dev/null
py=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}
sample=aics_s_1_t_1_c_1_z_1.ome.tiff
cp "$shared/samples/real/$sample" "$work/run/"

say "inspect"
win inspect "$sample" --json
grep -q '"axes"' "$work/out" || fail "inspect --json printed no axes"

say "convert (then validate_omezarr.py)"
win convert "$sample" out/image.ome.zarr
"$py" "$shared/tools/validate_omezarr.py" --zarr "$work/run/out/image.ome.zarr" \
  --source "$work/run/$sample" --truth "$shared/samples/real/$sample.truth.json"

# ---- the agent -------------------------------------------------------------------------------
# Watched files: real samples, one with a non-ASCII name, one deep enough that its path at the
# destination is longer than MAX_PATH (260): Rust's std adds the \\?\ prefix itself there.
acq=$work/run/acq
deep=$(printf 'deep-folder-%02d/' $(seq 1 16))
mkdir -p "$acq/real" "$acq/Probe µ-Zelle été/显微镜" "$acq/$deep"
for f in aics_s_1_t_1_c_1_z_1.ome.tiff bbbc022_IXMtest_A02_s9.tif cancer_cell_migration_crop.tif; do
  cp "$shared/samples/real/$f" "$acq/real/"
done
cp "$shared/samples/real/$sample" "$acq/Probe µ-Zelle été/显微镜/Zelle_é_µ.ome.tiff"
cp "$shared/samples/real/$sample" "$acq/$deep/long.ome.tiff"
long=$(printf '%s' "$work/run/nas/ome-zarr/$deep/long.ome.zarr/0/zarr.json" | wc -c)
echo "deepest destination path: $long characters"
[ "$long" -gt 260 ] || fail "the deep sample's path is not longer than MAX_PATH"
mkdir -p "$work/run/nas"
cat >"$work/run/smoke.yaml" <<'YAML'
version: 1
name: windows-smoke
watch:
  - path: acq
    poll: true
    settle: 1s
state: state/state.db
steps: [metadata, qc, convert]
destinations:
  - name: nas
    kind: local
    path: nas
retention:
  purge_after: 1d
  require_verified: [nas]
YAML

say "pipeline check"
win pipeline check smoke.yaml
say "agent --once (poll, local destination)"
win agent --config smoke.yaml --once
say "sha256sum -c at the destination"
(cd "$work/run/nas" && sha256sum --quiet -c manifest-sha256.txt)
lines=$(wc -l <"$work/run/nas/manifest-sha256.txt")
raws=$(grep -c ' raw/' "$work/run/nas/manifest-sha256.txt" || true)
[ "$raws" = 5 ] || fail "the manifest lists $raws raw files, 5 expected"
echo "manifest: $lines files, all OK"
zarr=$(find "$work/run/nas/ome-zarr" -type d -name 'Zelle_é_µ.ome.zarr' | head -1)
[ -n "$zarr" ] || fail "no OME-Zarr delivered for the non-ASCII name"
"$py" "$shared/tools/validate_omezarr.py" --zarr "$zarr" --source "$work/run/$sample"
[ -z "$(find "$work/run/state/work" -mindepth 1 -maxdepth 1 2>/dev/null)" ] ||
  echo "note: work folders left: $(ls "$work/run/state/work")"

say "status"
win status --config smoke.yaml
[ "$(grep -c verified "$work/out")" -ge 5 ] || fail "status does not list 5 verified files"
say "retention plan"
win retention plan --config smoke.yaml --json

# ---- the service wrapper ---------------------------------------------------------------------
# Wine's service manager runs services: install, start, deliver a new file, stop and remove.
# (Wine 8's `sc query` prints nothing and `sc start` exits 1 even when it starts the service:
# `reg query` and `net start` are used instead.)
say "service install, net start, a new file delivered by the service, service uninstall"
win service install --config smoke.yaml --name scopeflow-smoke
key='HKLM\System\CurrentControlSet\Services\scopeflow-smoke'
"$wine" reg query "$key" </dev/null >"$work/out" 2>&1 || true
grep ImagePath "$work/out" || fail "the service is not registered: $(cat "$work/out")"
grep -q 'scopeflow.exe service run --config .*smoke.yaml --name scopeflow-smoke' "$work/out" ||
  fail "the registered command line is not \`scopeflow.exe service run --config ...\`"
cp "$shared/samples/real/bbbc022_IXMtest_A02_s9.tif" "$acq/real/by-the-service.tif"
# The service manager may not answer the first request yet: ask until the service has started.
for _ in $(seq 1 10); do
  "$wine" net start scopeflow-smoke </dev/null >"$work/out" 2>&1 || true
  cat "$work/out"
  [ -f "$work/run/state/scopeflow-agent.log" ] && break
  sleep 3
done
for _ in $(seq 1 60); do
  grep -q ' raw/real/by-the-service.tif$' "$work/run/nas/manifest-sha256.txt" && break
  sleep 2
done
grep -q ' raw/real/by-the-service.tif$' "$work/run/nas/manifest-sha256.txt" || served=no
win service uninstall --name scopeflow-smoke
if "$wine" reg query "$key" </dev/null >/dev/null 2>&1; then fail "the service is still registered"; fi
(cd "$work/run/nas" && sha256sum --quiet -c manifest-sha256.txt)
if [ "${served:-yes}" = yes ]; then
  sleep 2
  log=$work/run/state/scopeflow-agent.log
  grep -q 'verified at every destination' "$log" || fail "the service's log file says nothing of its work"
  echo "service: registered, started by Wine's service manager, delivered a file, logged to state\\scopeflow-agent.log, stopped and removed"
else
  # Wine 8's service manager sometimes does not know a service created a moment before
  # ("Could not get handle to service"): the start is then not held against the .exe.
  echo "WARNING: Wine's service manager did not run the service (log: $(tail -3 "$work/run/state/scopeflow-agent.log" 2>&1)); registration and removal were checked"
fi

echo
echo "windows smoke: all checks passed (scopeflow.exe, $size bytes, under $("$wine" --version 2>/dev/null))"
