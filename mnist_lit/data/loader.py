"""Batches drawn from in-memory tensors with one indexed gather each, sharded across processes.

A tiny MLP spends its time on per-step overhead, so ``DataLoader``'s per-item ``__getitem__`` and
collate would cost more than the network. The whole split lives in one tensor (on the training
device), and a batch is ``images[idx]``.

Under DDP every process holds the split and takes its own share: of each shuffled training batch
(so every process runs the same number of steps and together they see the single-process batch),
and a contiguous slice of an evaluation split (so every digit is scored exactly once, with no padding).
Lightning leaves loaders that are not ``DataLoader``s alone, so it adds no sampler of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

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

    Args:
        batch_size: Images per batch across all processes when shuffled (each process takes every
            ``world_size``-th of them); per process when in order.
        shuffle_seed: Shuffle each epoch with this seed (training); ``None`` keeps the order (evaluation).
        rank, world_size: This process's place among the processes (Lightning's ``global_rank`` and
            ``world_size``); the default is a single process.
        augment: Applied to each shuffled batch of images (training augmentation), on their device.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        shuffle_seed: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        augment: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if shuffle_seed is None:  # evaluation: a contiguous shard, in order
            start, stop = len(images) * rank // world_size, len(images) * (rank + 1) // world_size
            images, labels = images[start:stop], labels[start:stop]
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.augment = augment
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
            mine = idx[self.rank :: self.world_size] if self.world_size > 1 else idx
            images = self.images[mine]
            yield (self.augment(images) if self.augment else images), self.labels[mine]
