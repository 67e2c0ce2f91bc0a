"""An independent numpy computation of the normative bounds (the best predictor of a stream's
next frame and its error curve), for the analyzer's test analyzer/tests/bounds.rs. Written from
the description of the bounds, not from the toolkit's Rust code.

Usage: python bounds_reference.py DIGITS.csv.gz SETS.json OUT.json

DIGITS.csv.gz: 64 pixel values 0..16, then the label, per row; pixels are divided by 16; the
last 360 rows are the test split, the rest the training split.

SETS.json: {"streams": {NAME: {"order": "markov" | "successors" | "random", "entropy": BITS
or null, "successors": K or null, "sequences": [[test image index per frame], ...]}}}.

OUT.json: {"dataset_median": [64], NAME: {"probs": [10][10], "predictors": [10][64],
"curve": [steps]}}.

- P(j | i): markov: i + 1 with the probability p whose conditional entropy
  -p log2 p - 9 q log2 q (q = (1 - p) / 9) is the stream's entropy (p in [0.1, 1]), each other
  class q; k successors: i + 1, ..., i + k (mod 10), 1/k each; random: 1/10.
- Predictor of previous class i, per pixel: the smallest training value v whose weighted CDF
  reaches one half, each training image of class j weighing P(j | i) / n_j (weights
  normalised to sum 1; a slack of 1e-12 absorbs rounding at an exact half).
- The static prior: the lower median (element (n - 1) // 2 of the sorted values) of the whole
  training split per pixel.
- Curve: per step t, the mean over sequences and pixels of |x_t - predictor[label_{t-1}]|,
  and at t = 0 of |x_0 - prior|.
"""
import json
import math
import sys

import numpy as np
from digits import load_digits

SLACK = 1e-12

csv_path, sets_path, out_path = sys.argv[1:4]
train_x, train_y, test_x, test_y = load_digits(csv_path)


def entropy(p):
    q = (1.0 - p) / 9.0
    h = lambda v: -v * math.log2(v) if v > 0 else 0.0
    return h(p) + 9 * h(q)


def stay_probability(bits):
    """Bisection on [0.1, 1], where the entropy falls from log2(10) to 0."""
    lo, hi = 0.1, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if entropy(mid) > bits:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def transition(order, bits, k):
    if order == "random":
        return np.full((10, 10), 0.1)
    if order == "successors":
        P = np.zeros((10, 10))
        for i in range(10):
            for j in range(1, k + 1):
                P[i, (i + j) % 10] += 1.0 / k
        return P
    p = stay_probability(bits)
    P = np.full((10, 10), (1.0 - p) / 9.0)
    for i in range(10):
        P[i, (i + 1) % 10] = p
    return P


def weighted_lower_median(x, w):
    """Per column of x [n, d]: the smallest value whose CDF under weights w [n] is >= 1/2."""
    w = w / w.sum()
    order = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, order, axis=0)
    cdf = np.cumsum(w[order], axis=0)
    first = np.argmax(cdf >= 0.5 - SLACK, axis=0)
    return xs[first, np.arange(x.shape[1])]


counts = np.bincount(train_y, minlength=10)
prior = np.sort(train_x, axis=0)[(len(train_x) - 1) // 2]
out = {"dataset_median": prior.astype(float).tolist()}
for name, s in json.load(open(sets_path))["streams"].items():
    P = transition(s["order"], s["entropy"], s.get("successors"))
    preds = np.stack(
        [weighted_lower_median(train_x, P[i, train_y] / counts[train_y]) for i in range(10)]
    )
    idx = np.asarray(s["sequences"])  # [seqs, steps]
    x = test_x[idx].astype(np.float64)  # [seqs, steps, 64]
    lab = test_y[idx]
    guess = np.empty_like(x)
    guess[:, 0] = prior
    guess[:, 1:] = preds[lab[:, :-1]]
    curve = np.abs(x - guess).mean(axis=(0, 2))
    out[name] = {
        "probs": P.tolist(),
        "predictors": preds.astype(float).tolist(),
        "curve": curve.tolist(),
    }
json.dump(out, open(out_path, "w"))
