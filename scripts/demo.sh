#!/usr/bin/env bash
# The main job on the embedded 8x8 digits, end to end, with no download and no data folder:
# train the paper's l1-pre network (configs/digits-demo.toml: 400 epochs at lr 1e-3, seconds),
# export it as ONNX, dump its activations as HDF5 and analyse it. Output goes to
# ${1:-runs/demo}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-runs/demo}
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --bins   # epc and epc-train (the trainer behind `epc train`)
epc=target/release/epc
if [ -d "$out" ]; then
  # Only ever replace a folder this script made.
  [ -f "$out/.epc-demo" ] || { echo "demo: $out exists and is not a demo folder; pass another folder" >&2; exit 1; }
  rm -rf "$out"
fi
mkdir -p "$out" && touch "$out/.epc-demo"
$epc train --config configs/digits-demo.toml --seeds 0,1,2 --out "$out"
$epc dump --model "$out/seed-0/model.onnx" --out "$out/seed-0/acts.h5"
$epc analyze --model "$out" --out "$out/report"   # every seed-*/model.onnx
echo "demo: report in $out/report/report.md"
