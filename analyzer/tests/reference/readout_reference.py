"""An independent numpy computation of the spatial rule's readout (analyzer/tests/readout.rs),
written from its description, not from the toolkit's Rust code.

Usage: python readout_reference.py IN.json OUT.json

IN.json: {"features": [rows][f], "targets": [rows][2], "fit": FIT, "lambda": L, "floor": F}.
OUT.json: {"r2": R2, "scores": [f]}.

- Standardise each feature by its mean and (population) standard deviation over the first FIT
  rows, the deviation floored at F times the mean deviation of all features; a feature
  without spread on the fit rows is set to 0.
- Centre the targets by their fit-row means; solve (Z'Z / FIT + L I) w = Z'y / FIT.
- R2 on the held-out rows per coordinate, 1 - SS_res / SS_tot (around the held-out mean),
  averaged; score of a feature: the norm of its two weights.
"""
import json
import sys

import numpy as np

d = json.load(open(sys.argv[1]))
x = np.asarray(d["features"], dtype=np.float64)
y = np.asarray(d["targets"], dtype=np.float64)
fit, lam, floor = d["fit"], d["lambda"], d["floor"]
mu = x[:fit].mean(axis=0)
sd = x[:fit].std(axis=0)
scale = np.maximum(sd, floor * sd.mean())
z = np.where(sd > 1e-12, (x - mu) / scale, 0.0)
ym = y[:fit].mean(axis=0)
zf = z[:fit]
a = zf.T @ zf / fit + lam * np.eye(x.shape[1])
w = np.linalg.solve(a, zf.T @ (y[:fit] - ym) / fit)
pred = z[fit:] @ w + ym
t = y[fit:]
r2 = np.mean(1 - ((t - pred) ** 2).sum(axis=0) / ((t - t.mean(axis=0)) ** 2).sum(axis=0))
json.dump({"r2": float(r2), "scores": np.linalg.norm(w, axis=1).tolist()}, open(sys.argv[2], "w"))
