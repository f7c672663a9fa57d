#!/usr/bin/env bash
# The test command: sets up the tests' python, builds the `scopeflow` binary the end-to-end tests
# drive, then runs every test of the workspace. Extra arguments go to `cargo test --workspace`:
#   bash scripts/test.sh -- convert::ngff05::     # only tests whose name contains this
#   bash scripts/test.sh --release
# Honours CARGO_TARGET_DIR (the tests find the binary next to themselves) and SCOPEFLOW_VENV.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/install-deps.sh
bash scripts/setup-python.sh
export SCOPEFLOW_PYTHON=${SCOPEFLOW_PYTHON:-${SCOPEFLOW_VENV:-$HOME/.cache/scopeflow/venv}/bin/python}

# Build the binary with the profile the tests will run with (they look for it beside them).
profile=()
prev=
for arg in "$@"; do
  case "$arg" in
    --) break ;;
    --release) profile=(--release) ;;
    --profile=*) profile=("$arg") ;;
  esac
  [ "$prev" = --profile ] && profile=(--profile "$arg")
  prev=$arg
done
cargo build -p scopeflow-cli ${profile[@]+"${profile[@]}"}

# --no-fail-fast: one failing test binary must not hide the failures of the others.
cargo test --workspace --no-fail-fast "$@"
