"""Lay out a dataset's files as torchvision expects: ``DATA_DIR/MNIST/raw/`` (``FashionMNIST/raw``, ...).

    python scripts/prepare_data.py --source /path/to/mnist --data-dir data
    python scripts/prepare_data.py --dataset fashion_mnist --source /usr/share/datasets/fashion-mnist --data-dir data
    python scripts/prepare_data.py --dataset cifar10 --source ~/Downloads --data-dir data

The source is only read. The IDX datasets' four files (``.gz`` or not) are verified by the MD5 of their
uncompressed content (KMNIST's by their IDX layout); CIFAR-10's ``cifar-10-python.tar.gz``, or its
unpacked ``cifar-10-batches-py/``, by torchvision's MD5 of each batch.
"""

from __future__ import annotations

import argparse
import sys

from mnist_lit.data import DATASETS, dataset_info, install_files
from mnist_lit.errors import exits_on_user_error


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="folder holding the four IDX files (CIFAR-10: its archive)")
    parser.add_argument("--dataset", default="mnist", help=f"one of {', '.join(DATASETS)} (default: mnist)")
    parser.add_argument("--data-dir", default="data", help="data dir to fill (default: data)")
    args = parser.parse_args(argv)
    target = install_files(args.source, args.data_dir, args.dataset)
    print(f"{dataset_info(args.dataset).title} is ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
