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
    train_size: int = 60_000

    @property
    def num_features(self) -> int:
        """Inputs of the MLP: every pixel of every channel."""
        return int(torch.Size(self.image_shape).numel())


DATASETS = {
    "mnist": DatasetInfo("MNIST", (28, 28), tuple(str(digit) for digit in range(10)), MNIST),
    "fashion_mnist": DatasetInfo("Fashion-MNIST", (28, 28), tuple(FashionMNIST.classes), FashionMNIST),
    "kmnist": DatasetInfo("KMNIST", (28, 28), tuple(KMNIST.classes), KMNIST),
    "cifar10": DatasetInfo(
        "CIFAR-10",
        (3, 32, 32),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        CIFAR10,
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
