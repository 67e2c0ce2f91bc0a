#!/usr/bin/env python3
"""The architectures of docs/NETWORKS.md written plainly in PyTorch eager, timed per
training batch at the shapes of epc's `arch/<name>` criterion benchmarks (benches/epc/arch.rs):
MNIST-sized frames (784), batch 32, sequences of 10, l1-pre, default sizes, one instance,
Adam (lr 1e-3), random frames in [0, 1).

Prints one JSON object: {"torch": version, "threads": n, "ms_per_batch": {arch: median}}.
scripts/bench_arch.sh runs it next to the criterion benchmarks and writes the comparison.

  python benches/arch_pytorch.py [--iters 40] [--threads N] [--only ARCH]
"""

import argparse
import json
import statistics
import time

import torch

N_IN, BATCH, STEPS, HIDDEN, LATENT, LAYERS, INHIB = 784, 32, 10, 64, 32, 2, 0.2


def uniform(shape, bound, gen, low=None):
    low = -bound if low is None else low
    return torch.nn.Parameter(torch.rand(shape, generator=gen) * (bound - low) + low)


class RnnLatent(torch.nn.Module):
    def __init__(self, gen):
        super().__init__()
        n = N_IN + LATENT
        self.W = uniform((n, n), n ** -0.5, gen)

    def forward(self, x):
        h = torch.zeros(x.shape[1], N_IN + LATENT)
        pre = []
        for t in range(x.shape[0]):
            a = h @ self.W + torch.nn.functional.pad(x[t], (0, LATENT))
            h = torch.relu(a)
            pre.append(a)
        return pre


class Dale(torch.nn.Module):
    def __init__(self, gen):
        super().__init__()
        self.P = uniform((N_IN, N_IN), N_IN ** -0.5, gen, low=0.0)
        sign = torch.ones(N_IN)
        idx = [i for i in range(N_IN) if int((i + 1) * INHIB) > int(i * INHIB)]
        sign[idx] = -1.0
        self.register_buffer("sign", sign[:, None])

    def forward(self, x):
        h = torch.zeros(x.shape[1], N_IN)
        pre = []
        for t in range(x.shape[0]):
            a = h @ (self.P.abs() * self.sign) + x[t]
            h = torch.relu(a)
            pre.append(a)
        return pre


class Hierarchical(torch.nn.Module):
    def __init__(self, gen):
        super().__init__()
        below = N_IN
        self.B, self.R, self.T = (torch.nn.ParameterList() for _ in range(3))
        for _ in range(LAYERS):
            self.B.append(uniform((below, HIDDEN), below ** -0.5, gen))
            self.R.append(uniform((HIDDEN, HIDDEN), HIDDEN ** -0.5, gen))
            self.T.append(uniform((HIDDEN, below), HIDDEN ** -0.5, gen))
            below = HIDDEN

    def forward(self, x):
        hs = [torch.zeros(x.shape[1], HIDDEN) for _ in range(LAYERS)]
        pre = []
        for t in range(x.shape[0]):
            a0 = x[t] + hs[0] @ self.T[0]
            below = torch.relu(a0)
            step, new = [a0], []
            for l in range(LAYERS):
                a = below @ self.B[l] + hs[l] @ self.R[l]
                if l + 1 < LAYERS:
                    a = a + hs[l + 1] @ self.T[l + 1]
                below = torch.relu(a)
                step.append(a)
                new.append(below)
            hs = new
            pre.append(torch.cat(step, 1))
        return pre


class GatedErr(torch.nn.Module):
    def __init__(self, gen, lstm):
        super().__init__()
        self.lstm = lstm
        g = 4 if lstm else 3
        b = HIDDEN ** -0.5
        self.W_pred = uniform((HIDDEN, N_IN), b, gen)
        self.W_ih = uniform((N_IN, g * HIDDEN), b, gen)
        self.W_hh = uniform((HIDDEN, g * HIDDEN), b, gen)
        if lstm:
            self.b = uniform((g * HIDDEN,), b, gen)
        else:
            self.b_ih = uniform((g * HIDDEN,), b, gen)
            self.b_hh = uniform((g * HIDDEN,), b, gen)

    def forward(self, x):
        h = torch.zeros(x.shape[1], HIDDEN)
        c = torch.zeros(x.shape[1], HIDDEN)
        pre = []
        for t in range(x.shape[0]):
            e = x[t] + h @ self.W_pred
            if self.lstm:
                i, f, g, o = (e @ self.W_ih + h @ self.W_hh + self.b).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                ir, iu, ig = (e @ self.W_ih + self.b_ih).chunk(3, 1)
                hr, hu, hg = (h @ self.W_hh + self.b_hh).chunk(3, 1)
                r, u = torch.sigmoid(ir + hr), torch.sigmoid(iu + hu)
                g = torch.tanh(ig + r * hg)
                h = (1 - u) * g + u * h
            pre.append(torch.cat([e, h], 1))
        return pre


MODELS = {
    "rnn-latent": RnnLatent,
    "hierarchical": Hierarchical,
    "dale": Dale,
    "lstm-err": lambda g: GatedErr(g, True),
    "gru-err": lambda g: GatedErr(g, False),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=40, help="timed batches per architecture")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    ap.add_argument("--only", choices=sorted(MODELS), help="time this architecture only")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((STEPS, BATCH, N_IN), generator=gen)
    out = {}
    for name, make in MODELS.items():
        if args.only and name != args.only:
            continue
        model = make(gen)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for i in range(args.iters + 5):  # 5 warm-up batches
            t0 = time.perf_counter()
            loss = sum(a.abs().mean() for a in model(x))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 5:
                times.append(time.perf_counter() - t0)
        out[name] = 1e3 * statistics.median(times)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "ms_per_batch": out}))


if __name__ == "__main__":
    main()
