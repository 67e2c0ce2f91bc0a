#!/usr/bin/env python3
"""The energy over every unit the loss penalises, beside the pixel-mapped headline, each as a
saving against the same seed's untrained network (plans/digits-architectures-tuned.toml).

  python3 scripts/all_units_table.py SUMMARY

SUMMARY is a study's report/summary.json (or a committed summary.json.gz) whose cells come in
pairs that differ only in `epochs`: the trained cell and its untrained partner (`epochs=0`,
the same seeds, so the same initial weights, on the same test sequences). Per trained cell,
mean across seeds [95% t interval over seeds] of:
- the mean |preactivation| at step 10 over all units (`populations.MODEL.all_units` of the
  summary; the headline energy where the model has one population), which is what the loss
  penalises with its default `energy = all`;
- the saving over all units, 1 - trained / untrained, seed by seed;
- the same saving over the pixel-mapped units (the headline energy), for comparison.
The untrained network is the baseline of the loss's own objective; no bound exists over hidden
units (the L1-optimal bound of the share of attainable saving is defined on the frames).
Standard library only.
"""

import gzip
import json
import statistics
import sys

from study_table import t95

STEP = 9  # step 10


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def estimate(values):
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.4f} (n = 1)"
    sd = statistics.stdev(values)
    if sd == 0:
        return f"{mean:.4f} (no spread)"
    half = t95(len(values) - 1) * sd / len(values) ** 0.5
    return f"{mean:.4f} [{mean - half:.4f}, {mean + half:.4f}]"


def pct(values):
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{100 * mean:.1f}% (n = 1)"
    half = t95(len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return f"{100 * mean:.1f}% [{100 * (mean - half):.1f}, {100 * (mean + half):.1f}]"


def split(name):
    """(cell keys without epochs as a tuple, epochs value or None, seed)."""
    cell, _, seed = name.rpartition("/")
    keys = [tuple(kv.split("=", 1)) for kv in cell.split(",")]
    epochs = next((v for k, v in keys if k == "epochs"), None)
    rest = tuple((k, v) for k, v in keys if k != "epochs")
    return rest, epochs, seed


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    s = load(sys.argv[1])
    pops = s.get("populations") or {}

    def all_units(m):
        p = pops.get(m)
        return (p["all_units"]["pre"] if p else s["energy"]["pre"][m])[STEP]

    def pixels(m):
        return s["energy"]["pre"][m][STEP]

    trained, untrained = {}, {}
    for m in s["models"]:
        rest, epochs, seed = split(m["name"])
        if epochs is None:
            continue
        # The untrained partner's lr (irrelevant without training) is not part of the match.
        key = tuple(kv for kv in rest if kv[0] != "lr")
        (untrained if epochs == "0" else trained).setdefault(key, {})[seed] = m["name"]
    if not trained:
        raise SystemExit("no trained cell with an `epochs` key in its name")
    print("| cell | units | all units at t=10, trained | untrained | saving over all units "
          "| saving over the pixel-mapped units |")
    print("|---|---|---|---|---|---|")
    for key, seeds in trained.items():
        partner = untrained.get(key, {})
        pairs = [(seeds[k], partner[k]) for k in sorted(seeds) if k in partner]
        label = ",".join(f"{k}={v}" for k, v in key)
        if not pairs:
            print(f"| {label} | - | {estimate([all_units(m) for m in seeds.values()])} | "
                  "no untrained partner | - | - |")
            continue
        n_units = next((p["populations"][-1]["units"][1] for m, _ in pairs
                        if (p := pops.get(m))), None)
        t_all = [all_units(a) for a, _ in pairs]
        u_all = [all_units(b) for _, b in pairs]
        save_all = [1 - a / b for a, b in zip(t_all, u_all)]
        save_pix = [1 - pixels(a) / pixels(b) for a, b in pairs]
        print(f"| {label} | {n_units or '-'} | {estimate(t_all)} | {estimate(u_all)} | "
              f"{pct(save_all)} | {pct(save_pix)} |")
    print(f"\nPaired by seed ({len(pairs)} pairs in the last cell); interval: 95% t over seeds.")


if __name__ == "__main__":
    main()
