"""A model exported by `export`, run by ONNX Runtime: classifying digits without torch.

Needs NumPy and ``onnxruntime`` only (``pip install onnxruntime``, or the ``[onnx]`` extra). The model
card that `export` wrote into the file's metadata (dataset, class names, input shape, network, checkpoint,
project version) comes back as :attr:`OnnxClassifier.card`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_lit.errors import MissingFileError, MnistLitError

INPUT = "images"
OUTPUT = "probs"
# the card's keys whose values are JSON (the ONNX metadata holds strings only); earlier versions wrote
# hidden_sizes and input_size (their graphs take flattened images) where this one writes net and input_shape
JSON_KEYS = (
    "class_names",
    "image_shape",
    "input_shape",
    "net",
    "normalize",
    "robustness",
    "hidden_sizes",
    "input_size",
)
REQUIRED_KEYS = ("class_names", "image_shape", "normalize")


def is_onnx(path: object) -> bool:
    """Whether a model argument names an exported model (an ``.onnx`` file) rather than a checkpoint."""
    return isinstance(path, (str, Path)) and str(path).lower().endswith(".onnx")


def card_as_metadata(card: dict) -> dict[str, str]:
    """A model card as ONNX metadata: every value a string, JSON where it is not one."""
    return {key: json.dumps(value) if key in JSON_KEYS else str(value) for key, value in card.items()}


class OnnxClassifier:
    """An exported model: ``probabilities(images)`` for images, and the card it was exported with.

    Args:
        path: An ``.onnx`` file written by ``python -m mnist_lit export``.
        threads: ONNX Runtime's threads per call (0: its default, one per core).
    """

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise MnistLitError(
                "Classifying with an .onnx model needs ONNX Runtime, which is not installed. Install it with "
                'pip install onnxruntime (or the project\'s extra: pip install -e ".[onnx]").'
            ) from err
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingFileError(
                f"{path} does not exist. Export a model first: python -m mnist_lit export --config CONFIG "
                "--ckpt_path last --output model.onnx"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph/... types, not exported
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise MnistLitError(
                f"{path} is not a readable ONNX model ({reason}): it is truncated, damaged or not an ONNX file. "
                "Export it again with python -m mnist_lit export --config CONFIG --ckpt_path last --output FILE."
            ) from err
        metadata = self.session.get_modelmeta().custom_metadata_map
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if names != ([INPUT], [OUTPUT]) or not set(REQUIRED_KEYS) <= set(metadata):
            raise MnistLitError(
                f"{path} is an ONNX model, but not one written by mnist_lit's `export` (it takes {names[0]} and "
                f"gives {names[1]}, and its metadata lacks the model card). Export the model with "
                "python -m mnist_lit export."
            )
        self.card = {key: json.loads(value) if key in JSON_KEYS else value for key, value in metadata.items()}

    @property
    def class_names(self) -> list[str]:
        return list(self.card["class_names"])

    @property
    def input_shape(self) -> list[int]:
        """One image as the graph takes it: ``[channels, height, width]``, or ``[pixels]`` (earlier exports)."""
        return list(self.card.get("input_shape") or [self.card["input_size"]])

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, classes]`` of images (any shape holding ``input_shape``'s pixels each,
        ``[N, 28, 28]`` say) with pixels in [0, 1]."""
        images = np.ascontiguousarray(images, dtype=np.float32).reshape(len(images), *self.input_shape)
        return self.session.run([OUTPUT], {INPUT: images})[0]
