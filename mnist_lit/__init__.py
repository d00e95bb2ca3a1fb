"""mnist_lit: the textbook's MNIST digit classifier, rebuilt as a PyTorch Lightning project.

The public API::

    from mnist_lit import MNISTDataModule, Classifier, MisclassifiedDigits, PredictionWriter, cli_main
    from mnist_lit.nets import MLP, LeNet5                         # the networks a Classifier can be given
    from mnist_lit import classify, load_classifier, mnist_style   # a trained model on your own digits
    from mnist_lit import OnnxClassifier                           # an exported model, without torch

Each name is imported when first used (``mnist_lit/lazy.py``): ``classify`` with an ``.onnx`` model runs
where torch is not installed.
"""

from importlib.metadata import version
from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

__version__ = version("mnist_lit")

_WHERE = {
    "Classifier": "mnist_lit.model",
    "FastClassifier": "mnist_lit.fast",
    "LeNet5": "mnist_lit.nets",
    "MLP": "mnist_lit.nets",
    "ConfusionMatrix": "mnist_lit.callbacks",
    "EpochTimer": "mnist_lit.callbacks",
    "FastMLPClassifier": "mnist_lit.fast",
    "MLPClassifier": "mnist_lit.model",
    "MNISTDataModule": "mnist_lit.data",
    "MisclassifiedDigits": "mnist_lit.callbacks",
    "MnistLitError": "mnist_lit.errors",
    "OnnxClassifier": "mnist_lit.onnx_model",
    "Prediction": "mnist_lit.predictions",
    "PredictionWriter": "mnist_lit.callbacks",
    "RunLogger": "mnist_lit.runs",
    "WholeCheckpointIO": "mnist_lit.runs",
    "classify": "mnist_lit.recognize",
    "cli_main": "mnist_lit.cli",
    "load_classifier": "mnist_lit.checkpoint",
    "mnist_style": "mnist_lit.data.preprocess",
}
__all__ = [
    "MLP",
    "Classifier",
    "ConfusionMatrix",
    "EpochTimer",
    "FastClassifier",
    "FastMLPClassifier",
    "LeNet5",
    "MLPClassifier",
    "MNISTDataModule",
    "MisclassifiedDigits",
    "MnistLitError",
    "OnnxClassifier",
    "Prediction",
    "PredictionWriter",
    "RunLogger",
    "WholeCheckpointIO",
    "classify",
    "cli_main",
    "load_classifier",
    "mnist_style",
]
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)

if TYPE_CHECKING:
    from mnist_lit.callbacks import ConfusionMatrix, EpochTimer, MisclassifiedDigits, PredictionWriter
    from mnist_lit.checkpoint import load_classifier
    from mnist_lit.cli import cli_main
    from mnist_lit.data import MNISTDataModule
    from mnist_lit.data.preprocess import mnist_style
    from mnist_lit.errors import MnistLitError
    from mnist_lit.fast import FastClassifier, FastMLPClassifier
    from mnist_lit.model import Classifier, MLPClassifier
    from mnist_lit.nets import MLP, LeNet5
    from mnist_lit.onnx_model import OnnxClassifier
    from mnist_lit.predictions import Prediction
    from mnist_lit.recognize import classify
    from mnist_lit.runs import RunLogger, WholeCheckpointIO
