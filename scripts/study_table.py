#!/usr/bin/env python3
"""Prints the groups of an `epc analyze` summary.json as a Markdown table (the README's study
tables are made with it, so each number can be traced to its summary.json).

  python3 scripts/study_table.py STUDY/report/summary.json

Columns, per group (mean across its models, [95% interval] where the analysis gives one):
the headline energy at the first and the last step, the dataset-median reference at the last
step, the saving at the last step relative to the input, the prediction and error units as
fractions of the headline units, the prediction-lesion effect, and, for models of several
populations, the prediction units in the populations without pixels (latent or hidden units).
Standard library only.
"""

import json
import sys


def ci(v, digits=3, pct=False):
    if v is None:
        return "-"
    f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.{digits}f}")
    return f"{f(v['mean'])} [{f(v['lo'])}, {f(v['hi'])}]"


def reference(s, name, models):
    ref = s["reference"][name]
    if isinstance(ref, dict):  # one curve per stream
        streams = {m["stream"] for m in s["models"] if m["name"] in models}
        return ref[sorted(streams)[0]] if len(streams) == 1 else None
    return ref


def hidden_prediction_units(s, models):
    pops = s.get("populations") or {}
    counts = []
    for m in models:
        rep = pops.get(m)
        if rep:
            counts.append(sum(p["prediction_units"] for p in rep["populations"] if not p["pixels"]))
    return f"{sum(counts) / len(counts):.1f}" if counts else "-"


def main():
    s = json.load(open(sys.argv[1]))
    print("| group | models | energy t=1 -> t=10 | dataset median t=10 | saving vs input t=10 "
          "| prediction units | error units | lesion effect | prediction units without pixels |")
    print("|---|---|---|---|---|---|---|---|---|")
    for g in s["groups"]:
        pre = g["energy"]["pre"]["mean"]
        med = reference(s, "dataset_median", g["models"])
        cells = [
            g["name"],
            str(len(g["models"])),
            f"{pre[0]:.4f} -> {pre[-1]:.4f}",
            f"{med[-1]:.4f}" if med else "-",
            ci(g["saving_vs_input"], pct=True),
            ci(g["prediction_fraction"], pct=True),
            ci(g["error_fraction"], pct=True),
            ci(g["lesion_effect"], 4),
            hidden_prediction_units(s, g["models"]),
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
