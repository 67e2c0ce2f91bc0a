#!/usr/bin/env python3
"""Side-by-side figures and a table: the published code's own analysis of one trained network
against `epc analyze` on the same weights.

Usage: python3 scripts/compare_published.py PUBLISHED.json EPC_REPORT_DIR OUT_DIR

PUBLISHED.json holds what the published code's helpers (KietzmannLab/EmergentPredictiveCoding,
`helper.compute_unit_types`, `find_pred_units`, `find_error_units`, `model_activity_lesioned`,
`plot.pred_after_timestep`, `plot.bootstrap_post_dynamics`) computed for the network, run in a
scratch folder outside this project (docs/PUBLISHED_COMPARISON.md says how); EPC_REPORT_DIR is
the report of `epc analyze` on the same weights wrapped as a step-v1 model. Needs numpy and
matplotlib (not part of the project's set-up).
"""
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

pub = json.load(open(sys.argv[1]))
report = Path(sys.argv[2])
out = Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
epc = json.load(open(report / "summary.json"))
name = epc["models"][0]["name"]
steps = np.arange(1, 11)

# Fig 4A: energy with the prediction units and with random units lesioned.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, title, curves in [
    (axes[0], "published code", (pub["energy_pre"], pub["lesion_pre"], pub["random_pre"], pub["connection_lesion_pre"])),
    (axes[1], "epc", (epc["energy"]["pre"][name], epc["lesion"]["prediction"]["pre"][name], epc["lesion"]["random"]["pre"][name], epc["lesion"]["connection"]["pre"][name])),
]:
    for c, label, color in zip(curves, ["intact", "prediction units lesioned", "random units lesioned", "error-to-prediction weights cut"], ["#EE6666", "#EECC55", "#5efc03", "#9467bd"]):
        ax.plot(steps, c, label=label, color=color)
    ax.set_title(title)
    ax.set_xlabel("step")
axes[0].set_ylabel("mean |a|")
axes[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(out / "compare-fig4a.png", dpi=90)

# Fig 4B: the internal drive after k frames leading up to 0.
rows = {}
with open(report / "internal_drive.csv") as f:
    for r in csv.DictReader(f):
        if r["digit"] == str(epc["target"]):
            rows.setdefault(r["condition"], np.zeros((10, 784)))[int(r["frames"]), int(r["unit"])] = float(r["value"])
fig, axes = plt.subplots(4, 10, figsize=(12, 5))
grids = [
    ("published, intact", np.array(pub["drive4b_intact"])),
    ("epc, intact", rows["intact"]),
    ("published, lesioned", np.array(pub["drive4b_lesioned"])),
    ("epc, lesioned", rows["prediction"]),
]
for r, (label, g) in enumerate(grids):
    m = np.abs(g).max() or 1
    for k in range(10):
        ax = axes[r, k]
        ax.imshow(g[k].reshape(28, 28), cmap="RdBu_r", vmin=-m, vmax=m)
        ax.set_xticks([])
        ax.set_yticks([])
        if k == 0:
            ax.set_ylabel(label, fontsize=7)
        if r == 0:
            ax.set_title(f"k={k}", fontsize=8)
fig.tight_layout()
fig.savefig(out / "compare-fig4b.png", dpi=90)

# Fig 4C: postsynaptic drive.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
k = np.arange(9)
p = epc["postsynaptic"][name]
axes[0].plot(k, pub["post_err"], "b--", label="published")
axes[0].plot(k, p["error"], "b", label="epc")
axes[0].set_title("error units")
axes[1].plot(k, pub["post_pred"], "r--", label="published")
axes[1].plot(k, p["prediction"], "r", label="epc")
axes[1].set_title("prediction units")
for ax in axes:
    ax.set_xlabel("preceding frames k")
    ax.legend()
fig.tight_layout()
fig.savefig(out / "compare-fig4c.png", dpi=90)

# The table.
def corr(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


types = epc["unit_types"][name]
ep = set(epc["prediction_units"][name]["indices"])
pp = set(pub["prediction_units"])
ee = set(epc["error_units"][name]["indices"])
pe = set(pub["error_units"])
rel = lambda a, b: np.max(np.abs(np.array(a) - np.array(b)) / np.abs(np.array(b)))  # noqa: E731


def pct(x):
    """A relative difference as a percentage, small ones in scientific notation (on identical
    sequences the two programs differ by float rounding only)."""
    return f"{100 * x:.1f}%" if x >= 1e-3 else f"{100 * x:.1e}%"


print("| | published code | epc | difference |")
print("|---|---|---|---|")
print(f"| prediction units | {len(pp)} | {len(ep)} | Jaccard {len(ep & pp) / len(ep | pp):.2f} |")
print(f"| error units | {len(pe)} | {len(ee)} | {100 * (len(ee) - len(pe)) / len(pe):+.1f}%, Jaccard {len(ee & pe) / len(ee | pe):.2f} |")
for t in ["e1", "e2", "p1", "p2", "h1", "h2", "unspecified"]:
    a, b = pub["unit_types"][t], types[t]
    print(f"| {t} | {a} | {b} | {100 * (b - a) / a:+.1f}% |")
for key, pk, ek in [
    ("energy, intact (pre)", "energy_pre", epc["energy"]["pre"][name]),
    ("prediction lesion (pre)", "lesion_pre", epc["lesion"]["prediction"]["pre"][name]),
    ("random lesion (pre)", "random_pre", epc["lesion"]["random"]["pre"][name]),
    ("energy, intact (ec)", "energy_ec", epc["energy"]["ec"][name]),
    ("prediction lesion (ec)", "lesion_ec", epc["lesion"]["prediction"]["ec"][name]),
    ("connection lesion (pre)", "connection_lesion_pre", epc["lesion"]["connection"]["pre"][name]),
    ("input reference", "reference_input", epc["reference"]["input"]),
    ("dataset-median reference", "reference_dataset_median", epc["reference"]["dataset_median"]),
    ("category-median reference", "reference_category_median", epc["reference"]["category_median"]),
]:
    print(f"| {key}, largest difference per step | | | {pct(rel(ek, pub[pk]))} |")
print(f"| Fig 4B internal drive, intact (k = 1..9), correlation | | | {corr(pub['drive4b_intact'][1:], rows['intact'][1:]):.3f} |")
print(f"| Fig 4B internal drive, lesioned, correlation | | | {corr(pub['drive4b_lesioned'][1:], rows['prediction'][1:]):.3f} |")
print(f"| Fig 4C postsynaptic drive, prediction units, largest difference | | | {pct(rel(p['prediction'][1:], pub['post_pred'][1:]))} |")
print(f"| Fig 4C postsynaptic drive, error units, largest difference | | | {pct(rel(p['error'], pub['post_err']))} |")
