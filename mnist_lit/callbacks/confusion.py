"""After `test`, the confusion matrix (a picture and a table) and each class's accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from mnist_lit.distributed import gather_objects
from mnist_lit.plots import plot_confusion


class ConfusionMatrix(L.Callback):
    """Write ``confusion/confusion_matrix.csv`` and ``.png`` and ``confusion/per_class.csv`` after `test`.

    Rows are true classes, columns predicted ones; the cells sum to the test-set size. The per-class
    table gives each class's count, correct predictions and accuracy. The picture also goes to TensorBoard.
    """

    def __init__(self) -> None:
        self.matrix = torch.zeros(0, 0, dtype=torch.long)

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        classes = pl_module.hparams.num_classes
        self.matrix = torch.zeros(classes, classes, dtype=torch.long, device=pl_module.device)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        classes = len(self.matrix)
        cells = batch[1] * classes + outputs["logits"].argmax(dim=1)
        self.matrix += torch.bincount(cells, minlength=classes * classes).reshape(classes, classes)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # every rank asks for log_dir (asking on rank zero alone can deadlock) and gathers; rank zero writes
        out_dir = Path(trainer.log_dir or trainer.default_root_dir) / "confusion"
        self.matrix = sum(gather_objects(self.matrix.cpu()))
        if not trainer.is_global_zero:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        names = pl_module.class_names
        with open(out_dir / "confusion_matrix.csv", "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["true \\ predicted", *names])
            writer.writerows([name, *row] for name, row in zip(names, self.matrix.tolist()))
        with open(out_dir / "per_class.csv", "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["class", "name", "count", "correct", "accuracy"])
            for index, (name, row) in enumerate(zip(names, self.matrix)):
                count, correct = int(row.sum()), int(row[index])
                writer.writerow([index, name, count, correct, round(correct / count, 6) if count else ""])
        fig = plot_confusion(self.matrix, names)
        fig.savefig(out_dir / "confusion_matrix.png", dpi=100)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_figure("test/confusion_matrix", fig, global_step=trainer.global_step)
