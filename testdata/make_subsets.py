#!/usr/bin/env python3
"""Writes the small real-data subsets in this folder from the full data sets.

Usage: python3 testdata/make_subsets.py SHARED_DATA_DIR   (e.g. ../shared/data)

Standard library only (gzip, hashlib). Output is byte-reproducible: gzip with mtime 0 and
level 9, no file name in the header. Each IDX subset keeps the first N_TRAIN training and
the first N_TEST test images (and labels) in file order, with the IDX headers rewritten to
the new counts; the CIFAR-10 file is copied as is. Every folder gets an MD5SUMS file that
the epc loader verifies instead of the published digests (see core/src/data/mod.rs).
"""
import gzip
import hashlib
import pathlib
import shutil
import struct
import sys

N_TRAIN = 1000
N_TEST = 200
IDX = {
    "train-images-idx3-ubyte.gz": N_TRAIN,
    "train-labels-idx1-ubyte.gz": N_TRAIN,
    "t10k-images-idx3-ubyte.gz": N_TEST,
    "t10k-labels-idx1-ubyte.gz": N_TEST,
}


def gzip_bytes(raw: bytes) -> bytes:
    import io  # noqa: PLC0415

    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as f:
        f.write(raw)
    return buf.getvalue()


def idx_subset(raw: bytes, n: int) -> bytes:
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        body = raw[16 : 16 + n * rows * cols]
        return struct.pack(">IIII", magic, n, rows, cols) + body
    if magic == 2049:
        return struct.pack(">II", magic, n) + raw[8 : 8 + n]
    raise SystemExit(f"unexpected IDX magic {magic}")


def write_md5sums(folder: pathlib.Path, names):
    lines = []
    for name in sorted(names):
        digest = hashlib.md5((folder / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}\n")
    (folder / "MD5SUMS").write_text("".join(lines))


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    here = pathlib.Path(__file__).resolve().parent
    for name in ("mnist", "fashion-mnist"):
        dst = here / f"{name}-small"
        dst.mkdir(exist_ok=True)
        for fname, n in IDX.items():
            raw = gzip.decompress((src / name / fname).read_bytes())
            (dst / fname).write_bytes(gzip_bytes(idx_subset(raw, n)))
        write_md5sums(dst, IDX)
    dst = here / "cifar10-first20"
    dst.mkdir(exist_ok=True)
    shutil.copyfile(src / "cifar10-test-first20" / "test_batch_first20.bin", dst / "test_batch_first20.bin")
    write_md5sums(dst, ["test_batch_first20.bin"])


if __name__ == "__main__":
    main()
