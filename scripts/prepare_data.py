"""Lay out a folder of MNIST IDX files (``.gz`` or not) as torchvision expects: ``DATA_DIR/MNIST/raw/``.

    python scripts/prepare_data.py --source ../shared/data/mnist --data-dir data
    python scripts/prepare_data.py --dataset fashion_mnist --source /usr/share/datasets/fashion-mnist --data-dir data

The source is only read; each file is verified by the MD5 of its uncompressed content.
"""

from __future__ import annotations

import argparse
import sys

from mnist_lit.data import install_raw_files
from mnist_lit.data.raw_files import idx_files
from mnist_lit.errors import exits_on_user_error


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="folder holding the four IDX files")
    parser.add_argument("--dataset", default="mnist", help="mnist (default) or fashion_mnist")
    parser.add_argument("--data-dir", default="data", help="data dir to fill (default: data)")
    args = parser.parse_args(argv)
    target = install_raw_files(args.source, args.data_dir, args.dataset)
    print(f"{idx_files(args.dataset).title} is ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
