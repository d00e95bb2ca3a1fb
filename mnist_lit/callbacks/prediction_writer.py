"""Persist what `predict` computes: the CLI would otherwise discard it."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor


class PredictionWriter(BasePredictionWriter):
    """Write ``predictions.csv`` (index, predicted class, confidence) under the run's log dir.

    Args:
        output: File to write instead of ``LOG_DIR/predictions.csv``.
    """

    def __init__(self, output: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output = output

    def write_on_epoch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        log_dir = Path(trainer.log_dir or trainer.default_root_dir)
        path = Path(self.output) if self.output else log_dir / "predictions.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        preds: Tensor = torch.cat([batch["pred"] for batch in predictions]).cpu()
        confidence: Tensor = torch.cat([batch["probs"].max(dim=1).values for batch in predictions]).cpu()
        with open(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(("index", "pred", "confidence"))
            writer.writerows(zip(range(len(preds)), preds.tolist(), [round(c, 6) for c in confidence.tolist()]))
        rank_zero_info(f"{len(preds)} predictions written to {path}")
