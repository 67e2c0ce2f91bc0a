#!/usr/bin/env bash
# The Python package's tests (python/tests): builds the wheel of `import epc` with maturin into
# the venv of scripts/setup.sh (sharing cargo's target folder, so the analyzer is not compiled
# twice), builds the `epc` binary the tests compare with, and runs pytest.
# Extra arguments go to pytest (e.g. scripts/test_python.sh -k dump).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The binaries the Rust tests build (`epc`, and `epc-train` for the study test): after
# scripts/test.sh this is a no-op (a plain `cargo build` resolves features differently and
# would relink them).
cargo test --release --workspace --no-run --quiet
export EPC_BIN="$CARGO_TARGET_DIR/release/epc"
bash scripts/build_python.sh
# From the repository root, so that `import epc` is the installed package, not python/epc.
"$EPC_PYTHON" -m pytest -q python/tests "$@"
