"""Augmentation of whole training batches on the device: no per-image Python, no PIL."""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor


@cache
def _shift_sources(height: int, width: int, max_shift: int, device: torch.device) -> Tensor:
    """For each of the ``(2 * max_shift + 1) ** 2`` shifts, where each output pixel is read from.

    Row ``k`` holds, for every pixel of the shifted image, the flat index of the source pixel, or
    ``height * width`` (one past the image: a zero appended to it) where the source lies outside.
    """
    rows = torch.arange(height, device=device).view(1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)
    moves = torch.arange(-max_shift, max_shift + 1, device=device)
    dy, dx = torch.meshgrid(moves, moves, indexing="ij")
    source_rows, source_cols = rows - dy.reshape(-1, 1, 1), cols - dx.reshape(-1, 1, 1)
    inside = (source_rows >= 0) & (source_rows < height) & (source_cols >= 0) & (source_cols < width)
    return torch.where(inside, source_rows * width + source_cols, height * width).flatten(1)


def random_shift(
    images: Tensor, image_shape: tuple[int, ...], max_shift: int, generator: torch.Generator | None = None
) -> Tensor:
    """Move each image by a random whole number of pixels, up to ``max_shift`` each way.

    The pixels shifted in are zero (MNIST's background). Each image gets its own shift, drawn from
    ``generator`` (torch's global one if ``None``), and the whole batch moves in one gather from a table
    of source pixels made once: about 70 µs for 32 MNIST digits on this 2-core CPU (docs/recipe.md).

    Args:
        images: ``[B, channels, height, width]`` images (or flattened, ``[B, pixels]``).
        image_shape: ``(height, width)`` or ``(channels, height, width)`` of one image.
        max_shift: The largest shift in pixels, along each axis; 0 returns ``images`` unchanged.
        generator: Where the shifts come from (the loader's, seeded by the epoch); on ``images``' device.
    """
    if max_shift == 0 or not len(images):
        return images
    height, width = image_shape[-2:]
    sources = _shift_sources(height, width, max_shift, images.device)
    count = len(images)
    planes = images.view(count, -1, height * width)  # [B, channels, pixels]
    padded = torch.cat([planes, planes.new_zeros(count, planes.shape[1], 1)], dim=2)
    choice = torch.randint(0, len(sources), (count,), device=images.device, generator=generator)
    index = sources.index_select(0, choice)
    return padded.gather(2, index.unsqueeze(1).expand(-1, planes.shape[1], -1)).view(images.shape)
