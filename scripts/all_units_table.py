#!/usr/bin/env python3
"""The energy over every unit the loss penalises, beside the pixel-mapped headline, each as a
saving against the same seed's untrained network (plans/digits-architectures-tuned.toml).

  python3 scripts/all_units_table.py SUMMARY [--against KEY=VALUE]

SUMMARY is a study's report/summary.json (or a committed summary.json.gz) whose cells come in
pairs that differ only in `epochs`: the trained cell and its untrained partner (`epochs=0`,
the same seeds, so the same initial weights, on the same test sequences). Per trained cell,
mean across seeds [95% t interval over seeds] of:
- the mean |preactivation| at step 10 over all units (`populations.MODEL.all_units` of the
  summary; the headline energy where the model has one population), which is what the loss
  penalises with its default `energy = all`;
- the saving over all units, 1 - trained / untrained, seed by seed;
- the same saving over the pixel-mapped units (the headline energy), for comparison;
- with --against (say `entropy=3.32`, the random stream), the all-units energy at step 10 minus
  that of the cell with KEY=VALUE instead (the same seeds, so the same initial weights):
  what the stream's predictability is worth over every penalised unit.
The untrained network is the baseline of the loss's own objective; no bound exists over hidden
units (the L1-optimal bound of the share of attainable saving is defined on the frames).
Standard library only.
"""

import sys

from study_table import load_summary, t_estimate

STEP = 9  # step 10



def interval(values, fmt=".4f", scale=1.0, sep=", "):
    """`mean [lo, hi]` of `values` (95% t over them) in `fmt`, times `scale`; one value or no
    spread is said so rather than shown as a zero-width interval."""
    e = t_estimate(values)
    f = lambda v: format(scale * v, fmt)  # noqa: E731
    if e["lo"] is None:
        return f"{f(e['mean'])} (n = 1)"
    if e["lo"] == e["hi"]:
        return f"{f(e['mean'])} (no spread)"
    return f"{f(e['mean'])} [{f(e['lo'])}{sep}{f(e['hi'])}]"


def estimate(values):
    return interval(values)


def pct(values):
    return interval(values, ".1f", 100.0).replace(" [", "% [", 1).replace(" (", "% (", 1)


def signed(values):
    return interval(values, "+.4f")


def split(name):
    """(cell keys without epochs as a tuple, epochs value or None, seed)."""
    cell, _, seed = name.rpartition("/")
    keys = [tuple(kv.split("=", 1)) for kv in cell.split(",")]
    epochs = next((v for k, v in keys if k == "epochs"), None)
    rest = tuple((k, v) for k, v in keys if k != "epochs")
    return rest, epochs, seed


def main():
    args = sys.argv[1:]
    against = None
    if "--against" in args:
        i = args.index("--against")
        against = tuple(args[i + 1].split("=", 1))
        del args[i:i + 2]
    if len(args) != 1:
        raise SystemExit(__doc__)
    s = load_summary(args[0])
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
    units = {m["name"]: m["n_units"] for m in s["models"]}
    extra = f" | minus {against[0]}={against[1]}, seed-paired" if against else ""
    print("| cell | units | all units at t=10, trained | untrained | saving over all units "
          f"| saving over the pixel-mapped units{extra} |")
    print("|---|---|---|---|---|---|" + ("---|" if against else ""))
    counts = []
    for key, seeds in trained.items():
        partner = untrained.get(key, {})
        pairs = [(seeds[k], partner[k]) for k in sorted(seeds) if k in partner]
        counts.append(len(pairs))
        label = ",".join(f"{k}={v}" for k, v in key)
        n_units = units[next(iter(seeds.values()))]
        diff = ""
        if against:
            other = tuple((k, against[1] if k == against[0] else v) for k, v in key)
            base = trained.get(other, {})
            if other == key or not base:
                diff = " | -"
            else:
                diff = " | " + signed([all_units(seeds[k]) - all_units(base[k])
                                       for k in sorted(seeds) if k in base])
        if not pairs:
            print(f"| {label} | {n_units} | {estimate([all_units(m) for m in seeds.values()])} | "
                  f"no untrained partner | - | -{diff} |")
            continue
        t_all = [all_units(a) for a, _ in pairs]
        u_all = [all_units(b) for _, b in pairs]
        save_all = [1 - a / b for a, b in zip(t_all, u_all)]
        save_pix = [1 - pixels(a) / pixels(b) for a, b in pairs]
        print(f"| {label} | {n_units} | {estimate(t_all)} | {estimate(u_all)} | "
              f"{pct(save_all)} | {pct(save_pix)}{diff} |")
    span = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)} to {max(counts)}"
    print(f"\nPaired by seed ({span} pairs per cell); interval: 95% t over seeds.")


if __name__ == "__main__":
    main()
