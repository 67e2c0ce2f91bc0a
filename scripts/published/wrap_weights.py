"""Wraps a W.npy as an epc instance folder (config.json + weights.safetensors) for `epc export`.

Usage: python3 wrap_weights.py W.npy CONFIG.json OUT_DIR, where CONFIG.json is the config.json
of any epc MNIST instance (say of `epc train --config configs/paper-mnist.toml --epochs 0`); the
wrapped folder records the published training (200 epochs, no validation split).
"""
import json, struct, sys, numpy as np, os
W = np.load(sys.argv[1]).astype("<f4")
out = sys.argv[3]
os.makedirs(out, exist_ok=True)
cfg = json.load(open(sys.argv[2]))
cfg["train"]["epochs"] = 200; cfg["data"]["val_fraction"] = 0.0; cfg["train"]["final_weights"] = "last"
json.dump(cfg, open(f"{out}/config.json", "w"), indent=2)
data = W.tobytes()
header = json.dumps({"W": {"dtype": "F32", "shape": list(W.shape), "data_offsets": [0, len(data)]}}).encode()
header += b" " * ((8 - len(header) % 8) % 8)
open(f"{out}/weights.safetensors", "wb").write(struct.pack("<Q", len(header)) + header + data)
