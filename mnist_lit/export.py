"""`export`: a trained model as an ONNX file, written only once it gives the checkpoint's answers.

The graph takes ``images`` (float32 ``[N, channels, height, width]``, pixels in [0, 1], the DataModule's
form, any N) and gives ``probs`` (``[N, classes]``); the model's own normalisation is inside it. The model
card (dataset, class names, input shape, network, checkpoint, project version) goes into the file's metadata.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mnist_lit.atomic import write_file
from mnist_lit.errors import MnistLitError
from mnist_lit.model import Classifier
from mnist_lit.onnx_model import INPUT, OUTPUT, card_as_metadata

# what "the same answers" means: every predicted class equal, every probability within this
PROBABILITY_TOLERANCE = 1e-5


class Probabilities(nn.Module):
    """The classifier's forward pass (normalisation included) followed by the softmax: what is exported."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(images).softmax(dim=1)


@dataclass(frozen=True)
class Parity:
    """How an exported model's answers compare with the checkpoint's on the same images."""

    images: int
    classes_differ: int
    max_probability_difference: float

    @property
    def holds(self) -> bool:
        return self.classes_differ == 0 and self.max_probability_difference <= PROBABILITY_TOLERANCE


def export_onnx(classifier: Classifier, card: dict, output: str | Path, check_images: Tensor) -> Parity:
    """Export ``classifier`` to ``output`` if, on ``check_images``, it gives the checkpoint's answers.

    Raises:
        MnistLitError: ``onnx``, ``onnxscript`` or ``onnxruntime`` is missing, ``output`` cannot be written,
            or the exported model's answers differ (then nothing is written).
    """
    _check_installed()
    output = Path(output)
    _check_writable(output)
    model = Probabilities(classifier.cpu().eval()).eval()
    program = torch.onnx.export(
        model,
        (check_images[:2].cpu(),),
        dynamo=True,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        verbose=False,
    )
    proto = program.model_proto
    for key, value in card_as_metadata(card).items():
        proto.metadata_props.add(key=key, value=value)
    content = proto.SerializeToString()
    parity = compare(model, content, check_images.cpu())
    if not parity.holds:
        raise MnistLitError(
            f"The exported model does not give the checkpoint's answers on {parity.images:,} test images "
            f"({parity.classes_differ} predicted classes differ, probabilities up to "
            f"{parity.max_probability_difference:.2e} apart, against a tolerance of {PROBABILITY_TOLERANCE}), so "
            f"{output} was not written. Report it with the versions of torch, onnx and onnxruntime."
        )
    write_file(output, content, advice="Choose another path with --output FILE.onnx, or free some space.")
    return parity


def compare(model: nn.Module, content: bytes, images: Tensor) -> Parity:
    """The torch model's and the ONNX model's (run by ONNX Runtime) answers on the same images."""
    import onnxruntime

    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(images).numpy()
    got = session.run([OUTPUT], {INPUT: images.numpy()})[0]
    return Parity(
        images=len(images),
        classes_differ=int((expected.argmax(axis=1) != got.argmax(axis=1)).sum()),
        max_probability_difference=float(np.abs(expected - got).max()),
    )


def _check_installed() -> None:
    missing = []
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MnistLitError(
            f"`export` needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed. "
            'Install the onnx extra: pip install -e ".[onnx]" (onnx, onnxscript and onnxruntime).'
        )


def _check_writable(output: Path) -> None:
    """Fail before exporting, not after, when the file cannot be written where asked."""
    if output.is_dir():
        raise MnistLitError(f"--output {output} is a folder. Name the file to write, e.g. {output / 'model.onnx'}.")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output.parent):
            pass
    except OSError as err:
        raise MnistLitError(
            f"Cannot write {output} ({err.strerror or err}). Choose a writable path with --output FILE.onnx."
        ) from err
