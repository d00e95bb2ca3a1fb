"""The teacher a student distils from (``--model.teacher``): a trained checkpoint, frozen, beside the student."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.utilities import rank_zero_info

from mnist_lit.checkpoint import load_classifier
from mnist_lit.errors import MissingFileError, MnistLitError
from mnist_lit.model import Classifier
from mnist_lit.nets.spec import describe


def load_teacher(path: str, student: Classifier) -> Classifier:
    """The checkpoint at ``path`` on the student's device, in eval mode, with no gradients; it must take the
    student's images and answer with its classes."""
    if not Path(path).is_file():
        raise MissingFileError(
            f"--model.teacher {path} does not exist: distillation needs a trained teacher's checkpoint. Train it "
            "first (python -m mnist_lit fit --config configs/cnn_robust.yaml), then pass its checkpoint, e.g. "
            "--model.teacher logs/cnn_robust/version_0/checkpoints/last.ckpt."
        )
    teacher = load_classifier(path, device=student.device).requires_grad_(False)
    given = (list(teacher.hparams.input_shape), teacher.hparams.num_classes)
    wanted = (list(student.hparams.input_shape), student.hparams.num_classes)
    if given != wanted:
        raise MnistLitError(
            f"--model.teacher {path} takes images of shape {given[0]} and answers with {given[1]} classes, but this "
            f"model takes {wanted[0]} and {wanted[1]}: a teacher must be trained on the same dataset. Pass a "
            "checkpoint of this dataset (--data.dataset)."
        )
    rank_zero_info(f"Distilling from {path}: {describe(teacher.hparams.net)}.")
    return teacher
