"""An independent numpy computation of every statistic `epc analyze` reports, for the
analyzer's reference test (analyzer/tests/reference.rs). Written from docs/SPEC.md, sections 5
and 6 (the published definitions), not from the toolkit's Rust code.

Usage: python analysis_reference.py MODEL.onnx DIGITS.csv.gz SETS.json OUT.json

SETS.json holds the sequence sets the analysis drew (image indices into the digits test split,
the last 360 rows of the file), the random units of the control lesion (seeded in Rust) and the
target digit. Network arithmetic is float32 like the model's; statistics are float64.
"""
import json
import sys

import numpy as np
from digits import load_digits
import onnx
from onnx import numpy_helper

Z = 2.576
MAD_NORMAL = 0.6744897501960817  # scipy's median_abs_deviation(scale='normal') divides by it

model_path, csv_path, sets_path, out_path = sys.argv[1:5]
W = next(
    numpy_helper.to_array(t) for t in onnx.load(model_path).graph.initializer if t.name == "W"
).astype(np.float32)
N = W.shape[0]
train_x, train_y, test_x, test_y = load_digits(csv_path)
sets = json.load(open(sets_path))
target = sets["target"]


def forward(idx, mask=None):
    """Preactivations and activities [steps, seqs, N] of the sequences `idx` [seqs, steps]."""
    idx = np.asarray(idx)
    x = test_x[idx].transpose(1, 0, 2)
    h = np.zeros((idx.shape[0], N), np.float32)
    pre, act = [], []
    for t in range(idx.shape[1]):
        hin = h if mask is None else h * mask
        a = (hin @ W + x[t]).astype(np.float32)
        h = np.maximum(a, 0)
        pre.append(a)
        act.append(h)
    return np.stack(pre), np.stack(act), x


def energies(pre, weights):
    relu = np.maximum(pre.astype(np.float64), 0)
    st = (relu @ np.abs(weights.astype(np.float64))).mean(axis=(1, 2))
    ap = relu.mean(axis=(1, 2))
    return {
        "pre": np.abs(pre.astype(np.float64)).mean(axis=(1, 2)).tolist(),
        "ap": ap.tolist(),
        "st": st.tolist(),
        "ec": (ap / 3 + 2 * st / 3).tolist(),
    }


def lower_median(v, axis=0):
    s = np.sort(v, axis=axis)
    return np.take(s, (s.shape[axis] - 1) // 2, axis=axis)


out = {}
test_pre, test_act, test_frames = forward(sets["test"])
out["energy"] = energies(test_pre, W)

# References: median images of the whole training split (lower middle value, torch's median).
dataset_median = lower_median(train_x)
class_median = np.stack([lower_median(train_x[train_y == c]) for c in range(10)])
seq_labels = test_y[np.asarray(sets["test"])]  # [seqs, steps]
xs = test_frames.astype(np.float64)
out["reference"] = {
    "input": np.abs(xs).mean(axis=(1, 2)).tolist(),
    "dataset_median": np.abs(xs - dataset_median).mean(axis=(1, 2)).tolist(),
    "category_median": np.abs(xs - class_median[seq_labels.T]).mean(axis=(1, 2)).tolist(),
}

# Prediction units: the ordered set starting at c + 1 ends on c.
class_runs = [forward(s) for s in sets["class"]]
# The shuffled sets: the error test's normal group and the drives.
shuffled_runs = [forward(s) for s in sets["shuffled"]]
pred = np.zeros((10, N), bool)
for c in range(10):
    last = class_runs[(c + 1) % 10][0][-1].astype(np.float64)
    med = lower_median(last)
    mad = np.median(np.abs(last - np.median(last, axis=0)), axis=0) / MAD_NORMAL
    pred[c] = np.abs(med) - np.abs(Z * mad) > 0

# Error units: the shuffled set starting at c + 2 shows c at index 8; its distractor set.
err = np.zeros((10, N), bool)
for c in range(10):
    normal = shuffled_runs[(c + 2) % 10][1][8].astype(np.float64)
    distr = forward(sets["distractor"][c])[1][8].astype(np.float64)
    n = normal.shape[0]
    se = np.sqrt(normal.std(axis=0, ddof=1) ** 2 / n + distr.std(axis=0, ddof=1) ** 2 / n)
    diff = np.abs(normal.mean(axis=0) - distr.mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.where(diff > 0, np.inf, 0.0))
    err[c] = z >= Z
out["prediction_units"] = [int(u) for u in np.nonzero(pred.any(0))[0]]
out["prediction_per_class"] = pred.sum(1).tolist()
out["error_units"] = [int(u) for u in np.nonzero(err.any(0))[0]]
out["error_per_class"] = err.sum(1).tolist()

# Taxonomy, by the published decision tree.
types = []
for u in range(N):
    p = {c for c in range(10) if pred[c, u]}
    e = {c for c in range(10) if err[c, u]}
    within = p & e
    across = (p - e) | (e - p) if (p - e) and (e - p) else set()
    if not p and not e:
        types.append("unspecified")
    elif within or len(across) > 1:
        types.append("h2" if len(across) > 1 else "h1")
    elif p:
        types.append("p2" if len(p) > 1 else "p1")
    else:
        types.append("e2" if len(e) > 1 else "e1")
out["unit_types"] = {t: types.count(t) for t in ["e1", "e2", "p1", "p2", "h1", "h2", "unspecified"]}

# Fig 3B: per-class pixel variance of the test images.
var = np.stack([test_x[test_y == c].astype(np.float64).var(axis=0, ddof=1) for c in range(10)])
groups = {"prediction": [], "error": [], "hybrid_prediction": [], "hybrid_error": [], "unspecified": []}
for u, t in enumerate(types):
    pc = [(c - 1) % 10 for c in range(10) if pred[c, u]]
    ec = [c for c in range(10) if err[c, u]]
    if t in ("p1", "p2"):
        groups["prediction"].append(var[pc, u].mean())
    elif t in ("e1", "e2"):
        groups["error"].append(var[ec, u].mean())
    elif t in ("h1", "h2"):
        groups["hybrid_prediction"].append(var[pc, u].mean())
        groups["hybrid_error"].append(var[ec, u].mean())
    else:
        groups["unspecified"].append(var[:, u].mean())
out["input_variance"] = {k: (float(np.median(v)) if v else None) for k, v in groups.items()}


def mask_of(units):
    m = np.ones(N, np.float32)
    m[list(units)] = 0
    return m


pred_units = np.nonzero(pred.any(0))[0]
class_units = np.nonzero(pred[(target - 1) % 10])[0]
out["class_units"] = [int(u) for u in class_units]
out["lesion_prediction"] = energies(forward(sets["test"], mask_of(pred_units))[0], W)
out["lesion_random"] = energies(forward(sets["test"], mask_of(sets["random_units"]))[0], W)

# The connection lesion: weights from error to prediction units cut, and every outgoing weight
# of a unit that is both; as published, each step feeds the intact state *after* that step
# through the cut weights.
err_units = np.nonzero(err.any(0))[0]
cut = W.copy()
for i in err_units:
    if i in pred_units:
        cut[i, :] = 0
    else:
        cut[i, pred_units] = 0
conn = np.stack([test_act[t] @ cut + test_frames[t] for t in range(test_pre.shape[0])])
out["lesion_connection"] = energies(conn, cut)

# Fig 2C: drives on the shuffled set starting at 0.
pre0, _, x0 = shuffled_runs[0]
out["drive"] = {
    "input": x0.astype(np.float64).mean(axis=(1, 2)).tolist(),
    "internal": (pre0 - x0).astype(np.float64).mean(axis=(1, 2)).tolist(),
    "total": pre0.astype(np.float64).mean(axis=(1, 2)).tolist(),
}


# Fig 4B: mean internal drive after k frames leading up to the target (mean over units).
def internal_row(mask):
    row = [0.0]
    for k in range(1, 10):
        p, _, x = forward(sets["shuffled"][(target - k) % 10], mask)
        row.append(float((p[k] - x[k]).astype(np.float64).mean()))
    return row


out["internal_drive"] = {
    "intact": internal_row(None),
    "prediction": internal_row(mask_of(pred_units)),
    "class": internal_row(mask_of(class_units)),
}

# Fig 4C: postsynaptic drive after the target preceded by k frames.
rowsum = W.astype(np.float64).sum(axis=1)
P = [int(u) for u in class_units]
E = [int(u) for u in np.nonzero(err[target])[0] if u not in P]


def post(units):
    if not units:
        return None
    curve = []
    for k in range(9):
        h = shuffled_runs[(target - k) % 10][1][k].astype(np.float64).mean(axis=0)
        curve.append(float((h[units] * rowsum[units]).mean()))
    return curve


out["postsynaptic"] = {"prediction": post(P), "error": post(E), "prediction_units": len(P), "error_units": len(E)}


# The baselines and controls (docs/STATISTICS.md).
def z_flags(a, b):
    """Per unit, the published z-test of two groups' activity [seqs, units] (n = len(a))."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    n = a.shape[0]
    se = np.sqrt(a.std(axis=0, ddof=1) ** 2 / n + b.std(axis=0, ddof=1) ** 2 / n)
    diff = np.abs(a.mean(axis=0) - b.mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.where(diff > 0, np.inf, 0.0))
    return z >= Z


def rules(run):
    """Prediction, published error and matched error units of `run(idx) -> (pre, act)`."""
    p = np.zeros((10, N), bool)
    margin = np.full(N, -np.inf)
    for c in range(10):
        last = run(sets["class"][(c + 1) % 10])[0][-1].astype(np.float64)
        med = lower_median(last)
        mad = np.median(np.abs(last - np.median(last, axis=0)), axis=0) / MAD_NORMAL
        m = np.abs(med) - np.abs(Z * mad)
        margin = np.maximum(margin, m)
        p[c] = m > 0
    e = np.zeros((10, N), bool)
    em = np.zeros((10, N), bool)
    for c in range(10):
        normal = run(sets["shuffled"][(c + 2) % 10])[1][8]
        e[c] = z_flags(normal, run(sets["distractor"][c])[1][8])
        em[c] = z_flags(normal, run(sets["unexpected"][c])[1][8])
    return p, e, em, margin


def frames_only(idx):
    x = test_x[np.asarray(idx)].transpose(1, 0, 2)
    return x, np.maximum(x, 0)


def counts(flags):
    return [int(f.any(0).sum()) for f in flags]


_, _, err_matched, margin = rules(lambda idx: forward(idx)[:2])
# The shuffled-weights baseline: the same rules on the network whose W the Rust test permuted
# (written to its own file); nothing but W differs.
W_trained = W
W = next(
    numpy_helper.to_array(t) for t in onnx.load(sets["shuffled_model"]).graph.initializer if t.name == "W"
).astype(np.float32)
assert sorted(W.ravel().tolist()) == sorted(W_trained.ravel().tolist())
out["shuffled_baseline"] = counts(rules(lambda idx: forward(idx)[:2])[:3])
W = W_trained
out["error_matched_units"] = [int(u) for u in np.nonzero(err_matched.any(0))[0]]
out["input_baseline"] = counts(rules(frames_only)[:3])


def curve(idx, mask):
    pre = forward(idx, mask)[0].astype(np.float64)
    return np.abs(pre).mean(axis=(1, 2))


def effect(lesioned, intact):
    return float((lesioned[1:] - intact[1:]).mean())


first = sets["test"][: sets["null_sequences"]]
intact = curve(first, None)
out["null_prediction_effect"] = effect(curve(first, mask_of(pred_units)), intact)
ranked = sorted(range(N), key=lambda u: (-margin[u], u))
out["dose_top_effects"] = [
    effect(curve(first, mask_of(ranked[: min(max(round(f * N), 1), N)])), intact)
    for f in [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
]
json.dump(out, open(out_path, "w"))
