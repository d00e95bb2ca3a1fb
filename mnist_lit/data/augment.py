"""Augmentation of whole training batches on the device: no per-image Python, no PIL."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def random_shift(images: Tensor, image_shape: tuple[int, ...], max_shift: int) -> Tensor:
    """Move each flattened image by a random whole number of pixels, up to ``max_shift`` each way.

    The pixels shifted in are zero (MNIST's background). Each image gets its own shift, drawn from
    torch's global generator (so ``seed_everything`` fixes it), and the whole batch moves in one gather.

    Args:
        images: ``[B, pixels]`` flattened images, as the model takes them.
        image_shape: ``(height, width)`` or ``(channels, height, width)`` of one image.
        max_shift: The largest shift in pixels, along each axis; 0 returns ``images`` unchanged.
    """
    if max_shift == 0 or not len(images):
        return images
    height, width = image_shape[-2:]
    count, side = len(images), 2 * max_shift + 1
    padded = F.pad(images.view(count, -1, height, width), (max_shift,) * 4).flatten(2)  # [B, C, Hp * Wp]
    rows = torch.arange(height, device=images.device).view(1, height, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, width)
    offsets = torch.randint(0, side, (2, count, 1, 1), device=images.device)
    index = ((rows + offsets[0]) * (width + 2 * max_shift) + cols + offsets[1]).view(count, 1, -1)
    return padded.gather(2, index.expand(-1, padded.shape[1], -1)).view(count, -1)
