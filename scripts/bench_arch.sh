#!/usr/bin/env bash
# The autograd path against PyTorch eager, per architecture (issue 13): for each architecture,
# the criterion benchmark `arch/<name>` (benches/epc/arch.rs) and then benches/arch_pytorch.py
# (the same network written plainly in PyTorch), back to back so that both see the same
# machine, in ROUNDS rounds; prints a Markdown table of median milliseconds per MNIST training
# batch, the ratio of each round and the median ratio.
#
# Usage: scripts/bench_arch.sh            (about 8 minutes on 2 cores)
# Environment: EPC_BENCH_THREADS (libtorch threads, also given to PyTorch; default 1: on these
# shared 2-core machines one thread each gives ratios that do not depend on the neighbours),
# ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
threads="${EPC_BENCH_THREADS:-1}"
export EPC_BENCH_THREADS="$threads"
rounds="${ROUNDS:-3}"
criterion_dir="${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}"
py="${EPC_VENV:?scripts/env.sh sets EPC_VENV}/bin/python"
archs="rnn-latent hierarchical dale lstm-err gru-err"
results=$(mktemp -d)
cargo bench --bench epc --no-run >&2
for round in $(seq 1 "$rounds"); do
  for a in $archs; do
    echo "bench_arch.sh: round $round, $a" >&2
    cargo bench --bench epc -- --warm-up-time 1 --measurement-time 5 "arch/$a\$" >/dev/null 2>&1
    cp "$criterion_dir/arch/$a/new/estimates.json" "$results/epc-$round-$a.json"
    "$py" benches/arch_pytorch.py --threads "$threads" --iters 30 --only "$a" > "$results/torch-$round-$a.json"
  done
done
python3 - "$results" "$threads" "$rounds" "$archs" <<'PY'
import json, pathlib, statistics, sys
root, threads, rounds, archs = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
print("| architecture | epc (autograd), ms/batch | PyTorch eager, ms/batch | epc / PyTorch per round | median ratio |")
print("|---|---|---|---|---|")
for a in archs:
    e = [json.loads((root / f"epc-{r}-{a}.json").read_text())["median"]["point_estimate"] / 1e6 for r in range(1, rounds + 1)]
    t = [json.loads((root / f"torch-{r}-{a}.json").read_text())["ms_per_batch"][a] for r in range(1, rounds + 1)]
    ratios = [x / y for x, y in zip(e, t)]
    fmt = lambda v, f: " / ".join(f.format(x) for x in v)
    print(f"| {a} | {fmt(e, '{:.2f}')} | {fmt(t, '{:.2f}')} | {fmt(ratios, '{:.2f}x')} | {statistics.median(ratios):.2f}x |")
print(f"\n{threads} thread(s) each; {rounds} rounds, each architecture's criterion run followed at once by its PyTorch run.")
PY
rm -rf "$results"
