#!/usr/bin/env bash
# Writes testdata/models/digits-l1pre.onnx: the paper's network trained by epc on the embedded
# 8x8 digits with configs/digits-demo.toml (seed 0, CPU), exported as a step-v1 model. The
# analyzer's reference test (analyzer/tests/reference.rs) checks every statistic of the
# analysis of this model against an independent numpy computation. Rerun from the repository
# root after a change that alters trained weights (the test does not depend on the weights'
# exact values, only on the model being a trained one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/env.sh
cargo build --release --bin epc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
target/release/epc train --config configs/digits-demo.toml --seeds 0 --device cpu --plain --out "$tmp/run"
cp "$tmp/run/seed-0/model.onnx" testdata/models/digits-l1pre.onnx
md5sum testdata/models/digits-l1pre.onnx
