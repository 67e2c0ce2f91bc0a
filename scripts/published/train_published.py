"""Trains one network with the published code (l1_pre, lr 1e-4, batch 32, 200 epochs) and saves W.

Usage: PUBLISHED_CODE=DIR MNIST_DIR=DIR python3 train_published.py EPOCHS SEED OUT_DIR
writes OUT_DIR/W_seed{SEED}_e{EPOCHS}.npy and the per-epoch test losses beside it.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLISHED = os.environ["PUBLISHED_CODE"]  # a checkout of KietzmannLab/EmergentPredictiveCoding
sys.path[:0] = [os.path.join(HERE, "shim"), PUBLISHED]
os.chdir(PUBLISHED)  # its helpers read and write relative paths
import time
os.makedirs("models/ref", exist_ok=True)
import numpy as np, torch
import mnist, Network
from train import train
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
out_dir = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else HERE
train_set, validation_set, test_set = mnist.load(val_ratio=0.0)
net = Network.State(activation_func=torch.nn.ReLU(), optimizer=torch.optim.Adam, lr=1e-4,
                    input_size=784, hidden_size=784, title=f"ref/mnist_net_l1_pre_{seed}", device="cpu", seed=seed)
t0 = time.time()
train(net, train_ds=train_set, test_ds=test_set, loss_fn="l1_pre", num_epochs=epochs, batch_size=32, sequence_length=10, verbose=False)
print("seconds", time.time() - t0)
np.save(f"{out_dir}/W_seed{seed}_e{epochs}.npy", net.model.W.detach().numpy())
np.save(f"{out_dir}/testloss_seed{seed}_e{epochs}.npy", np.array(net.results["test loss"]))
