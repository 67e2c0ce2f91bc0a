"""A stand-in for torchvision's MNIST loader (reads the IDX files of a local folder)."""
import gzip, os, struct
import numpy as np
import torch

MNIST_DIR = os.environ["MNIST_DIR"]

class _ToTensor:
    pass

class transforms:
    ToTensor = _ToTensor

class _MNIST:
    def __init__(self, root, train=True, transform=None, download=False):
        pre = "train" if train else "t10k"
        with gzip.open(os.path.join(MNIST_DIR, f"{pre}-images-idx3-ubyte.gz")) as f:
            raw = f.read()
        n = struct.unpack(">I", raw[4:8])[0]
        self.x = torch.from_numpy(np.frombuffer(raw[16:], np.uint8).reshape(n, 1, 28, 28).astype(np.float32) / 255.0)
        with gzip.open(os.path.join(MNIST_DIR, f"{pre}-labels-idx1-ubyte.gz")) as f:
            self.y = list(f.read()[8:])
    def __len__(self):
        return len(self.y)
    def __iter__(self):
        for i in range(len(self.y)):
            yield self.x[i], self.y[i]

class datasets:
    MNIST = _MNIST
