#!/usr/bin/env bash
# The autograd path against PyTorch eager, per architecture (issue 13): runs the criterion
# benchmarks `arch/<name>` (benches/epc/arch.rs) and benches/arch_pytorch.py (the same networks
# written plainly in PyTorch), twice each, alternately, so that both see the same machine, and
# prints a Markdown table of median milliseconds per MNIST training batch and their ratio.
#
# Usage: scripts/bench_arch.sh            (about 6 minutes on 2 cores)
# Environment: EPC_BENCH_THREADS (libtorch threads, also given to PyTorch; default: 2 for these
# MNIST-sized networks, libtorch's default on the 2-core machines).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
threads="${EPC_BENCH_THREADS:-$(nproc)}"
export EPC_BENCH_THREADS="$threads"
criterion_dir="${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}"
py="${EPC_VENV:?scripts/env.sh sets EPC_VENV}/bin/python"
results=$(mktemp -d)
for round in 1 2; do
  cargo bench --bench epc -- --warm-up-time 2 --measurement-time 8 'arch/' >&2
  for a in rnn-latent hierarchical dale lstm-err gru-err; do
    cp "$criterion_dir/arch/$a/new/estimates.json" "$results/epc-$round-$a.json"
  done
  "$py" benches/arch_pytorch.py --threads "$threads" > "$results/torch-$round.json"
done
python3 - "$results" "$threads" <<'PY'
import json, pathlib, sys
root, threads = pathlib.Path(sys.argv[1]), sys.argv[2]
archs = ["rnn-latent", "hierarchical", "dale", "lstm-err", "gru-err"]
print(f"| architecture | epc (autograd), ms/batch | PyTorch eager, ms/batch | epc / PyTorch |")
print("|---|---|---|---|")
for a in archs:
    e = [json.loads((root / f"epc-{r}-{a}.json").read_text())["median"]["point_estimate"] / 1e6 for r in (1, 2)]
    t = [json.loads((root / f"torch-{r}.json").read_text())["ms_per_batch"][a] for r in (1, 2)]
    print(f"| {a} | {e[0]:.2f} / {e[1]:.2f} | {t[0]:.2f} / {t[1]:.2f} | {e[0]/t[0]:.2f}x / {e[1]/t[1]:.2f}x |")
print(f"\n{threads} thread(s); rounds 1 / 2, each a criterion run then a PyTorch run.")
PY
rm -rf "$results"
