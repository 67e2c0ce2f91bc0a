#!/usr/bin/env bash
# Builds the wheel of `import epc` (python/, PyO3 + maturin, abi3) and installs it into the venv
# of scripts/env.sh, replacing an earlier build. Uses CARGO_TARGET_DIR when set (else target/),
# so the workspace's compiled crates are reused. (`pip install ./python` does the same on a
# machine without the venv: it builds in a private target folder.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
[ -n "${EPC_PYTHON:-}" ] || { echo "build_python: run scripts/setup.sh first" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
wheels="$CARGO_TARGET_DIR/wheels"
rm -f "$wheels"/epc-*.whl
"$EPC_VENV/bin/maturin" build --release --quiet -m python/Cargo.toml -o "$wheels"
"$EPC_PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheels"/epc-*.whl
echo "build_python: installed $(ls "$wheels"/epc-*.whl) into $EPC_VENV" >&2
