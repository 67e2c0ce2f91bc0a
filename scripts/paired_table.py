#!/usr/bin/env python3
"""Paired comparison of two arms of a study whose cells differ in one axis and share seeds
(for example fp32 against bf16 training of the same seeds): per metric, each arm's mean and
standard deviation across seeds, the paired difference (B - A) with its 95% t interval over
seeds, and the difference in units of arm A's seed spread. Every number comes from the study's
summary.json (or a committed summary.json.gz).

  python3 scripts/paired_table.py SUMMARY precision fp32 bf16
  python3 scripts/paired_table.py SUMMARY --cells CELL_A CELL_B
  python3 scripts/paired_table.py SUMMARY --cells CELL_A CELL_B --with OTHER_SUMMARY [--labels LA LB]

Models are paired by name: `AXIS=A/seed-N` with `AXIS=B/seed-N`, or with --cells
`CELL_A/seed-N` with `CELL_B/seed-N` (any two model folders, such as a study's cells of two
cases, or a run and its patience snapshot `all` and `all/patience-5`): the same seed, so the
same initial weights, and the same test images. With --with, arm B's models come from
another study's summary (another data set trained from the same seeds, so the same initial
weights: the pairing is by seed, the test images differ); --labels names the two arms in
the table (default: the cells). Standard library only.
"""

import math
import statistics
import sys

from study_table import load_summary, t95



def metrics(s, name):
    """The per-model numbers compared, by label."""
    out = {}
    lc = s.get("learning_curves", {}).get(name)
    if lc and lc.get("val_loss"):
        out["epochs trained"] = float(len(lc["val_loss"]))
        out["final validation loss"] = lc["val_loss"][-1]
    pre = s["energy"]["pre"].get(name)
    if pre:
        out["energy, mean abs(a) at t=10 (test set)"] = pre[-1]
    share = s.get("share_of_attainable", {}).get(name)
    if share and share[-1] is not None:
        out["share of attainable saving at t=10"] = share[-1]
    b = s.get("unit_baselines", {}).get(name)
    if b:
        units = b["network"]["units"]
        out["prediction units (fraction)"] = b["network"]["prediction"] / units
        if b.get("input"):
            out["prediction units minus input baseline"] = (
                b["network"]["prediction"] - b["input"]["prediction"]
            ) / units
        out["matched error units (fraction)"] = b["network"]["error_matched"] / units
    null = s.get("lesion_controls", {}).get(name, {}).get("null")
    if null and null.get("matched_effect") is not None:
        out["prediction lesion beyond matched null"] = null["matched_effect"]
    return out


def main():
    args = sys.argv[1:]
    other = None
    if "--with" in args:
        i = args.index("--with")
        if i + 1 >= len(args):
            sys.exit(__doc__)
        other = args[i + 1]
        del args[i:i + 2]
    labels = None
    if "--labels" in args:
        i = args.index("--labels")
        if i + 2 >= len(args):
            sys.exit(__doc__)
        labels = args[i + 1:i + 3]
        del args[i:i + 3]
    if len(args) != 4:
        sys.exit(__doc__)
    path, axis, a, b = args
    s = load_summary(path)
    s_b = load_summary(other) if other else s
    names = [m["name"] for m in s["models"]]
    names_b = [m["name"] for m in s_b["models"]]
    pa, pb = (f"{a}/", f"{b}/") if axis == "--cells" else (f"{axis}={a}/", f"{axis}={b}/")
    pairs = []
    for n in names:
        rest = n[len(pa):]
        if n.startswith(pa) and rest.startswith("seed-") and pb + rest in names_b:
            pairs.append((n, pb + rest))
    if not pairs:
        sys.exit(f"no pairs {pa}seed-N and {pb}seed-N in {path}" + (f" and {other}" if other else ""))
    rows = {}
    for x, y in pairs:
        mx, my = metrics(s, x), metrics(s_b, y)
        for k in mx:
            if k in my:
                rows.setdefault(k, []).append((mx[k], my[k]))
    n = len(pairs)
    if labels:
        a, b = labels
    if other:
        print(f"{a}: {path}; {b}: {other}")
    print(f"{n} seeds paired ({', '.join(p[0][len(pa):] for p in pairs)}); "
          f"interval: 95% t over seeds; spread: standard deviation of {a} across seeds\n")
    print(f"| metric | {a} mean (sd) | {b} mean (sd) | {b} - {a} [95% CI] | difference / {a} spread |")
    print("|---|---|---|---|---|")
    for k, v in rows.items():
        xa = [p[0] for p in v]
        xb = [p[1] for p in v]
        d = [q - p for p, q in v]
        sd_a = statistics.stdev(xa) if len(xa) > 1 else float("nan")
        sd_b = statistics.stdev(xb) if len(xb) > 1 else float("nan")
        md = statistics.mean(d)
        if len(d) > 1 and statistics.stdev(d) == 0:
            interval = f"{md:+.4g} (the same in every pair: no interval)"
        elif len(d) > 1:
            half = t95(len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d))
            interval = f"{md:+.4g} [{md - half:+.4g}, {md + half:+.4g}]"
        else:
            interval = f"{md:+.4g} (n = 1)"
        rel = f"{md / sd_a:+.2f}" if sd_a and not math.isnan(sd_a) and sd_a > 0 else "-"
        print(f"| {k} | {statistics.mean(xa):.4g} ({sd_a:.2g}) | {statistics.mean(xb):.4g} ({sd_b:.2g}) | {interval} | {rel} |")


if __name__ == "__main__":
    main()
