"""Standardising pixels with the dataset's own mean and standard deviation, kept in the checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class Standardize(nn.Module):
    """``(images - mean) / std`` per channel; the statistics are buffers, so a checkpoint carries them.

    Args:
        mean: Each channel's mean over the training images, pixels in [0, 1].
        std: Each channel's standard deviation.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(-1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(-1, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        return (images - self.mean) / self.std
