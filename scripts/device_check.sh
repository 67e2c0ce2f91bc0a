#!/usr/bin/env bash
# The GPU checks of issues 3 and 6 as one prepared script, for a session that is lent a GPU
# machine (see /work/.library/device/README.md): CUDA against CPU training losses, the
# batched-instance throughput on the GPU, and a bf16 run against fp32 on the GPU (issue 32).
#
# Usage:
#   scripts/device_check.sh prepare   here: builds epc and the benchmark binary, strips them
#                                     into .device/ (ignored by git) with a copy of MNIST;
#                                     then carry ".device" to the device machine
#   scripts/device_check.sh run       on the device machine (or here, on CPU, to try it):
#                                     writes $OUT/device_check.md (default OUT=/tmp/device-check)
# Environment for `run`:
#   DEVICE_CHECK_DEVICE   the tch device to compare with the CPU (default cuda)
#   DEVICE_CHECK_QUICK=1  shorter benchmark sampling (a trial run)
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
  cargo build --release --bins
  local bench
  bench=$(cargo bench --bench epc --no-run 2>&1 | grep -o 'target/release/deps/epc-[0-9a-f]*' | tail -1)
  [ -x "$bench" ] || { echo "device_check: no benchmark binary found" >&2; exit 1; }
  rm -rf .device && mkdir -p .device
  strip -o .device/epc target/release/epc
  strip -o .device/epc-train target/release/epc-train
  strip -o .device/epc-bench "$bench"
  cp -r "${EPC_SHARED_DATA:-../shared/data}/mnist" .device/mnist
  chmod -R u+w .device
  du -sh .device
  echo "carry: .device"
}

run() {
  local out="${OUT:-/tmp/device-check}" dev="${DEVICE_CHECK_DEVICE:-cuda}"
  mkdir -p "$out"
  local sp
  sp=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ -d "$sp/torch/lib" ]; then
    export LD_LIBRARY_PATH="$sp/torch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    # shellcheck source=scripts/env.sh
    source scripts/env.sh
  fi
  local ort
  ort=$(ls "$sp"/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -1 || true)
  [ -n "$ort" ] && export ORT_DYLIB_PATH="$ort"
  local report="$out/device_check.md"
  {
    echo "# Device check"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
    echo "- torch (python): $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 | tail -1)"
    echo "- nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
    echo
  } >"$report"

  # Issue 3: the same run on the device and on the CPU (one instance, 2 epochs of MNIST).
  for d in "$dev" cpu; do
    rm -rf "$out/cmp-$d"
    .device/epc train --config configs/mnist.toml --data-dir .device/mnist --seeds 0 \
      --epochs 2 --device "$d" --out "$out/cmp-$d" >"$out/cmp-$d.log" 2>&1 ||
      { echo "device_check: training on $d failed, see $out/cmp-$d.log" | tee -a "$report"; }
  done
  python3 - "$out" "$dev" >>"$report" <<'PY'
import json, pathlib, sys
out, dev = pathlib.Path(sys.argv[1]), sys.argv[2]
def hist(d):
    f = out / f"cmp-{d}" / "seed-0" / "history.jsonl"
    return [json.loads(l) for l in f.read_text().splitlines()] if f.is_file() else None
a, b = hist(dev), hist("cpu")
print(f"## Training on {dev} against the CPU (MNIST l1-pre, seed 0, 2 epochs)\n")
if not a or not b:
    print("Not compared: a run failed (see the logs).\n")
else:
    print(f"| epoch | {dev} train loss | cpu train loss | relative difference | {dev} s/epoch | cpu s/epoch |")
    print("|---|---|---|---|---|---|")
    for x, y in zip(a, b):
        rel = abs(x["train_loss"] - y["train_loss"]) / abs(y["train_loss"])
        print(f"| {x['epoch']} | {x['train_loss']:.6f} | {y['train_loss']:.6f} | {rel:.2e} | {x['seconds']:.2f} | {y['seconds']:.2f} |")
    print()
PY

  # Issue 32: the same run in bf16 on the device, against its fp32 run above.
  rm -rf "$out/cmp-$dev-bf16"
  if .device/epc train --config configs/mnist.toml --data-dir .device/mnist --seeds 0 \
    --epochs 2 --device "$dev" --precision bf16 --out "$out/cmp-$dev-bf16" \
    >"$out/cmp-$dev-bf16.log" 2>&1; then
    python3 - "$out" "$dev" >>"$report" <<'PY'
import json, pathlib, sys
out, dev = pathlib.Path(sys.argv[1]), sys.argv[2]
def hist(d):
    f = out / d / "seed-0" / "history.jsonl"
    return [json.loads(l) for l in f.read_text().splitlines()] if f.is_file() else None
a, b = hist(f"cmp-{dev}-bf16"), hist(f"cmp-{dev}")
print(f"## bf16 against fp32 on {dev} (MNIST l1-pre, seed 0, 2 epochs)\n")
if not a or not b:
    print("Not compared: a run failed (see the logs).\n")
else:
    print("| epoch | bf16 train loss | fp32 train loss | relative difference | bf16 s/epoch | fp32 s/epoch | ratio |")
    print("|---|---|---|---|---|---|---|")
    for x, y in zip(a, b):
        rel = abs(x["train_loss"] - y["train_loss"]) / abs(y["train_loss"])
        print(f"| {x['epoch']} | {x['train_loss']:.6f} | {y['train_loss']:.6f} | {rel:.2e} | {x['seconds']:.2f} | {y['seconds']:.2f} | {x['seconds']/y['seconds']:.2f} |")
    print()
PY
  else
    { echo "## bf16 against fp32 on $dev"; echo; echo "Not run: $(tail -1 "$out/cmp-$dev-bf16.log")"; echo; } >>"$report"
  fi

  # Issue 6: batched instances on the device (criterion; medians per batch).
  local crit="$out/criterion" timing=(--warm-up-time 2 --measurement-time 8)
  [ "${DEVICE_CHECK_QUICK:-0}" = 1 ] && timing=(--warm-up-time 1 --measurement-time 2)
  CRITERION_HOME="$crit" EPC_SHARED_DATA=.device EPC_BENCH_DEVICE="$dev" \
    .device/epc-bench --bench "${timing[@]}" 'train/(batched|sequential|bf16_vs_fp32)' >"$out/bench.log" 2>&1 ||
    echo "device_check: the benchmark failed, see $out/bench.log" | tee -a "$report"
  python3 - "$crit" "$dev" >>"$report" <<'PY'
import json, pathlib, sys
crit, dev = pathlib.Path(sys.argv[1]), sys.argv[2]
def med(name, k):
    f = crit / "train" / name / str(k) / "new" / "estimates.json"
    return json.loads(f.read_text())["median"]["point_estimate"] * 1e-9 if f.is_file() else None
meta = crit / "epc-meta" / "train.json"
m = json.loads(meta.read_text()) if meta.is_file() else {}
b1, b10, s10 = med("batched", 1), med("batched", 10), med("sequential", 10)
print(f"## Batched instances on {dev} (MNIST l1-pre, batch 32; criterion medians)\n")
if None in (b1, b10, s10) or not m:
    print("Not measured: see bench.log.\n")
    sys.exit()
nb1, nb10 = m["batches_per_epoch_k1"], m["batches_per_epoch_k10"]
e1, e10 = b1 * nb1, b10 * nb10
seq_epoch = s10 * sum(m["batches_per_epoch_sequential"]) / 10
print("| run | median per batch | seconds per epoch | seconds per epoch per instance |")
print("|---|---|---|---|")
print(f"| K = 1 | {b1*1e3:.2f} ms | {e1:.2f} | {e1:.2f} |")
print(f"| K = 10 batched | {b10*1e3:.2f} ms | {e10:.2f} | {e10/10:.2f} |")
print(f"| 10 x K = 1 sequential | {s10*1e3:.2f} ms | {seq_epoch:.2f} | {seq_epoch/10:.2f} |")
ratio = seq_epoch / e10
print(f"\nThroughput of 10 batched over 10 sequential: {ratio:.2f}x (target >= 5x: {'met' if ratio >= 5 else 'not met'}).")
study = 3 * 10 * 200 * e10 / 10
print(f"Projected paper study (3 losses x 10 instances x 200 epochs, 10 stacked per loss): {study/60:.1f} minutes of training.\n")
p = crit / "epc-meta" / "train_precision.json"
if p.is_file():
    r = json.loads(p.read_text())
    print(f"bf16 / fp32 time per batch of 10 stacked instances (alternated, median of {r['samples']}): {r['median_bf16_over_fp32']:.2f} (target <= 0.6).\n")
PY
  cat "$report"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
