#!/usr/bin/env python3
"""Builds, trains briefly and exports two step-v2 models (docs/CONTRACT.md) from PyTorch.

  lstm_err.onnx   error units a_t = x_t + W_pred h_{t-1}
                  feeding an LSTM cell (states h, c); no drive/transmission outputs.
  two_layer.onnx  two ReLU layers with recurrent and top-down weights (states h1, h2), with
                  every optional output (drive_in, drive_rec, transmission).

Run from the repository root with the venv that scripts/setup.sh makes:

  ~/.cache/epc/venv-py311-torch2.11.0-ort1.32.0/bin/python examples/pytorch/make_models.py

Deterministic (fixed seed, one CPU thread); writes the two .onnx files and SHA256SUMS next to
this script, and prints the training and test numbers recorded in README.md.
"""

import gzip
import hashlib
import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

PINNED = {"torch": "2.11.0", "onnx": "1.23.2", "onnxruntime": "1.32.0"}
GOT = {
    "torch": torch.__version__.split("+")[0],
    "onnx": onnx.__version__,
    "onnxruntime": ort.__version__,
}
for _pkg, _want in PINNED.items():
    assert GOT[_pkg] == _want, f"{_pkg} {GOT[_pkg]} installed, this script is pinned to {_want}"

SEED = 0
SEQ_LEN = 10
BATCH = 32
LR = 1e-3
TRAIN_STEPS = 1000  # batches per model
N_TEST_SEQ = 256  # test sequences for the reported numbers (8 batches of 32)
N_VERIFY_SEQ = 4  # test sequences run through onnxruntime against torch
OPSET = 17
TOL = 1e-5

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DIGITS = os.path.join(ROOT, "core", "assets", "digits.csv.gz")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
# dynamo=False is deliberate (the brief pins the TorchScript exporter); silence its notice
warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")


# ---------------------------------------------------------------- data


def load_digits():
    """The embedded 8x8 digits: (train_x, train_y, test_x, test_y), pixels scaled to [0, 1]."""
    with gzip.open(DIGITS, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64)
    assert rows.shape == (1797, 65), rows.shape
    x = (rows[:, :64] / 16.0).astype(np.float32)
    y = rows[:, 64].astype(np.int64)
    n_test = 360  # the last 360 rows are the test split
    return x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:]


class Sequences:
    """Ascending class sequences with wrap-around from a uniformly random start class;
    each frame a uniformly random exemplar of its class."""

    def __init__(self, x, y):
        self.by_class = [x[y == c] for c in range(10)]
        assert all(len(b) > 0 for b in self.by_class)

    def batch(self, rng, batch=BATCH, length=SEQ_LEN):
        start = rng.integers(0, 10, size=batch)
        out = np.empty((length, batch, 64), dtype=np.float32)
        for b in range(batch):
            for t in range(length):
                pool = self.by_class[(start[b] + t) % 10]
                out[t, b] = pool[rng.integers(0, len(pool))]
        return out


# ---------------------------------------------------------------- models


class LstmErr(nn.Module):
    """a_t = x_t + W_pred h_{t-1}; (h_t, c_t) = LSTMCell(a_t, (h_{t-1}, c_{t-1}))."""

    states = (("h", 32), ("c", 32))
    input_names = ["x", "h", "c"]
    output_names = ["preact", "act", "h_next", "c_next"]

    def __init__(self):
        super().__init__()
        self.pred = nn.Linear(32, 64, bias=False)  # W_pred: 32 -> 64
        self.cell = nn.LSTMCell(64, 32)

    def forward(self, x, h, c):
        a = x + self.pred(h)
        h_next, c_next = self.cell(a, (h, c))
        units = torch.cat([a, h_next], dim=1)
        # preact and act are the same tensor; the exporter gives each output its own name.
        return units, units, h_next, c_next

    @staticmethod
    def step_loss(outs):
        preact = outs[0]
        return preact[:, :64].abs().mean() + preact[:, 64:].abs().mean()


def uniform_(shape, fan, gen):
    bound = 1.0 / np.sqrt(fan)
    return nn.Parameter((torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound)


class TwoLayer(nn.Module):
    """a1 = x + h1 W11 + h2 W21, h1' = relu(a1); a2 = h1' W12 + h2 W22, h2' = relu(a2).
    Row-vector convention: W[i, j] is the weight from unit i to unit j."""

    states = (("h1", 64), ("h2", 32))
    input_names = ["x", "h1", "h2"]
    output_names = ["preact", "act", "drive_in", "drive_rec", "transmission", "h1_next", "h2_next"]

    def __init__(self, gen):
        super().__init__()
        # U(-1/sqrt(fan), 1/sqrt(fan)), fan = the number of sending units (rows) of the block
        self.W11 = uniform_((64, 64), 64, gen)
        self.W12 = uniform_((64, 32), 64, gen)
        self.W21 = uniform_((32, 64), 32, gen)
        self.W22 = uniform_((32, 32), 32, gen)

    def forward(self, x, h1, h2):
        rec1 = h1 @ self.W11 + h2 @ self.W21
        a1 = x + rec1
        n1 = torch.relu(a1)
        in2 = n1 @ self.W12
        rec2 = h2 @ self.W22
        a2 = in2 + rec2
        n2 = torch.relu(a2)
        preact = torch.cat([a1, a2], dim=1)
        act = torch.cat([n1, n2], dim=1)
        drive_in = torch.cat([x, in2], dim=1)
        drive_rec = torch.cat([rec1, rec2], dim=1)
        w_full = torch.cat(
            [torch.cat([self.W11, self.W12], dim=1), torch.cat([self.W21, self.W22], dim=1)],
            dim=0,
        )
        transmission = act @ w_full.abs()  # st_j = sum_i act_i |W_ij|
        return preact, act, drive_in, drive_rec, transmission, n1, n2

    @staticmethod
    def step_loss(outs):
        return outs[0].abs().mean()


def zero_states(model, batch):
    return [torch.zeros(batch, size) for _, size in model.states]


def run_sequence(model, seq):
    """seq [T, B, 64] -> list over steps of the model's outputs (tuples of tensors)."""
    states = zero_states(model, seq.shape[1])
    n_states = len(model.states)
    steps = []
    for t in range(seq.shape[0]):
        outs = model(seq[t], *states)
        states = list(outs[-n_states:])
        steps.append(outs)
    return steps


# ---------------------------------------------------------------- training


def train(model, seqs, rng, arch):
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    for step in range(TRAIN_STEPS):
        seq = torch.from_numpy(seqs.batch(rng))
        outs = run_sequence(model, seq)
        loss = sum(model.step_loss(o) for o in outs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step == 0 or (step + 1) % 100 == 0:
            print(f"  {arch} batch {step + 1:4d}  loss {loss.item():.4f}", flush=True)
    return losses


@torch.no_grad()
def test_numbers(model, test_batches, energy):
    """Mean |preact| per step over the test sequences: all units and the energy units."""
    e0, e1 = energy
    all_units = np.zeros(SEQ_LEN)
    energy_units = np.zeros(SEQ_LEN)
    for seq in test_batches:
        for t, outs in enumerate(run_sequence(model, torch.from_numpy(seq))):
            p = outs[0].abs()
            all_units[t] += p.mean().item() / len(test_batches)
            energy_units[t] += p[:, e0:e1].mean().item() / len(test_batches)
    return all_units, energy_units


# ---------------------------------------------------------------- export


def export(model, path, metadata, fold):
    model.eval()
    example = [torch.zeros(2, 64)] + zero_states(model, 2)
    names = model.input_names + model.output_names
    torch.onnx.export(
        model,
        tuple(example),
        path,
        dynamo=False,
        opset_version=OPSET,
        input_names=model.input_names,
        output_names=model.output_names,
        dynamic_axes={n: {0: "batch"} for n in names},
        do_constant_folding=fold,
    )
    m = onnx.load(path)
    got_in = [i.name for i in m.graph.input]
    got_out = [o.name for o in m.graph.output]
    assert got_in == model.input_names, got_in
    assert got_out == model.output_names, got_out
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        assert v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT, v.name
        assert len(dims) == 2 and dims[0].dim_param == "batch" and dims[1].dim_value > 0, v.name
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, metadata)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    size = os.path.getsize(path)
    assert size < 100_000, f"{path} is {size} bytes"
    return size


def verify(model, path, seqs):
    """Runs the exported model step by step with onnxruntime against torch."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == model.input_names
    out_names = [o.name for o in sess.get_outputs()]
    n_states = len(model.states)
    worst = 0.0
    with torch.no_grad():
        ref = run_sequence(model, torch.from_numpy(seqs))
    states = [np.zeros((seqs.shape[1], size), np.float32) for _, size in model.states]
    for t in range(seqs.shape[0]):
        feed = dict(zip(model.input_names, [seqs[t]] + states))
        got = sess.run(model.output_names, feed)
        for name, g, r in zip(model.output_names, got, ref[t]):
            diff = float(np.max(np.abs(g - r.numpy())))
            assert diff <= TOL, f"{path}: step {t} output {name} differs by {diff}"
            worst = max(worst, diff)
        states = got[-n_states:]
    assert out_names == model.output_names
    return worst


# ---------------------------------------------------------------- main


def main():
    train_x, train_y, test_x, test_y = load_digits()
    train_seqs, test_seqs = Sequences(train_x, train_y), Sequences(test_x, test_y)
    test_rng = np.random.default_rng(SEED + 1000)
    test_batches = [test_seqs.batch(test_rng) for _ in range(N_TEST_SEQ // BATCH)]
    verify_seqs = test_batches[0][:, :N_VERIFY_SEQ]

    sums = []
    report = {}
    specs = [
        (
            "lstm_err",
            "lstm-err",
            lambda gen: LstmErr(),
            [{"name": "h", "size": 32}, {"name": "c", "size": 32}],
            [
                {"name": "error", "units": [0, 64], "layer": 0, "pixels": [0, 64]},
                {"name": "lstm", "units": [64, 96], "layer": 1,
                 "state": {"h": [0, 32], "c": [0, 32]}},
            ],
            ["error"],
            (0, 64),
            {"architecture": "lstm-err", "n_in": 64, "error_units": 64, "lstm_hidden": 32,
             "pred_bias": False,
             "loss": "sum over steps of mean|a_t| + mean|h_t| (a_t error units, h_t LSTM output)"},
        ),
        (
            "two_layer",
            "two-layer",
            lambda gen: TwoLayer(gen),
            [{"name": "h1", "size": 64}, {"name": "h2", "size": 32}],
            [
                {"name": "l1", "units": [0, 64], "layer": 0, "pixels": [0, 64],
                 "state": {"h1": [0, 64]}},
                {"name": "l2", "units": [64, 96], "layer": 1, "state": {"h2": [0, 32]}},
            ],
            None,
            (0, 64),
            {"architecture": "two-layer", "n_in": 64, "layers": [64, 32], "activation": "relu",
             "init": "U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per block",
             "loss": "sum over steps of mean over all 96 units of |a_t|"},
        ),
    ]
    for stem, arch, build, states, pops, energy, energy_units, model_cfg in specs:
        print(f"{stem}:", flush=True)
        torch.manual_seed(SEED)
        gen = torch.Generator().manual_seed(SEED)
        model = build(gen)
        rng = np.random.default_rng(SEED)
        before_all, before_energy = test_numbers(model, test_batches, energy_units)
        losses = train(model, train_seqs, rng, stem)
        after_all, after_energy = test_numbers(model, test_batches, energy_units)

        config = {
            "seed": SEED,
            "data": {"dataset": "digits", "test_split": "last 360 rows", "pixel_scale": 1 / 16},
            # epc reads this section to pick the analysis stream, so it holds only epc's
            # sequence settings; how the sequences were drawn here is described beside it.
            "sequence": {"length": SEQ_LEN, "batch_size": BATCH, "order": "ascending"},
            "sampling": {"start_class": "uniform", "initial_state": "zeros"},
            "model": model_cfg,
            "optim": {"name": "adam", "lr": LR, "batches": TRAIN_STEPS},
            "framework": {"torch": GOT["torch"], "onnx": GOT["onnx"],
                          "onnxruntime": GOT["onnxruntime"]},
            "script": "examples/pytorch/make_models.py",
        }
        metadata = {
            "epc.contract": "step-v2",
            "epc.states": json.dumps(states),
            "epc.populations": json.dumps(pops),
        }
        if energy is not None:
            metadata["epc.energy"] = json.dumps(energy)
        metadata.update({
            "epc.dataset": "digits",
            "epc.architecture": arch,
            "epc.loss": "l1-pre",
            "epc.seed": str(SEED),
            "epc.config": json.dumps(config, sort_keys=True),
        })
        path = os.path.join(HERE, stem + ".onnx")
        # Constant folding would store the two-layer weights twice (|Wfull| as a 96x96 block);
        # unfolded, transmission is computed from W11..W22 in the graph (Concat, Abs, MatMul).
        size = export(model, path, metadata, fold=(stem == "lstm_err"))
        worst = verify(model, path, verify_seqs)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        sums.append(f"{digest}  {stem}.onnx\n")

        last = float(np.mean(losses[-20:]))
        print(f"  wrote {os.path.relpath(path, ROOT)} ({size} bytes), sha256 {digest}")
        print(f"  onnxruntime vs torch over {N_VERIFY_SEQ} test sequences x {SEQ_LEN} steps: "
              f"max |diff| {worst:.2e} (tolerance {TOL:g})")
        print(f"  training loss: first batch {losses[0]:.4f}, last batch {losses[-1]:.4f}, "
              f"mean of last 20 batches {last:.4f}")
        e = "error units" if stem == "lstm_err" else "layer-1 units"
        print(f"  mean |preact| on {N_TEST_SEQ} test sequences, step 1 -> step {SEQ_LEN}:")
        print(f"    all 96 units:   untrained {before_all[0]:.4f} -> {before_all[-1]:.4f}; "
              f"trained {after_all[0]:.4f} -> {after_all[-1]:.4f}")
        print(f"    {e + ':':15s} untrained {before_energy[0]:.4f} -> {before_energy[-1]:.4f}; "
              f"trained {after_energy[0]:.4f} -> {after_energy[-1]:.4f}")
        print("    trained, every step (all units): "
              + " ".join(f"{v:.4f}" for v in after_all))
        report[stem] = (losses, after_all)

    with open(os.path.join(HERE, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    print("wrote examples/pytorch/SHA256SUMS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
