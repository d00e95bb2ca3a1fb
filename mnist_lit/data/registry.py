"""The one registry of the datasets `--data.dataset` names: title, image shape, classes, torchvision class.

Every other module looks a dataset up here, and only here is a name checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.datasets import CIFAR10, KMNIST, MNIST, FashionMNIST, VisionDataset

from mnist_lit.errors import MnistLitError


@dataclass(frozen=True)
class DatasetInfo:
    """What the model and the reports need to know of a dataset."""

    title: str
    image_shape: tuple[int, ...]  # (height, width) for grayscale, (channels, height, width) for colour
    class_names: tuple[str, ...]
    torchvision: type[VisionDataset]  # the class that reads its files, and names the folder they live in
    mean: tuple[float, ...]  # of each channel over the training images, pixels in [0, 1]: what `normalize` uses
    std: tuple[float, ...]
    train_size: int = 60_000

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One image as the model takes it: ``(channels, height, width)``."""
        return (1, *self.image_shape) if len(self.image_shape) == 2 else tuple(self.image_shape)

    @property
    def num_features(self) -> int:
        """Every pixel of every channel (what an MLP's first layer takes)."""
        return int(torch.Size(self.image_shape).numel())


# the means and standard deviations are of the official training images (tests/test_datasets.py recomputes
# MNIST's from the files in the repository)
DATASETS = {
    "mnist": DatasetInfo("MNIST", (28, 28), tuple(str(digit) for digit in range(10)), MNIST, (0.1307,), (0.3081,)),
    "fashion_mnist": DatasetInfo(
        "Fashion-MNIST", (28, 28), tuple(FashionMNIST.classes), FashionMNIST, (0.2860,), (0.3530,)
    ),
    "kmnist": DatasetInfo("KMNIST", (28, 28), tuple(KMNIST.classes), KMNIST, (0.1918,), (0.3483,)),
    "cifar10": DatasetInfo(
        "CIFAR-10",
        (3, 32, 32),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        CIFAR10,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
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
