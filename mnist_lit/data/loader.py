"""Batches drawn from in-memory tensors with one indexed gather each.

A tiny MLP spends its time on per-step overhead, so ``DataLoader``'s per-item ``__getitem__`` and
collate would cost more than the network. The whole split lives in one tensor (on the training
device), and a batch is ``images[idx]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor


class EpochShuffle:
    """A permutation of ``range(size)`` that depends only on ``seed`` and the epoch.

    Lightning calls ``set_epoch`` on a loader's ``sampler`` at each epoch start, also after resuming
    from a checkpoint, so a resumed run continues with the order it would have had.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.size, generator=generator)


class TensorBatchLoader:
    """Yield ``(images, labels)`` batches from two aligned tensors, shuffled or in order.

    The last, shorter batch is kept: no digit is dropped from an epoch or an evaluation.
    """

    def __init__(self, images: Tensor, labels: Tensor, batch_size: int, shuffle_seed: int | None = None) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        # `sampler` and `batch_sampler` are the DataLoader attributes Lightning looks at: it calls
        # `sampler.set_epoch` each epoch and checks evaluation loaders for shuffling
        self.sampler = None if shuffle_seed is None else EpochShuffle(len(images), shuffle_seed)
        self.batch_sampler = None

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.sampler is None:
            yield from zip(self.images.split(self.batch_size), self.labels.split(self.batch_size))
            return
        order = self.sampler.permutation().to(self.images.device)
        for idx in order.split(self.batch_size):
            yield self.images[idx], self.labels[idx]
