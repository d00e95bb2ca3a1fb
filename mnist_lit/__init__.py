"""mnist_lit: the textbook's MNIST digit classifier, rebuilt as a PyTorch Lightning project.

The public API::

    from mnist_lit import MNISTDataModule, MLPClassifier, MisclassifiedDigits, PredictionWriter, cli_main
    from mnist_lit import classify, load_classifier, mnist_style   # a trained model on your own digits
"""

from importlib.metadata import version

from mnist_lit.callbacks import ConfusionMatrix, EpochTimer, MisclassifiedDigits, PredictionWriter
from mnist_lit.checkpoint import load_classifier
from mnist_lit.cli import cli_main
from mnist_lit.data import MNISTDataModule, mnist_style
from mnist_lit.errors import MnistLitError
from mnist_lit.fast import FastMLPClassifier
from mnist_lit.model import MLPClassifier
from mnist_lit.network import MLP
from mnist_lit.predictions import Prediction
from mnist_lit.recognize import classify
from mnist_lit.runs import RunLogger, WholeCheckpointIO

__version__ = version("mnist_lit")

__all__ = [
    "MLP",
    "ConfusionMatrix",
    "EpochTimer",
    "FastMLPClassifier",
    "MLPClassifier",
    "MNISTDataModule",
    "MisclassifiedDigits",
    "MnistLitError",
    "Prediction",
    "PredictionWriter",
    "RunLogger",
    "WholeCheckpointIO",
    "classify",
    "cli_main",
    "load_classifier",
    "mnist_style",
]
