"""The textbook's network: a multilayer perceptron over the flattened image."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from torch import nn


class MLP(nn.Sequential):
    """``pixels → hidden_sizes… → num_classes`` with ReLU between layers; outputs logits.

    ``hidden_sizes=[64]`` is the textbook's 784→64→10 model, ``[64, 1024]`` its 784→64→1024→10 one.

    Args:
        input_shape: One image's shape, ``(channels, height, width)`` (MNIST's ``(1, 28, 28)``).
        num_classes: Outputs, one per class.
        hidden_sizes: Widths of the hidden layers.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, hidden_sizes: Sequence[int] = (64,)) -> None:
        if not hidden_sizes or min(hidden_sizes) <= 0:
            raise ValueError(
                f"hidden_sizes must list one or more positive layer widths, got {list(hidden_sizes)}; the textbook "
                "uses [64] or [64, 1024]."
            )
        widths = [math.prod(input_shape), *hidden_sizes]
        layers: list[nn.Module] = [nn.Flatten()]
        for fan_in, fan_out in pairwise(widths):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], num_classes))
        super().__init__(*layers)
