"""Classify digits from other code in one call, without a Trainer::

from mnist_lit import classify

for answer in classify("logs/two_hidden/version_0/checkpoints/last.ckpt", ["seven.png", "scans/"]):
    print(answer.name, answer.pred, answer.confidence, answer.error)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from mnist_lit.checkpoint import load_classifier
from mnist_lit.data.digit_inputs import DigitInputs, from_array, from_pictures, read_digits
from mnist_lit.model import MLPClassifier
from mnist_lit.predictions import Prediction, predictions_from

Inputs = str | Path | Sequence[str | Path] | np.ndarray | Tensor | Image.Image | Sequence[Image.Image] | DigitInputs


def as_digit_inputs(inputs: Inputs) -> DigitInputs:
    """Sort out what was passed: arrays are MNIST-format digits, pictures and files are made MNIST-style."""
    if isinstance(inputs, DigitInputs):
        return inputs
    if isinstance(inputs, (np.ndarray, Tensor)):
        return from_array(inputs)
    if isinstance(inputs, Image.Image):
        return from_pictures([inputs])
    if not isinstance(inputs, (str, Path)) and inputs and all(isinstance(item, Image.Image) for item in inputs):
        return from_pictures(list(inputs))
    return read_digits(inputs)


def classify(model: MLPClassifier | str | Path, inputs: Inputs, batch_size: int = 1000) -> list[Prediction]:
    """Classify digits with a trained model; one :class:`Prediction` per input, in input order.

    Args:
        model: A trained :class:`MLPClassifier`, or the path of a checkpoint written by `fit`.
        inputs: What to classify: a path or a list of paths (image files, folders of them, ``.npy`` arrays
            or IDX files, as `predict`'s ``--data.predict_path``); one Pillow image or a list of them; or an
            array or tensor of MNIST-format digits (``[N, 28, 28]`` or ``[N, 784]``, pixels 0-255 or in [0, 1]).
            Pictures and image files are cropped, scaled and centred as MNIST's digits were
            (:func:`mnist_lit.data.mnist_style`); arrays are taken as they are.
        batch_size: Digits per forward pass.

    An image that cannot be read gets a ``Prediction`` with ``error`` set, and the others are still
    classified; a path that does not exist, or an array of the wrong shape, raises ``MnistLitError``.
    """
    classifier = model if isinstance(model, MLPClassifier) else load_classifier(model)
    digits = as_digit_inputs(inputs)
    classifier.eval()
    with torch.inference_mode():
        probs = [
            classifier(batch.flatten(1).to(classifier.device)).softmax(dim=1).cpu()
            for batch in digits.images.split(batch_size)
        ]
    probs_all = torch.cat(probs) if probs else torch.empty(0, classifier.hparams.num_classes)
    return predictions_from(digits.names, digits.positions, probs_all, digits.errors)
