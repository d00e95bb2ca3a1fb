"""Persist what `predict` computes: the CLI would otherwise discard it."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from mnist_lit.predictions import Prediction, format_table, predictions_from, write_csv

# the rows carry the inputs' positions (see `predict_step`), so Lightning's own batch indices are not needed
warnings.filterwarnings("ignore", message="Couldn't infer the batch indices fetched from your dataloader")


class PredictionWriter(BasePredictionWriter):
    """Write ``predictions.csv`` under the run's log dir and print its first rows.

    One row per input, in input order: file (or ``source[i]``), predicted digit, confidence, the
    runners-up with their probabilities, and the error of an input that could not be read. The names
    and errors come from the DataModule's ``predict_inputs``; without them rows are named by position.

    Args:
        output: File to write instead of ``LOG_DIR/predictions.csv`` (the CLI's ``--output``).
        show: How many rows to print to the terminal.
    """

    def __init__(self, output: str | None = None, show: int = 10) -> None:
        super().__init__(write_interval="epoch")
        self.output = output
        self.show = show
        self.predictions: list[Prediction] = []
        self.path: Path | None = None

    def write_on_epoch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        # every rank asks for log_dir (asking on rank zero alone can deadlock); only rank zero writes
        log_dir = Path(trainer.log_dir or trainer.default_root_dir)
        path = Path(self.output) if self.output else log_dir / "predictions.csv"
        positions = torch.cat([batch["positions"] for batch in predictions]).cpu()
        probs = torch.cat([batch["probs"] for batch in predictions]).cpu()
        inputs = getattr(trainer.datamodule, "predict_inputs", None)
        names = inputs.names if inputs is not None else [str(i) for i in range(int(positions.max()) + 1)]
        errors = inputs.errors if inputs is not None else {}
        self.predictions = predictions_from(names, positions.numpy(), probs.float().numpy(), errors)
        self.path = path
        if trainer.is_global_zero:
            write_csv(self.predictions, path, pl_module.class_names)

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # here, not at epoch end, so the table comes after the progress bar has closed
        if not trainer.is_global_zero:
            return
        failed = sum(prediction.error is not None for prediction in self.predictions)
        print(format_table(self.predictions, self.show, pl_module.class_names))
        unread = f" ({failed} could not be read)" if failed else ""
        print(f"{len(self.predictions)} rows written to {self.path}{unread}")
