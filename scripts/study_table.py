#!/usr/bin/env python3
"""Prints the groups of an `epc analyze` summary.json as a Markdown table (every study table in
the docs is made with it, so each number can be traced to its summary.json).

  python3 scripts/study_table.py STUDY/report/summary.json   (or a committed summary.json.gz)

Columns, per group (mean across its models, [95% interval] where the analysis gives one, "n = 1"
where it cannot): the headline energy at the first and the last step; the static prior (dataset
median) and the stream's bound at the last step, both from the group's *own* stream (the
group's `reference`; a group whose models were trained on different streams has none and shows
"-"); the share of attainable saving; the saving relative to the input; the prediction units
and the stimulus-matched error units as fractions, each with its input and shuffled-weights
baselines; the prediction lesion beyond its activity-matched null, with its z (none where the
null's draws share most of their units); and the dose-response curve at 10% of the lesionable
units: the top units by the prediction statistic against as many activity-matched random ones.

Groups analysed on a moving-digit stream get a second table: the energy at the last step beside
the stream's position references there (persistence: the median image where the digit was;
extrapolation: where a constant velocity puts it; position oracle: the dataset median where it
is; class and position oracle: the category median where it is), the spatial rule's held-out
readout R^2 from the units and from the pixels, the position units' lesion beyond its matched
null (with z), and the spatial dose-response at 10% of the lesionable units (mean over the
group's models with a 95% t interval across them, computed here from `spatial_rules`).

Summaries written before the baselines existed (no `share_of_attainable` in their groups) are
read as far as they go: their dataset median comes from the `references` entry of the group's
models' stream, never from another stream's. Standard library only.
"""

import gzip
import json
import math
import statistics
import sys

# Two-sided 95% Student t quantiles by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 19: 2.093, 29: 2.045}


def ci(v, digits=3, pct=False):
    if v is None:
        return "-"
    f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.{digits}f}")
    if v.get("lo") is None or v.get("hi") is None:
        return f"{f(v['mean'])} (n = {v.get('n', 1)})"
    return f"{f(v['mean'])} [{f(v['lo'])}, {f(v['hi'])}]"


def group_reference(s, g):
    """The reference curves of the group's own stream, or None when its models differ."""
    if "reference" in g:
        return g["reference"]
    streams = {m["stream"] for m in s["models"] if m["name"] in g["models"]}
    if len(streams) != 1:
        return None
    refs = s.get("references") or {}
    return refs.get(next(iter(streams)), s["reference"] if not refs else None)


def with_baselines(g, rule):
    b = (g.get("unit_baselines") or {}).get(rule)
    if b is None:
        return ci(g.get("prediction_fraction" if rule == "prediction" else "error_fraction"), pct=True)
    base = lambda e: "-" if e is None else f"{100 * e['mean']:.1f}%"
    return (f"{ci(b['network'], pct=True)} (input {base(b['input'])}, shuffled {base(b['shuffled'])}, "
            f"untrained {base(b.get('untrained'))})")


def load_summary(path):
    """An analysis's summary.json, or a committed summary.json.gz."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rt") as f:
        return json.load(f)


def main():
    s = load_summary(sys.argv[1])
    print("| group | models | energy t=1 -> t=10 | static prior / bound t=10 | share of attainable "
          "saving | saving vs input | prediction units | matched error units | lesion beyond "
          "matched null | lesion of the top 10% vs 10% matched random units |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for g in s["groups"]:
        pre = g["energy"]["pre"]["mean"]
        ref = group_reference(s, g)
        if ref is None:
            refs = "-"
        else:
            bound = ref.get("bound")
            refs = f"{ref['dataset_median'][-1]:.4f} / " + (f"{bound[-1]:.4f}" if bound else "-")
        lesion = ci(g.get("matched_lesion_effect"), 4)
        z = g.get("lesion_z")
        if z is not None:
            lesion += f" (z {z['mean']:.1f})"
        dose = next((d for d in g.get("dose_response") or [] if abs(d["fraction"] - 0.1) < 1e-9), None)
        dose_cell = "-" if dose is None else f"{ci(dose['top'], 4)} vs {ci(dose.get('random'), 4)}"
        cells = [
            g["name"],
            str(len(g["models"])),
            f"{pre[0]:.4f} -> {pre[-1]:.4f}",
            refs,
            ci(g.get("share_of_attainable"), pct=True),
            ci(g["saving_vs_input"], pct=True),
            with_baselines(g, "prediction"),
            with_baselines(g, "error_matched") if "unit_baselines" in g else "-",
            lesion,
            dose_cell,
        ]
        print("| " + " | ".join(cells) + " |")
    moving_table(s)


def t95(df):
    """The two-sided 95% Student t quantile at `df` degrees of freedom (df >= 1); between
    tabulated values, the one of the next smaller df (a slightly wider interval)."""
    return T95[max(k for k in T95 if k <= df)]


def t_estimate(values):
    """The mean of `values` with its 95% t interval, as the analysis's estimates."""
    n = len(values)
    if n == 0:
        return None
    m = statistics.mean(values)
    if n < 2:
        return {"mean": m, "lo": None, "hi": None, "n": n}
    half = t95(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return {"mean": m, "lo": m - half, "hi": m + half, "n": n}


def moving_table(s):
    groups = [g for g in s["groups"] if g.get("spatial_r2")]
    if not groups:
        return
    rules = s.get("spatial_rules") or {}
    print()
    print("| group | energy t=10 | persistence / extrapolation / position oracle / class and "
          "position oracle t=10 | readout R^2: units (pixels) | position units beyond matched null | "
          "spatial lesion of the top 10% vs 10% matched random units |")
    print("|---|---|---|---|---|---|")
    for g in groups:
        ref = group_reference(s, g) or {}
        last = lambda k: f"{ref[k][-1]:.4f}" if ref.get(k) else "-"
        refs = " / ".join(last(k) for k in ("persistence", "extrapolation", "dataset_median",
                                             "category_median"))
        lesion = ci(g.get("spatial_matched_effect"), 4)
        zs = [r["null"]["z"] for m, r in rules.items()
              if m in g["models"] and r.get("null") and r["null"].get("z") is not None]
        if zs:
            lesion += f" (z {statistics.mean(zs):.1f})"
        doses = [next((d for d in rules[m]["dose"] if abs(d["fraction"] - 0.1) < 1e-9), None)
                 for m in g["models"] if m in rules]
        doses = [d for d in doses if d is not None]
        top = t_estimate([d["top_effect"] for d in doses])
        rnd = t_estimate([d["random_effect"] for d in doses if d.get("random_effect") is not None])
        cells = [
            g["name"],
            f"{g['energy']['pre']['mean'][-1]:.4f}",
            refs,
            f"{ci(g['spatial_r2'])} ({g['spatial_input_r2']['mean']:.3f})",
            lesion,
            f"{ci(top, 4)} vs {ci(rnd, 4)}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
