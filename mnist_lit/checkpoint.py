"""Reading a checkpoint written by `fit`, for the CLI and for other projects."""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from mnist_lit.errors import MnistLitError
from mnist_lit.model import MLPClassifier


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint as plain data only (``weights_only=True``), or say why it cannot be used."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise MnistLitError(
            f"{path} is not a readable checkpoint ({reason[:200]}): it is truncated, damaged or not a .ckpt file "
            "written by `fit`. Pass the checkpoints/last.ckpt of a finished run (on the command line, "
            "--ckpt_path last finds the newest)."
        ) from err


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> MLPClassifier:
    """The trained model in a checkpoint written by `fit`, on ``device``, in eval mode."""
    checkpoint = read_checkpoint(path)
    # the CLI also saves how it built the model (`_instantiator`); only the constructor's own arguments count
    arguments = inspect.signature(MLPClassifier).parameters
    model = MLPClassifier(**{k: v for k, v in checkpoint["hyper_parameters"].items() if k in arguments})
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval()
