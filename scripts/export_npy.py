"""Save MNIST as the textbook's four NumPy arrays: x_train, y_train, x_test, y_test (uint8 images, labels).

    python scripts/export_npy.py --data-dir data --out-dir npy

Other datasets with ``--dataset`` (CIFAR-10's images as ``[N, 3, 32, 32]``, channels first, as torch has them).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from mnist_lit.data import DATASETS, save_npy
from mnist_lit.errors import exits_on_user_error


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="which dataset (default: mnist)")
    parser.add_argument("--out-dir", default="npy")
    args = parser.parse_args(argv)
    for path in save_npy(args.data_dir, args.out_dir, args.dataset).values():
        array = np.load(path, mmap_mode="r")
        print(f"{path}: {tuple(array.shape)} {array.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
