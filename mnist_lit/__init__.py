"""mnist_lit: the textbook's MNIST digit classifier, rebuilt as a PyTorch Lightning project.

The public API::

    from mnist_lit import MNISTDataModule, MLPClassifier, MisclassifiedDigits, PredictionWriter, cli_main
"""

from mnist_lit.callbacks import EpochTimer, MisclassifiedDigits, PredictionWriter
from mnist_lit.cli import cli_main
from mnist_lit.data import MNISTDataModule
from mnist_lit.errors import MnistLitError
from mnist_lit.model import MLPClassifier
from mnist_lit.network import MLP

__all__ = [
    "MLP",
    "EpochTimer",
    "MLPClassifier",
    "MNISTDataModule",
    "MisclassifiedDigits",
    "MnistLitError",
    "PredictionWriter",
    "cli_main",
]
