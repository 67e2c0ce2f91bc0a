"""Runs the published code's own analysis helpers on a trained W and writes the numbers as JSON.

Usage: PUBLISHED_CODE=DIR MNIST_DIR=DIR [SETS_DIR=DIR] python3 analyze_published.py W.npy OUT.json
(docs/PUBLISHED_COMPARISON.md: the whole procedure). Runs in the published code's own
environment (torch, numpy, pandas, scipy, seaborn, bootstrapped), not the project's.

With SETS_DIR, the sequences the published helpers draw are written there as image-index
files named after epc's analysis sets (`epc analyze --sequence-sets SETS_DIR` reads them):
ordered-start-S (the prediction rule), shuffled-start-S and distractor-C (the error-unit test's
"normal" and distractor groups) and test (the energy curves). Every later draw of a test set
(the random and connection lesions, the input references) replays the first one, so all the
published energies run on one test set, as epc's do. Python's `random` (the distractor
classes) is seeded too, so the taxonomy's error test and the error-unit call draw alike.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLISHED = os.environ["PUBLISHED_CODE"]  # a checkout of KietzmannLab/EmergentPredictiveCoding
sys.path[:0] = [os.path.join(HERE, "shim"), PUBLISHED]
os.chdir(PUBLISHED)  # its helpers read and write relative paths
import json
import time
import numpy as np, torch
import random
import mnist, Network, helper, plot
SETS_DIR = os.environ.get("SETS_DIR")
RECORD = False  # while True, the draws are written as epc's sets
SETS = {}


def _recording(create):
    """Wraps mnist.create_sequences: runs it on image indices (the same random calls) and
    returns the images those indices pick, recording or replaying them by role."""
    def wrapped(dataset, sequence_length, batch_size, shuffle=True, distractor=False, fixed_starting_point=None):
        test_like = shuffle and not distractor and fixed_starting_point is None and batch_size < 1
        if test_like and "test" in SETS and sequence_length == SETS["test"].shape[1]:
            idx = torch.from_numpy(SETS["test"]).T.unsqueeze(0)  # [1, steps, n]
            return dataset.x[idx].reshape(1, sequence_length, -1, 28 * 28), dataset.y[idx].reshape(1, sequence_length, -1)
        view = type("IndexView", (), {})()
        view.x = torch.arange(dataset.x.shape[0], dtype=torch.float32).unsqueeze(1).expand(-1, 28 * 28)
        view.indices = dataset.indices
        xi, y = create(view, sequence_length, batch_size, shuffle, distractor, fixed_starting_point)
        idx = xi[..., 0].long()  # [batches, steps, batch]
        rows = idx.permute(0, 2, 1).reshape(-1, sequence_length).numpy()
        role = None
        if test_like:
            role = "test"
        elif fixed_starting_point is not None and not shuffle:
            role = f"ordered-start-{fixed_starting_point}"
        elif fixed_starting_point is not None and distractor:
            role = f"distractor-{(fixed_starting_point + 8) % 10}"
        elif fixed_starting_point is not None:
            role = f"shuffled-start-{fixed_starting_point}"
        if RECORD and role is not None and sequence_length == 10:
            SETS[role] = rows
        return dataset.x[idx], y
    return wrapped


if SETS_DIR:
    mnist.create_sequences = _recording(mnist.create_sequences)
W = np.load(sys.argv[1])
out = os.path.abspath(sys.argv[2])
SEED = 2553
torch.manual_seed(SEED); np.random.seed(SEED); random.seed(SEED)
train_set, validation_set, test_set = mnist.load(val_ratio=0.0)
net = Network.State(activation_func=torch.nn.ReLU(), optimizer=torch.optim.Adam, lr=1e-4,
                    input_size=784, hidden_size=784, title="x", device="cpu")
with torch.no_grad():
    net.model.W.copy_(torch.from_numpy(W))
res = {}
t0 = time.time()
RECORD = True
random.seed(SEED)
types, stats = helper.compute_unit_types(net, test_set, train_set)
names = ["e1", "e2", "p1", "p2", "h1", "h2", "unspecified"]
res["unit_types"] = {n: int((types == i).sum()) for i, n in enumerate(names)}
pred_rule = helper.find_pred_units(net, test_set)
res["prediction_units"] = sorted(int(i) for i in (pred_rule.sum(1) > 0).nonzero().flatten())
res["prediction_per_class"] = [int(v) for v in pred_rule.sum(0)]
torch.manual_seed(SEED); random.seed(SEED)
err, err_c = helper.find_error_units(net, test_set)
res["error_units"] = sorted(int(i) for i in err.nonzero().flatten())
res["error_per_class"] = [int(v) for v in err_c.sum(1)]
res["types_seconds"] = time.time() - t0
for energy in ["pre", "ap", "st", "ec"]:
    torch.manual_seed(SEED)
    mu, les = helper.model_activity_lesioned(net, train_set, test_set, lesion_type="pred", energy=energy, save=False)
    torch.manual_seed(SEED)
    _, cont = helper.model_activity_lesioned(net, train_set, test_set, lesion_type="pred", energy=energy, save=False, reverse=True)
    res[f"energy_{energy}"] = [float(v) for v in mu]
    res[f"lesion_{energy}"] = [float(v) for v in les]
    res[f"random_{energy}"] = [float(v) for v in cont]
    RECORD = False  # the test set is the first energy call's; later draws replay it
torch.manual_seed(SEED)
_, les_conn = helper.model_activity_lesioned(net, train_set, test_set, lesion_type="error", energy="pre", save=False)
res["connection_lesion_pre"] = [float(v) for v in les_conn]
# helper.model_activity crashes in the published code (it indexes a 1-D tensor); its formulas:
meds = mnist.medians(train_set); gmed = train_set.x.median(dim=0).values
torch.manual_seed(SEED)
data, labels = test_set.create_batches(-1, 10, shuffle=True)
data, labels = data.squeeze(0), labels.squeeze(0)
ri, rc, rd = [], [], []
for t in range(10):
    x, y = data[t], labels[t]
    med = meds[y.long()]
    ri.append(float(x.abs().sum(1).div(784).mean())); rc.append(float((x - med).abs().sum(1).div(784).mean())); rd.append(float((x - gmed).abs().sum(1).div(784).mean()))
res["reference_input"], res["reference_category_median"], res["reference_dataset_median"] = ri, rc, rd
# Fig 4B: mean internal drive after k frames leading up to 0, intact and prediction-lesioned.
pred_mask = helper._pred_mask(net, test_set, train_set)
for name, mask in [("intact", None), ("lesioned", pred_mask)]:
    torch.manual_seed(SEED); np.random.seed(SEED)
    imgs = [net.predict(torch.zeros(1, 784))] + [net.predict(helper._run_seq_from_digit(0, i, net, test_set, mask=mask)).mean(dim=0) for i in range(1, 10)]
    res[f"drive4b_{name}"] = [img.detach().flatten().tolist() for img in imgs]
# Fig 4C.
torch.manual_seed(SEED)
pred_stats, err_stats = plot.bootstrap_post_dynamics([net], test_set)
res["post_pred"] = [float(v) for v in pred_stats["samples"]]
res["post_err"] = [float(v) for v in err_stats["samples"]]
res["seconds"] = time.time() - t0
json.dump(res, open(out, "w"))
if SETS_DIR:
    os.makedirs(SETS_DIR, exist_ok=True)
    for role, rows in SETS.items():
        np.save(os.path.join(SETS_DIR, f"{role}.npy"), rows.astype(np.int64))
    print(f"{len(SETS)} sets written to {SETS_DIR}")
print({k: v for k, v in res.items() if not k.startswith("drive4b")})
