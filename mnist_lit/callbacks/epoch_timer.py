"""Wall-clock seconds of each training epoch, logged as ``time/epoch_s``."""

from __future__ import annotations

import time

import lightning as L


class EpochTimer(L.Callback):
    """Time each training epoch (the training steps alone, no validation) and log it to TensorBoard.

    The seconds are also kept in ``epoch_seconds`` for scripts such as ``scripts/benchmark.py``.
    """

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seconds = time.perf_counter() - self._start
        self.epoch_seconds.append(seconds)
        # the slowest process's; one value per epoch, so no batch size to weigh it by
        pl_module.log("time/epoch_s", seconds, sync_dist=True, reduce_fx="max", batch_size=1)
