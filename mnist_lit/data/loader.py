"""Batches drawn from in-memory tensors with one indexed gather each, sharded across processes.

A tiny MLP spends its time on per-step overhead, so ``DataLoader``'s per-item ``__getitem__`` and
collate would cost more than the network. The whole split lives in one tensor (on the training
device); a training batch, or the several batches a step takes, is one indexed gather of it in the epoch's
order (an augmented epoch is gathered whole, then augmented block by block).

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

# added to the shuffle's seed to give the augmentation a random stream of its own
AUGMENT_STREAM = 1 << 40
# training images augmented at once: whole batches, about this many
BLOCK_IMAGES = 1024


class EpochShuffle:
    """A permutation of ``range(size)``, and the augmentation's randomness, that depend only on ``seed`` and
    the epoch.

    Lightning calls ``set_epoch`` on a loader's ``sampler`` at each epoch start, also after resuming
    from a checkpoint, so a resumed run continues with the order (and the shifts) it would have had.
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

    def augment_generator(self, device: torch.device) -> torch.Generator:
        """The epoch's random stream for augmentation, apart from the shuffle's, on the images' device."""
        return torch.Generator(device=device).manual_seed(self.seed + self.epoch + AUGMENT_STREAM)


class TensorBatchLoader:
    """Yield ``(images, labels)`` batches from two aligned tensors, shuffled or in order.

    The last, shorter batch is kept: no digit is dropped from an epoch or an evaluation.

    Args:
        batch_size: Images per batch across all processes when shuffled (each process takes every
            ``world_size``-th of them); per process when in order.
        shuffle_seed: Shuffle each epoch with this seed (training); ``None`` keeps the order (evaluation).
        rank, world_size: This process's place among the processes (Lightning's ``global_rank`` and
            ``world_size``); the default is a single process.
        augment: Applied to the shuffled training images (augmentation), on their device, as
            ``augment(images, generator=...)``, a block of whole batches at a time. It sees the whole batches
            before the processes take their shares, so every digit is augmented alike under any number of
            processes.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        shuffle_seed: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        augment: Callable[..., Tensor] | None = None,
        batches_per_item: int = 1,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if batches_per_item < 1 or (batches_per_item > 1 and (world_size > 1 or shuffle_seed is None)):
            raise ValueError(f"batches_per_item must be 1, or more for training in one process: {batches_per_item}")
        if shuffle_seed is None:  # evaluation: a contiguous shard, in order
            start, stop = len(images) * rank // world_size, len(images) * (rank + 1) // world_size
            images, labels = images[start:stop], labels[start:stop]
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.augment = augment
        self.batches_per_item = batches_per_item
        # `sampler` and `batch_sampler` are the DataLoader attributes Lightning looks at: it calls
        # `sampler.set_epoch` each epoch and checks evaluation loaders for shuffling
        self.sampler = None if shuffle_seed is None else EpochShuffle(len(images), shuffle_seed)
        self.batch_sampler = None

    def __len__(self) -> int:
        return math.ceil(self.batches / self.batches_per_item)

    @property
    def batches(self) -> int:
        """Batches in an epoch (items hold ``batches_per_item`` of them)."""
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.sampler is None:
            yield from zip(self.images.split(self.batch_size), self.labels.split(self.batch_size))
            return
        order = self.sampler.permutation().to(self.images.device)
        labels = self.labels[order]
        augmented = self._augmented(order) if self.augment else None
        item = self.batch_size * self.batches_per_item
        for start in range(0, len(order), item):
            # the item's images (of this process, under DDP: every world_size-th of each batch)
            share = slice(start + self.rank, start + item, self.world_size)
            if augmented is None:
                # gathered as it is taken, so its images are fresh in the cache when the steps read them: one
                # gather of the epoch wrote it all out to memory first, then read it back (docs/benchmarks.md)
                yield self.images.index_select(0, order[share]), labels[share]
            else:
                yield augmented[share], labels[share]

    def _augmented(self, order: Tensor) -> Tensor:
        """The epoch's images in ``order``, augmented whole batches at a time, in blocks of a size that
        depends on the batch size alone, so that the augmentation's draws do not depend on how the batches
        are handed out."""
        images = self.images[order]
        generator = self.sampler.augment_generator(self.images.device)
        block = self.batch_size * max(1, BLOCK_IMAGES // self.batch_size)
        for start in range(0, len(images), block):
            images[start : start + block] = self.augment(images[start : start + block], generator=generator)
        return images
