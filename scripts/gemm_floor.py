"""The matrix products of one MNIST training epoch of the paper's RNN, alone: the time below
which no fp32 trainer on this machine can go (issue 18's speed target).

Per batch of 32 sequences of 10 frames, K instances stacked: 9 forward products
[K, 32, 784] x [K, 784, 784] (the first frame's state is zero), 8 backward products with W^T,
and the weight gradient as one [K, 784, 288] x [K, 288, 784] product; 153 batches (54,000
training images). Run with the project's venv (`source scripts/env.sh`):

    python3 scripts/gemm_floor.py --instances 10 --threads 2
"""
import argparse
import time

import torch

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--instances", type=int, default=10)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batches", type=int, default=153)
p.add_argument("--rounds", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
K, B, N, T = a.instances, 32, 784, 10
w = torch.randn(K, N, N) / 30
h = torch.randn(K, B, N)
out = torch.empty(K, B, N)
H = torch.randn(K, N, (T - 1) * B)
D = torch.randn(K, (T - 1) * B, N)
g = torch.empty(K, N, N)


def batch():
    for _ in range(T - 1):
        torch.bmm(h, w, out=out)
    for _ in range(T - 2):
        torch.bmm(h, w.transpose(1, 2), out=out)
    torch.bmm(H, D, out=g)


for _ in range(5):
    batch()
times = []
for _ in range(a.rounds):
    t = time.perf_counter()
    for _ in range(a.batches):
        batch()
    times.append(time.perf_counter() - t)
print(f"products of one epoch, {K} instance(s), {a.threads} thread(s): best {min(times):.2f} s, "
      f"median {sorted(times)[len(times) // 2]:.2f} s over {a.rounds} rounds")
