#!/usr/bin/env python3
"""`epc dump` against the same work written plainly in Python, alternated in one run.

The peer is what a researcher would write without epc: numpy reads the gzipped IDX test
images, onnxruntime runs the step model at batch 32 over the same frames, h5py writes
`input`, `preact` and `act` ([steps, sequences, units], gzip level 1 with shuffle, like epc's
default). Both run as child processes; the script reports the median wall time, the peak
resident memory (ru_maxrss of each child) and the ratios epc / peer, and checks that both wrote
the same activations.

    source scripts/env.sh
    python3 scripts/dump_vs_python.py --epc target/release/epc --model RUN/seed-0/model.onnx \
        --data-dir ../shared/data/mnist [--rounds 5]

`--scale K` also dumps K epochs of the test sampler with epc (K times more sequences) and reports
how much the peak memory grows (issue 16 asks for under 20% at 10x).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PEER = r'''
import gzip, sys
import numpy as np, onnxruntime as ort, h5py
model, images_gz, frames_npy, out = sys.argv[1:5]
with gzip.open(images_gz, "rb") as f:
    raw = f.read()
n, rows, cols = (int.from_bytes(raw[o:o + 4], "big") for o in (4, 8, 12))
images = np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / 255.0
frames = np.load(frames_npy)                      # [sequences, steps]
seqs, steps = frames.shape
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
with h5py.File(out, "w") as h5:
    kw = dict(dtype="f4", chunks=(1, min(256, seqs), images.shape[1]), compression="gzip",
              compression_opts=1, shuffle=True)
    d_in = h5.create_dataset("input", (steps, seqs, images.shape[1]), **kw)
    d_pre = h5.create_dataset("preact", (steps, seqs, images.shape[1]), **kw)
    d_act = h5.create_dataset("act", (steps, seqs, images.shape[1]), **kw)
    for s0 in range(0, seqs, 32):
        idx = frames[s0:s0 + 32]
        h = np.zeros((idx.shape[0], images.shape[1]), np.float32)
        for t in range(steps):
            x = images[idx[:, t]]
            pre, h = sess.run(["preact", "h_next"], {"x": x, "h": h})
            d_in[t, s0:s0 + len(idx)] = x
            d_pre[t, s0:s0 + len(idx)] = pre
            d_act[t, s0:s0 + len(idx)] = h
'''


def run_child(cmd, env=None):
    """Runs a child, returns (wall seconds, peak RSS in MiB); raises on failure."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"dump_vs_python: {' '.join(cmd[:2])} failed: {err.strip()}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epc", default="target/release/epc")
    ap.add_argument("--model", required=True, help="a step-v1 MNIST model (RUN/seed-0/model.onnx)")
    ap.add_argument("--data-dir", required=True, help="folder with t10k-images-idx3-ubyte.gz")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", type=int, default=10, help="epochs for the memory-growth dump (0: skip)")
    args = ap.parse_args()
    import h5py
    import numpy as np

    images_gz = os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz")
    with tempfile.TemporaryDirectory(prefix="epc-dump-vs-python-") as tmp:
        peer_py = os.path.join(tmp, "peer.py")
        with open(peer_py, "w") as f:
            f.write(PEER)
        epc_out = os.path.join(tmp, "epc.h5")
        peer_out = os.path.join(tmp, "peer.h5")
        frames_npy = os.path.join(tmp, "frames.npy")
        epc_cmd = [args.epc, "dump", "--model", args.model, "--data-dir", args.data_dir,
                   "--dataset", "mnist", "--out", epc_out]
        # One untimed epc dump gives the peer the same frames (epc draws them inside its timing).
        run_child(epc_cmd)
        with h5py.File(epc_out, "r") as f:
            np.save(frames_npy, f["frames"][()].astype(np.int64))
        peer_cmd = [sys.executable, peer_py, args.model, images_gz, frames_npy, peer_out]
        epc_t, epc_m, peer_t, peer_m = [], [], [], []
        for r in range(args.rounds):
            for who in ((0, 1) if r % 2 == 0 else (1, 0)):
                wall, rss = run_child(epc_cmd if who == 0 else peer_cmd)
                (epc_t if who == 0 else peer_t).append(wall)
                (epc_m if who == 0 else peer_m).append(rss)
        with h5py.File(epc_out, "r") as a, h5py.File(peer_out, "r") as b:
            steps, seqs = a["act"].shape[:2]
            diff = max(float(np.abs(a[k][()] - b[k][()]).max()) for k in ("input", "preact", "act"))
            sizes = (os.path.getsize(epc_out), os.path.getsize(peer_out))
        print(f"{seqs} sequences x {steps} steps, {args.rounds} alternated rounds")
        print(f"epc dump : median {statistics.median(epc_t):.2f} s (min {min(epc_t):.2f}), "
              f"peak memory {max(epc_m):.0f} MiB, file {sizes[0] / 2**20:.1f} MiB")
        print(f"python   : median {statistics.median(peer_t):.2f} s (min {min(peer_t):.2f}), "
              f"peak memory {max(peer_m):.0f} MiB, file {sizes[1] / 2**20:.1f} MiB")
        print(f"ratio epc/python: wall {statistics.median(epc_t) / statistics.median(peer_t):.2f}x, "
              f"peak memory {max(epc_m) / max(peer_m):.2f}x")
        print(f"largest difference between the two files: {diff:.2e}")
        if args.scale > 1:
            big = os.path.join(tmp, "big.h5")
            wall, rss = run_child(epc_cmd[:-1] + [big, "--epochs", str(args.scale)])
            with h5py.File(big, "r") as f:
                n = f["act"].shape[1]
            print(f"epc dump of {n} sequences ({n / seqs:.1f}x): {wall:.2f} s, peak memory "
                  f"{rss:.0f} MiB ({100 * (rss / max(epc_m) - 1):+.1f}% against {seqs} sequences)")


if __name__ == "__main__":
    main()
