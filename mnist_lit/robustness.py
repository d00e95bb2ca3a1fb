"""How a trained model reads the corruption suite (``mnist_lit/corruptions.py``): scores, reports, and the
record beside the checkpoint that puts the mean in the model card."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from mnist_lit.atomic import write_figure, write_file, write_rows
from mnist_lit.corruptions import CORRUPTIONS, SUITE_VERSION, corrupt
from mnist_lit.tracking import publish

CLEAN = "clean"  # the test images as they are, scored beside the suite for reference
CSV_HEADER = ("kind", "accuracy", "errors", "images")


@dataclass(frozen=True)
class SuiteScores:
    """Accuracy on the clean test images and on each corruption, with the answers shown in the grid."""

    accuracy: dict[str, float]  # CLEAN first, then each kind of the suite
    images: int
    examples: dict[str, tuple[Tensor, Tensor]]  # per kind: the first images as corrupted, the model's answers
    labels: Tensor  # the true classes of the examples

    @property
    def kinds(self) -> dict[str, float]:
        """The corruptions' accuracies, without the clean score."""
        return {kind: value for kind, value in self.accuracy.items() if kind != CLEAN}

    @property
    def mean(self) -> float:
        """The suite's score: the mean accuracy over its kinds."""
        return sum(self.kinds.values()) / len(self.kinds)

    @property
    def worst(self) -> tuple[str, float]:
        return min(self.kinds.items(), key=lambda item: item[1])

    def summary(self) -> dict:
        """What the model card says of it."""
        kind, accuracy = self.worst
        return {"suite": SUITE_VERSION, "images": self.images, "clean": round(self.accuracy[CLEAN], 4),
                "mean": round(self.mean, 4), "worst": {"kind": kind, "accuracy": round(accuracy, 4)}}  # fmt: skip


@torch.inference_mode()
def score_suite(
    model: nn.Module, images: Tensor, labels: Tensor, examples: int = 8, batch_size: int = 1000
) -> SuiteScores:
    """Score ``model`` (images ``[N, 1, 28, 28]`` in [0, 1] to logits) on the clean images and every kind.

    The corruptions are made on the CPU (so the suite is the same on any device), then scored on the
    model's device.
    """
    device = next(model.parameters()).device
    images, labels = images.cpu(), labels.cpu()
    accuracy, shown = {}, {}
    for kind in (CLEAN, *CORRUPTIONS):
        corrupted = images if kind == CLEAN else corrupt(images, kind)
        predicted = torch.cat([model(batch.to(device)).argmax(1).cpu() for batch in corrupted.split(batch_size)])
        accuracy[kind] = (predicted == labels).float().mean().item()
        shown[kind] = (corrupted[:examples], predicted[:examples])
    return SuiteScores(accuracy, len(labels), shown, labels[:examples])


def write_reports(trainer: L.Trainer, scores: SuiteScores, folder: Path, class_names: list[str]) -> list[Path]:
    """``robustness.csv``, ``robustness_examples.png`` (kinds × examples) and ``robustness.png`` (bars) in
    ``folder``; the scores and pictures to every logger of ``trainer``."""
    folder.mkdir(parents=True, exist_ok=True)
    table, grid, bars = folder / "robustness.csv", folder / "robustness_examples.png", folder / "robustness.png"
    rows = [(kind, f"{value:.4f}", round((1 - value) * scores.images), scores.images)
            for kind, value in scores.accuracy.items()]  # fmt: skip
    write_rows(table, [CSV_HEADER, *rows, ("mean", f"{scores.mean:.4f}", "", scores.images)])
    examples, accuracy = plot_examples(scores, class_names), plot_accuracy(scores)
    write_figure(grid, examples)
    write_figure(bars, accuracy)
    metrics = {f"robustness/{kind}": value for kind, value in scores.accuracy.items()}
    for logger in trainer.loggers:
        logger.log_metrics({**metrics, "robustness/mean": scores.mean}, step=0)
        logger.save()
    publish(trainer, "robustness/examples", examples, [table, grid])
    publish(trainer, "robustness/accuracy", accuracy, [bars])
    return [table, grid, bars]


def plot_examples(scores: SuiteScores, class_names: list[str]) -> Figure:
    """One row per kind: its first digits as corrupted, each titled with the model's answer (red: wrong)."""
    kinds, columns = list(scores.examples), len(scores.labels)
    fig = Figure(figsize=(1.1 * columns + 1.6, 1.15 * len(kinds)))
    for row, kind in enumerate(kinds):
        pictures, answers = scores.examples[kind]
        for column, (picture, answer, truth) in enumerate(zip(pictures, answers, scores.labels)):
            ax = fig.add_subplot(len(kinds), columns, row * columns + column + 1)
            ax.imshow(picture[0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(class_names[answer], fontsize=9, color="black" if answer == truth else "red", pad=2)
            if column == 0:
                ax.set_ylabel(kind, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("The model's answers on the corruption suite (red: wrong)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the title above the first row
    return fig


def plot_accuracy(scores: SuiteScores) -> Figure:
    """A bar per kind, with the suite's mean and the clean accuracy as lines."""
    kinds = scores.kinds
    fig = Figure(figsize=(7, 0.3 * len(kinds) + 1.5))
    ax = fig.add_subplot()
    ax.barh(list(kinds)[::-1], list(kinds.values())[::-1], color="tab:blue")
    ax.axvline(scores.mean, color="black", linestyle="--", label=f"mean {scores.mean:.3f}")
    ax.axvline(scores.accuracy[CLEAN], color="tab:green", linestyle=":", label=f"clean {scores.accuracy[CLEAN]:.3f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"accuracy on {scores.images:,} test digits ({SUITE_VERSION})")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def record_path(checkpoint: str | Path) -> Path:
    """Where the suite's score of a checkpoint is kept: beside it, ``last.ckpt.robustness.json``."""
    return Path(f"{checkpoint}.robustness.json")


def _digest(path: str | Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def record(checkpoint: str | Path, scores: SuiteScores) -> Path:
    """Keep the summary beside the checkpoint, with the checkpoint's SHA-256 so that a retrained one drops it."""
    path = record_path(checkpoint)
    write_file(path, json.dumps({**scores.summary(), "sha256": _digest(checkpoint)}, indent=2).encode())
    return path


def recorded(checkpoint: str | Path) -> dict | None:
    """The summary kept beside ``checkpoint``, if there is one and it is of this very file."""
    path = record_path(checkpoint)
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.pop("sha256", None) != _digest(checkpoint):
        return None
    return saved
