"""Reading a checkpoint written by `fit`, for the CLI and for other projects."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from mnist_lit import __version__
from mnist_lit.data.registry import dataset_info
from mnist_lit.errors import MnistLitError
from mnist_lit.model import Classifier
from mnist_lit.nets.spec import net_spec
from mnist_lit.robustness import recorded


def _unreadable(path: str | Path, err: Exception) -> MnistLitError:
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return MnistLitError(
        f"{path} is not a readable checkpoint ({reason[:200]}): it is truncated, damaged or not a .ckpt file "
        "written by `fit`. Pass the checkpoints/last.ckpt of a finished run (on the command line, "
        "--ckpt_path last finds the newest)."
    )


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint as plain data only (``weights_only=True``), or say why it cannot be used."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise _unreadable(path, err) from err


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """The trained model in a checkpoint written by `fit` (this version's or an earlier one's), on ``device``,
    in eval mode.

    Lightning's ``load_from_checkpoint`` builds the classifier and the network the checkpoint records,
    loading plain data only (``weights_only=True``).
    """
    try:
        with warnings.catch_warnings():
            # Lightning's instantiator (lightning.pytorch.cli) calls a jsonargparse API that jsonargparse 4.49
            # deprecates: Lightning's to change, nothing a caller can do
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"lightning\.pytorch\.cli")
            model = Classifier.load_from_checkpoint(path, map_location=device, weights_only=True)
    except Exception as err:
        raise _unreadable(path, err) from err
    return model.eval()


def model_card(classifier: Classifier, dataset: str, checkpoint: str | Path) -> dict:
    """What a trained model is, as `serve` shows it at /model and `export` writes it into the ONNX file."""
    info = dataset_info(dataset)
    return {
        "dataset": dataset,
        "title": info.title,
        "class_names": list(classifier.hparams.class_names or info.class_names),
        "input_shape": list(info.input_shape),
        "image_shape": list(info.image_shape),
        "net": net_spec(classifier.hparams.net),
        "normalize": bool(classifier.hparams.normalize),
        "checkpoint": str(checkpoint),
        "version": __version__,
    } | ({"robustness": scores} if (scores := recorded(checkpoint)) else {})
