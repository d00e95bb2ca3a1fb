"""The textbook's first look at the data: counts, shapes, dtypes, value range, and some digits.

python scripts/inspect_data.py --data-dir data --out samples.png
    python scripts/inspect_data.py --data-dir data --dataset fashion_mnist --out fashion.png
"""

from __future__ import annotations

import argparse
import sys

import torch

from mnist_lit.data import DATASETS, dataset_info, ensure_files, load_split, to_model_input
from mnist_lit.errors import exits_on_user_error
from mnist_lit.plots import plot_digits


def describe(name: str, images: torch.Tensor, labels: torch.Tensor) -> str:
    model_input = to_model_input(images)
    return (
        f"{name}: {len(images)} images {tuple(images.shape)} {images.dtype}, values {int(images.min())}-"
        f"{int(images.max())}; labels {tuple(labels.shape)} {labels.dtype}, classes {labels.unique().tolist()}; "
        f"model input {tuple(model_input.shape)} {model_input.dtype} "
        f"in [{model_input.min():.1f}, {model_input.max():.1f}]"
    )


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="which dataset (default: mnist)")
    parser.add_argument("--out", default="samples.png", help="picture of random training digits")
    parser.add_argument("--count", type=int, default=10, help="how many random training digits to show")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ensure_files(args.data_dir, download=False, dataset=args.dataset)
    train_images, train_labels = load_split(args.data_dir, train=True, dataset=args.dataset)
    test_images, test_labels = load_split(args.data_dir, train=False, dataset=args.dataset)
    print(describe("train", train_images, train_labels))
    print(describe("test", test_images, test_labels))
    picks = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(args.seed))[: args.count]
    class_names = dataset_info(args.dataset).class_names
    titles = [f"#{i}: label {class_names[int(train_labels[i])]}" for i in picks]
    plot_digits(train_images[picks], titles).savefig(args.out, dpi=100)
    print(f"{args.count} random training digits with their labels: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
