#!/usr/bin/env bash
# The test command: installs the native pieces if needed (scripts/setup.sh), then runs
# every test of the workspace in the release profile (the only profile this project builds).
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p epc-core).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo test --release --workspace "$@"
