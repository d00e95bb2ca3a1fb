"""Lightning's progress bar, counting training batches where a ``training_step`` call takes several."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


def batches_per_call(trainer: L.Trainer) -> int:
    """How many batches the training loader hands each ``training_step`` call (the fast path's take several)."""
    return getattr(trainer.train_dataloader, "batches_per_item", 1)


def training_batches(trainer: L.Trainer) -> int | float:
    """The training batches of an epoch as Lightning will run them (its ``num_training_batches`` counts
    calls): every batch of every call, the last call's perhaps fewer."""
    calls, per_call = trainer.num_training_batches, batches_per_call(trainer)
    if per_call == 1 or calls == float("inf"):
        return calls
    return min(calls * per_call, trainer.train_dataloader.batches)


class BatchProgressBar(TQDMProgressBar):
    """:class:`TQDMProgressBar` whose training bar counts batches, not calls, so it reads the same whichever
    class trains (Lightning counts one call of :class:`mnist_lit.FastClassifier` as one batch)."""

    @property
    def total_train_batches(self) -> int | float:
        return training_batches(self.trainer)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        done = min((batch_idx + 1) * batches_per_call(trainer), self.total_train_batches)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, done - 1)
