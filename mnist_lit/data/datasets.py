"""The datasets `--data.dataset` names: their images' shape, their classes, and where their files come from.

MNIST, Fashion-MNIST and KMNIST are IDX files (``raw_files``); CIFAR-10 is pickled batches
(``cifar_files``). Every one is read into the same form: uint8 images ``[N, *image_shape]`` and int64
labels, which the DataModule flattens for the MLP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torchvision.datasets import KMNIST, FashionMNIST

from mnist_lit.data import cifar_files, raw_files
from mnist_lit.errors import MnistLitError


@dataclass(frozen=True)
class DatasetInfo:
    """What the model and the reports need to know of a dataset."""

    title: str
    image_shape: tuple[int, ...]  # (height, width) for grayscale, (channels, height, width) for colour
    class_names: tuple[str, ...]
    train_size: int = 60_000

    @property
    def num_features(self) -> int:
        """Inputs of the MLP: every pixel of every channel."""
        return int(torch.Size(self.image_shape).numel())


DATASETS = {
    "mnist": DatasetInfo("MNIST", (28, 28), tuple(str(digit) for digit in range(10))),
    "fashion_mnist": DatasetInfo("Fashion-MNIST", (28, 28), tuple(FashionMNIST.classes)),
    "kmnist": DatasetInfo("KMNIST", (28, 28), tuple(KMNIST.classes)),
    "cifar10": DatasetInfo(
        "CIFAR-10",
        (3, 32, 32),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        train_size=50_000,
    ),
}


def dataset_info(dataset: str) -> DatasetInfo:
    """The dataset's description, or a clear error naming the choices."""
    if dataset not in DATASETS:
        raise MnistLitError(
            f"Unknown dataset {dataset!r}. Choose one of: {', '.join(DATASETS)} (--data.dataset, --dataset)."
        )
    return DATASETS[dataset]


def ensure_files(data_dir: str | Path, download: bool = True, dataset: str = "mnist") -> Path:
    """Make sure the dataset's verified files are where torchvision looks; download only what is missing."""
    dataset_info(dataset)
    if dataset == "cifar10":
        return cifar_files.ensure_cifar_files(data_dir, download=download)
    return raw_files.ensure_raw_files(data_dir, download=download, dataset=dataset)


def install_files(source: str | Path, data_dir: str | Path, dataset: str = "mnist") -> Path:
    """Lay out the dataset's files from ``source`` (only read) under ``data_dir``, verified."""
    dataset_info(dataset)
    if dataset == "cifar10":
        return cifar_files.install_cifar_files(source, data_dir)
    return raw_files.install_raw_files(source, data_dir, dataset)


def load_split(data_dir: str | Path, train: bool, dataset: str = "mnist") -> tuple[Tensor, Tensor]:
    """The official training or test split as uint8 images ``[N, *image_shape]`` and int64 labels."""
    dataset_info(dataset)
    if dataset == "cifar10":
        images, labels = cifar_files.read_batches(data_dir, train)
        return torch.from_numpy(images), torch.from_numpy(labels)
    split = raw_files.IDX_DATASETS[dataset][1](data_dir, train=train, download=False)
    return split.data, split.targets
