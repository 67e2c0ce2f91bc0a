#!/usr/bin/env bash
# The wall time of a whole study (issue 32: the paper's 30 networks at 40 epochs in bf16 within
# 20 minutes on these 2 cores): runs `epc sweep PLAN` into a fresh study folder and writes
# OUT/study_time.json (plan, commit, machine, load before and after, total minutes, and each
# cell's seconds as the sweep reports them), then prints it. Run it on an idle machine: the time of
# a study is what this measures, so anything beside it counts.
#
# Usage: scripts/study_time.sh PLAN [OUT]   (OUT: a folder that must not exist yet;
#                                             default: a fresh folder under /tmp)
# Example: scripts/study_time.sh plans/mnist-losses-bf16.toml
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: scripts/study_time.sh PLAN [OUT]" >&2
  exit 2
fi
[ -f "$1" ] || { echo "study_time.sh: $1: no such plan file" >&2; exit 1; }
# Paths as the caller gave them, before moving to the repository root.
plan=$(realpath "$1")
out=$(realpath -m "${2:-$(mktemp -d)/study}")
cd "$(dirname "$0")/.."
[ -e "$out" ] && { echo "study_time.sh: $out exists; give a new folder (a rerun would skip finished cells)" >&2; exit 1; }
# shellcheck source=scripts/env.sh
source scripts/env.sh
epc=${EPC_BIN:-target/release/epc}
[ -x "$epc" ] || cargo build --release -p epc >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s.%N)
# The sweep's own lines (one "done in S s" per cell) go to OUT/sweep.log as well.
mkdir -p "$(dirname "$out")"
log=$(mktemp)
"$epc" sweep "$plan" --out "$out" 2>&1 | tee "$log"
mv "$log" "$out/sweep.log"
end=$(date +%s.%N)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$plan" "$out" "$start" "$end" "$load_before" "$load_after" <<'PY'
import json, os, pathlib, re, subprocess, sys
plan, out, start, end, before, after = sys.argv[1:]
out = pathlib.Path(out)
# Each cell's time as the sweep reports it ("epc: cell 1/3 loss=l1-pre: done in 368.0 s"):
# training, checkpoints and the ONNX export of its instances.
done = re.compile(r"^epc: cell \d+/\d+ (.+): done in ([0-9.]+) s$")
cells = {m.group(1): float(m.group(2)) for m in map(done.match, (out / "sweep.log").read_text().splitlines()) if m}
seconds = float(end) - float(start)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
result = {
    "plan": plan,
    "study": str(out),
    "commit": commit + (" (with uncommitted changes)" if dirty else ""),
    "date": subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip(),
    "cpus": os.cpu_count(),
    "load_before": before,
    "load_after": after,
    "seconds": round(seconds, 1),
    "minutes": round(seconds / 60, 2),
    "cell_seconds": cells,
}
(out / "study_time.json").write_text(json.dumps(result, indent=1) + "\n")
print(json.dumps(result, indent=1))
PY
