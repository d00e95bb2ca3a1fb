"""Classify digits from other code in one call, without a Trainer::

from mnist_lit import classify

for answer in classify("logs/two_hidden/version_0/checkpoints/last.ckpt", ["seven.png", "scans/"]):
    print(answer.name, answer.pred, answer.confidence, answer.error)

With an exported model (``classify("model.onnx", ...)``) this runs on ONNX Runtime, and neither this
module nor what it reads and preprocesses with imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from mnist_lit.data.digit_inputs import DigitInputs, from_array, from_pictures, read_digits
from mnist_lit.data.pictures import DEFAULT_MAX_MEGAPIXELS
from mnist_lit.onnx_model import OnnxClassifier, is_onnx
from mnist_lit.predictions import Prediction, predictions_from

if TYPE_CHECKING:
    from mnist_lit.model import Classifier

Inputs = str | Path | Sequence[str | Path] | np.ndarray | Any | Image.Image | Sequence[Image.Image] | DigitInputs


def as_digit_inputs(inputs: Inputs, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> DigitInputs:
    """Sort out what was passed: arrays are MNIST-format digits, pictures and files are made MNIST-style."""
    if isinstance(inputs, DigitInputs):
        return inputs
    if isinstance(inputs, Image.Image):
        return from_pictures([inputs])
    if hasattr(inputs, "__array__"):  # a NumPy array or a torch tensor
        return from_array(inputs)
    if not isinstance(inputs, (str, Path)) and inputs and all(isinstance(item, Image.Image) for item in inputs):
        return from_pictures(list(inputs))
    return read_digits(inputs, max_megapixels)


def classify(
    model: Classifier | OnnxClassifier | str | Path,
    inputs: Inputs,
    batch_size: int = 1000,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
) -> list[Prediction]:
    """Classify digits with a trained model; one :class:`Prediction` per input, in input order.

    Args:
        model: A trained :class:`Classifier` or the path of a checkpoint written by `fit`; or an exported
            model (:class:`OnnxClassifier`, or the path of an ``.onnx`` file written by `export`), which
            runs on ONNX Runtime without torch.
        inputs: What to classify: a path or a list of paths (image files, folders of them, ``.npy`` arrays
            or IDX files, as `predict`'s ``--data.predict_path``); one Pillow image or a list of them; or an
            array or tensor of MNIST-format digits (``[N, 28, 28]`` or ``[N, 784]``, pixels 0-255 or in [0, 1]).
            Pictures and image files are cropped, scaled and centred as MNIST's digits were
            (:func:`mnist_lit.data.mnist_style`); arrays are taken as they are.
        batch_size: Digits per forward pass.
        max_megapixels: An image file of more megapixels gets a ``Prediction`` with ``error`` set instead of
            being decoded (decided from its header), so no file costs more than a bounded amount of memory.

    An image that cannot be read gets a ``Prediction`` with ``error`` set, and the others are still
    classified; a path that does not exist, or an array of the wrong shape, raises ``MnistLitError``.
    """
    if is_onnx(model):
        model = OnnxClassifier(model)
    probabilities = model.probabilities if isinstance(model, OnnxClassifier) else _torch_probabilities(model)
    digits = as_digit_inputs(inputs, max_megapixels)
    images = digits.images
    probs = [probabilities(images[start : start + batch_size]) for start in range(0, len(images), batch_size)]
    probs_all = np.concatenate(probs) if probs else np.empty((0, 1), dtype=np.float32)  # nothing readable
    return predictions_from(digits.names, digits.positions, probs_all, digits.errors)


def _torch_probabilities(model: Classifier | str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """The checkpoint's (or the module's) class probabilities as a function of NumPy images."""
    import torch

    from mnist_lit.checkpoint import load_classifier

    classifier = load_classifier(model) if isinstance(model, (str, Path)) else model
    classifier.eval()

    def probabilities(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            shaped = torch.from_numpy(images).reshape(len(images), *classifier.hparams.input_shape)
            logits = classifier(shaped.to(classifier.device))
            return logits.softmax(dim=1).float().cpu().numpy()

    return probabilities
