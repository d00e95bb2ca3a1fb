"""The hyperparameter search's parts: the options searched, and how a trial shows its progress.

``scripts/search.py`` drives an Optuna study (the ``[track]`` extra); each trial is a `fit` in a process
of its own, whose :class:`EpochAccuracy` writes each epoch's validation accuracy for the search to report
to the study, which may prune the trial (the search then stops its process).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from mnist_lit.atomic import write_file


@dataclass(frozen=True)
class Option:
    """One searched option: where it goes in the config, and how a trial picks its value."""

    section: str  # "model" (under init_args) or "data"
    key: str
    suggest: Callable[[Any], Any]  # trial -> value

    @property
    def flag(self) -> str:
        return f"--{self.section}.{self.key}"


def _weight_decay(trial: Any) -> float:
    # only AdamW decouples weight decay; with Adam the search leaves it at 0 instead of wasting trials
    if trial.params.get("optimizer") != "adamw":
        return 0.0
    return trial.suggest_float("weight_decay", 1e-4, 0.2, log=True)


# the recipe options (docs/recipe.md), in the order a trial picks them (weight decay after the optimizer)
OPTIONS = {
    "lr": Option("model", "lr", lambda t: t.suggest_float("lr", 3e-4, 1e-2, log=True)),
    "lr_schedule": Option(
        "model", "lr_schedule", lambda t: t.suggest_categorical("lr_schedule", ["constant", "one_cycle", "cosine"])
    ),
    "optimizer": Option("model", "optimizer", lambda t: t.suggest_categorical("optimizer", ["adam", "adamw"])),
    "weight_decay": Option("model", "weight_decay", _weight_decay),
    "label_smoothing": Option("model", "label_smoothing", lambda t: t.suggest_float("label_smoothing", 0.0, 0.2)),
    "shift_pixels": Option("data", "shift_pixels", lambda t: t.suggest_int("shift_pixels", 0, 2)),
    "batch_size": Option("data", "batch_size", lambda t: t.suggest_categorical("batch_size", [32, 64, 128, 256])),
}


class EpochAccuracy(Callback):
    """Writes the validation accuracy of every epoch so far to a JSON list, for the search to read as it goes.

    Args:
        out: The JSON file, rewritten (whole, atomically) after each epoch's validation.
    """

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.values: list[float] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "val/acc" not in trainer.callback_metrics:  # validation runs before this hook, each epoch
            return
        self.values.append(float(trainer.callback_metrics["val/acc"]))
        write_file(self.out, json.dumps(self.values))
