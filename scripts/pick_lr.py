#!/usr/bin/env python3
"""Picks each variant's learning rate on the validation split, from a tuning study whose cells
differ in `lr` and in the keys of a variant (for example `arch` and `units`), every cell on the
same seeds (plans/digits-architectures-lr.toml).

  python3 scripts/pick_lr.py SUMMARY            # the table (Markdown)
  python3 scripts/pick_lr.py SUMMARY --cases    # the picked rates as a plan's [[cases]]

SUMMARY is the study's report/summary.json (or a committed summary.json.gz). Per variant and
rate: the final validation loss (the last epoch's, from each model's learning curve; the
validation split only, never the test set), mean across the seeds [95% t interval]. The picked
rate has the lowest mean and is shown in bold; where its interval overlaps the runner-up's, the
table says so (the choice between them is within the seed noise). Standard library only.
"""

import re
import statistics
import sys

from study_table import load_summary, t_estimate



def cell_keys(cell):
    """`lr=0.005,arch=rnn,units=64` as an ordered list of (key, value)."""
    return [tuple(kv.split("=", 1)) for kv in cell.split(",")]


def collect(summary):
    """{variant: {lr: [final validation loss per seed]}}, variants in first-seen order."""
    curves = summary.get("learning_curves") or {}
    out = {}
    for m in summary["models"]:
        name = m["name"]
        cell, _, seed = name.rpartition("/")
        if not re.fullmatch(r"seed-\d+", seed) or name not in curves:
            continue
        keys = cell_keys(cell)
        lr = [float(v) for k, v in keys if k == "lr"]
        if len(lr) != 1:
            raise SystemExit(f"{name}: the cell names no single lr")
        variant = ",".join(f"{k}={v}" for k, v in keys if k != "lr")
        val = curves[name].get("val_loss") or []
        if not val:
            raise SystemExit(f"{name}: no validation loss in its learning curve")
        out.setdefault(variant, {}).setdefault(lr[0], []).append(val[-1])
    if not out:
        raise SystemExit("no model with a learning curve and an lr in its cell name")
    return out


def interval(v):
    e = t_estimate(v)
    return e["mean"], e["lo"], e["hi"]


def pick(rates):
    """(picked lr, whether the runner-up's interval overlaps the picked one's)."""
    ranked = sorted(rates, key=lambda lr: statistics.fmean(rates[lr]))
    best = ranked[0]
    if len(ranked) < 2:
        return best, False
    _, _, hi = interval(rates[best])
    _, lo, _ = interval(rates[ranked[1]])
    return best, hi is not None and lo is not None and lo <= hi


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    data = collect(load_summary(args[0]))
    lrs = sorted({lr for rates in data.values() for lr in rates})
    if "--cases" in args:
        for variant, rates in data.items():
            best, _ = pick(rates)
            print("[[cases]]")
            for k, v in cell_keys(variant):
                print(f"{k} = {v}" if re.fullmatch(r"-?[\d.]+(e-?\d+)?", v) else f'{k} = "{v}"')
            print(f"lr = {best}\n")
        return
    seeds = {len(v) for rates in data.values() for v in rates.values()}
    print(f"Final validation loss, mean across {'/'.join(map(str, sorted(seeds)))} seeds "
          "[95% t interval]; bold: the picked rate (lowest mean).\n")
    print("| variant | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " | picked | runner-up within the interval? |")
    print("|---|" + "---|" * (len(lrs) + 2))
    for variant, rates in data.items():
        best, close = pick(rates)
        cells = []
        for lr in lrs:
            if lr not in rates:
                cells.append("-")
                continue
            mean, lo, hi = interval(rates[lr])
            text = f"{mean:.4f}" + ("" if lo is None else f" [{lo:.4f}, {hi:.4f}]")
            cells.append(f"**{text}**" if lr == best else text)
        print(f"| {variant} | " + " | ".join(cells) + f" | {best:g} | {'yes' if close else 'no'} |")


if __name__ == "__main__":
    main()
