"""After `test`, dump every misclassified test digit: a table of all of them and a picture of the first."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from mnist_lit.atomic import write_figure, write_rows
from mnist_lit.distributed import gather_objects
from mnist_lit.plots import plot_digits
from mnist_lit.tracking import publish

CSV_HEADER = ("index", "true", "pred", "confidence")
DEFAULT_IMAGE_SHAPE = (28, 28)


class MisclassifiedDigits(L.Callback):
    """Write ``misclassified/misclassified.csv`` and ``.png`` under the run's log dir after `test`.

    The CSV has one row per misclassified test digit (its index in the test set, true and predicted
    label, and the model's confidence in its prediction); the PNG shows the first ``max_images`` of
    them and is also logged to TensorBoard.

    Args:
        max_images: How many digits the picture shows at most; the CSV always lists all of them.
        columns: Digits per row of the picture.
        image_shape: The shape to show a flattened image as: ``(height, width)`` or ``(channels, height,
            width)``. ``None`` takes the DataModule's ``image_shape`` (28×28 when it has none).
    """

    def __init__(self, max_images: int = 25, columns: int = 5, image_shape: tuple[int, ...] | None = None) -> None:
        self.max_images = max_images
        self.columns = columns
        self.image_shape = image_shape
        self._rows: list[tuple[int, int, int, float]] = []
        self._images: list[Tensor] = []
        self._seen = 0
        self._shape = image_shape or DEFAULT_IMAGE_SHAPE

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._rows, self._images, self._seen = [], [], 0
        self._shape = self.image_shape or getattr(trainer.datamodule, "image_shape", DEFAULT_IMAGE_SHAPE)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        images, labels = batch
        confidence, preds = outputs["logits"].softmax(dim=1).max(dim=1)
        wrong = (preds != labels).nonzero().squeeze(1)
        for i, true, pred, conf in zip(
            wrong.tolist(), labels[wrong].tolist(), preds[wrong].tolist(), confidence[wrong].tolist()
        ):
            self._rows.append((self._seen + i, true, pred, round(conf, 6)))
        room = self.max_images - len(self._images)
        if room > 0:
            self._images += list(images[wrong[:room]].detach().cpu().reshape(-1, *self._shape))
        self._seen += len(labels)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # every rank asks for log_dir (asking on rank zero alone can deadlock) and gathers; rank zero writes
        out_dir = Path(trainer.log_dir or trainer.default_root_dir) / "misclassified"
        self._gather_from_every_process()
        if not trainer.is_global_zero:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        write_rows(out_dir / "misclassified.csv", [CSV_HEADER, *self._rows])
        names = pl_module.class_names
        titles = [f"True: {names[true]}, Pred: {names[pred]}" for _, true, pred, _ in self._rows[: len(self._images)]]
        images = torch.stack(self._images) if self._images else torch.empty(0, *self._shape)
        fig = plot_digits(images, titles, self.columns)
        write_figure(out_dir / "misclassified.png", fig)
        publish(trainer, "test/misclassified", fig, [out_dir / "misclassified.csv", out_dir / "misclassified.png"])
        rank_zero_info(f"{len(self._rows)} of {self._seen} test images misclassified: see {out_dir}")

    def _gather_from_every_process(self) -> None:
        """Under DDP each process scored a contiguous shard of the test set: put the shards back in order."""
        shards = gather_objects((self._rows, self._images, self._seen))
        rows, images, offset = [], [], 0
        for shard_rows, shard_images, shard_seen in shards:
            rows += [(offset + index, *rest) for index, *rest in shard_rows]
            images += shard_images
            offset += shard_seen
        self._rows, self._images, self._seen = rows, images[: self.max_images], offset
