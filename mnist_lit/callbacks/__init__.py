"""Side outputs of a run: pictures and tables, kept out of the training logic."""

from mnist_lit.callbacks.confusion import ConfusionMatrix
from mnist_lit.callbacks.epoch_timer import EpochTimer
from mnist_lit.callbacks.misclassified import MisclassifiedDigits
from mnist_lit.callbacks.prediction_writer import PredictionWriter
from mnist_lit.callbacks.progress import BatchProgressBar

__all__ = ["BatchProgressBar", "ConfusionMatrix", "EpochTimer", "MisclassifiedDigits", "PredictionWriter"]
