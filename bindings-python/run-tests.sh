#!/usr/bin/env bash
# Builds the Python wheel and runs the Python suite against it.
# Run from the repository root: bash bindings-python/run-tests.sh
# Needs only python3 (>= 3.9, with venv and pip) and cargo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Both overridable, so parallel checkouts need not share one venv or target.
VENV="${UPLINE_PY_VENV:-$ROOT/target/py-venv}"
PY="$VENV/bin/python"
# maturin builds with other settings than the workspace: its own target dir
# keeps the two from invalidating each other.
export CARGO_TARGET_DIR="${UPLINE_PY_TARGET:-$ROOT/target/python}"

if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
"$PY" -m pip install --quiet --disable-pip-version-check \
    maturin==1.16.0 pytest==8.4.2 mypy==1.19.1 hypothesis==6.155.2
# Test dependencies only (the Arrow tests): `import upline` needs neither.
"$PY" -m pip install --quiet --disable-pip-version-check pyarrow==26.0.1 polars==2.1.0

rm -f "$CARGO_TARGET_DIR"/wheels/upline-*.whl
"$VENV/bin/maturin" build --release --quiet \
    -m bindings-python/Cargo.toml -i "$PY"
WHEEL="$(ls "$CARGO_TARGET_DIR"/wheels/upline-*.whl)"
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"

# Run from outside the source tree so `import upline` is the installed wheel.
mkdir -p "$ROOT/target" && cd "$ROOT/target"
echo "== pytest"
"$PY" -m pytest "$ROOT/bindings-python/tests" -q -p no:cacheprovider
echo "== mypy --strict (typed example)"
"$PY" -m mypy --strict --no-incremental --cache-dir=/dev/null "$ROOT/bindings-python/tests/typed_example.py"
echo "== stubtest"
"$PY" -m mypy.stubtest upline --allowlist "$ROOT/bindings-python/stubtest-allowlist.txt"
echo "== bindings-python: all checks passed"
