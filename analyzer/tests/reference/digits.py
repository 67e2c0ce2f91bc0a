"""The embedded 8x8 digits as the reference scripts read them: core/assets/digits.csv.gz, 64
pixel values 0..16 then the label per row; pixels / 16 as float32; the last 360 rows are the
test split, the others the training split (the README's decision)."""
import gzip

import numpy as np


def load_digits(csv_path):
    """(train_x, train_y, test_x, test_y) of the embedded digits."""
    with gzip.open(csv_path, "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    images = (rows[:, :64] / 16.0).astype(np.float32)
    labels = rows[:, 64].astype(int)
    return images[:-360], labels[:-360], images[-360:], labels[-360:]
