#!/usr/bin/env bash
# Creates (or updates) the python venv the end-to-end tests use to generate the synthetic samples
# and to validate conversions: ../shared/tools/requirements.txt in
# ${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}.
#
# Idempotent and fast when done: a stamp in the venv holds the sha256 of the requirements it
# was installed from, and nothing runs while it matches. Needs `python3 -m venv` (Debian:
# python3-venv) and, the first time, network access to PyPI.
#
# Env: SCOPEFLOW_VENV (venv folder), SCOPEFLOW_SHARED (shared folder, default ../shared beside
# the repository), PYTHON (interpreter that creates the venv, default python3).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SCOPEFLOW_SHARED:-$repo/../shared}
shared=$(cd "$shared" 2>/dev/null && pwd || echo "$shared")
requirements=$shared/tools/requirements.txt
venv=${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}
stamp=$venv/.scopeflow-requirements.sha256

if [ ! -f "$requirements" ]; then
  echo "setup-python: $requirements not found: the shared folder must sit beside the repository (or set SCOPEFLOW_SHARED)" >&2
  exit 1
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}
want=$(sha256 "$requirements")

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "setup-python: $venv is up to date"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup-python: creating $venv"
  mkdir -p "$(dirname "$venv")"
  if ! "${PYTHON:-python3}" -m venv "$venv"; then
    echo "setup-python: \`${PYTHON:-python3} -m venv\` failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    rm -rf "$venv"
    exit 1
  fi
fi

echo "setup-python: installing $requirements into $venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements"
# What the tests' tools import (datacite brings jsonschema and lxml: tests/tools/check_exports.py).
"$venv/bin/python" -c "import numpy, tifffile, zarr, ome_zarr_models, datacite, jsonschema, lxml"
echo "$want" >"$stamp"
echo "setup-python: done"
