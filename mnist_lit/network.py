"""The network alone: a plain multilayer perceptron, no training logic."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import nn


class MLP(nn.Sequential):
    """``input_size → hidden_sizes… → num_classes`` with ReLU between layers; outputs logits.

    ``hidden_sizes=[64]`` is the textbook's 784→64→10 model, ``[64, 1024]`` its 784→64→1024→10 one.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], num_classes: int) -> None:
        widths = [input_size, *hidden_sizes]
        layers: list[nn.Module] = []
        for fan_in, fan_out in pairwise(widths):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], num_classes))
        super().__init__(*layers)
