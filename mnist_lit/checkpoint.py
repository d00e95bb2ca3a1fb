"""Reading a checkpoint written by `fit`, for the CLI and for other projects."""

from __future__ import annotations

from pathlib import Path

import torch

from mnist_lit.errors import MnistLitError
from mnist_lit.model import MLPClassifier


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


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> MLPClassifier:
    """The trained model in a checkpoint written by `fit`, on ``device``, in eval mode.

    Lightning's ``load_from_checkpoint`` builds the class the run trained (``FastMLPClassifier`` for the
    configs), loading plain data only (``weights_only=True``).
    """
    try:
        model = MLPClassifier.load_from_checkpoint(path, map_location=device, weights_only=True)
    except Exception as err:
        raise _unreadable(path, err) from err
    return model.eval()
