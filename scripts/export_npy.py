"""Save MNIST as the textbook's four NumPy arrays: x_train, y_train, x_test, y_test (uint8 images, labels).

    python scripts/export_npy.py --data-dir data --out-dir npy

Other datasets with ``--dataset`` (CIFAR-10's images as ``[N, 3, 32, 32]``, channels first, as torch has them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mnist_lit.data import DATASETS, ensure_files, load_split
from mnist_lit.errors import exits_on_user_error


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="which dataset (default: mnist)")
    parser.add_argument("--out-dir", default="npy")
    args = parser.parse_args(argv)
    ensure_files(args.data_dir, download=False, dataset=args.dataset)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, train in (("train", True), ("test", False)):
        images, labels = load_split(args.data_dir, train=train, dataset=args.dataset)
        for name, array in ((f"x_{split}", images), (f"y_{split}", labels)):
            path = out_dir / f"{name}.npy"
            np.save(path, array.numpy())
            print(f"{path}: {tuple(array.shape)} {array.numpy().dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
