"""Where the datasets of the registry (``registry.py``) get their files from, and how their splits are read.

MNIST, Fashion-MNIST and KMNIST are IDX files (``raw_files``); CIFAR-10 is pickled batches
(``cifar_files``). Every one is read into the same form: uint8 images ``[N, *image_shape]`` and int64
labels, which the DataModule flattens for the MLP.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from mnist_lit.data import cifar_files, raw_files
from mnist_lit.data.registry import DATASETS, DatasetInfo, dataset_info

__all__ = ["DATASETS", "DatasetInfo", "dataset_info", "ensure_files", "install_files", "load_split"]


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
        return cifar_files.read_batches(data_dir, train)
    split = dataset_info(dataset).torchvision(data_dir, train=train, download=False)
    return split.data, split.targets
