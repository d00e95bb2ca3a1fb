"""Where the datasets of the registry (``registry.py``) get their files from, and how their splits are read.

MNIST, Fashion-MNIST and KMNIST are IDX files (``raw_files``); CIFAR-10 is pickled batches
(``cifar_files``). Every one is read into the same form: uint8 images ``[N, *image_shape]`` and int64
labels, which the DataModule turns into floats ``[N, channels, height, width]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from mnist_lit.data import cifar_files, raw_files
from mnist_lit.data.registry import DATASETS, DatasetInfo, dataset_info

__all__ = ["DATASETS", "DatasetInfo", "dataset_info", "ensure_files", "install_files", "load_split", "save_npy"]


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


def save_npy(data_dir: str | Path, out_dir: str | Path, dataset: str = "mnist") -> dict[str, Path]:
    """Save the dataset as the textbook keeps it: ``x_train``, ``y_train``, ``x_test``, ``y_test`` ``.npy`` files
    (uint8 images as stored, int64 labels) in ``out_dir``; returns each array's path by name."""
    ensure_files(data_dir, download=False, dataset=dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, train in (("train", True), ("test", False)):
        images, labels = load_split(data_dir, train=train, dataset=dataset)
        for name, array in ((f"x_{split}", images), (f"y_{split}", labels)):
            paths[name] = out_dir / f"{name}.npy"
            np.save(paths[name], array.numpy())
    return paths
