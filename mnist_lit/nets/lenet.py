"""A convolutional network in LeNet-5's shape: two convolution and pooling stages, then two dense layers."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


class LeNet5(nn.Sequential):
    """conv 5×5 → ReLU → max-pool 2 → conv 5×5 → ReLU → max-pool 2 → dense → ReLU → dense → logits.

    LeCun et al.'s LeNet-5 (1998) with ReLU and max-pooling for its squashing and subsampling; the
    defaults are its widths (6 and 16 channels, 120 and 84 units). The first convolution pads by 2, so a
    28×28 digit is seen as LeNet-5's 32×32 input was.

    Args:
        input_shape: One image's shape, ``(channels, height, width)``.
        num_classes: Outputs, one per class.
        channels: Filters of the two convolutions.
        hidden_sizes: Widths of the dense layers between the convolutions and the output.
        dropout: The probability of zeroing each input of a dense layer while training (Srivastava et al.,
            2014), against the overfitting of 20 epochs; 0 leaves it out.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (6, 16),
        hidden_sizes: Sequence[int] = (120, 84),
        dropout: float = 0.0,
    ) -> None:
        if len(input_shape) != 3 or len(channels) != 2 or min(channels) <= 0 or min(hidden_sizes, default=1) <= 0:
            raise ValueError(
                f"LeNet5 takes (channels, height, width) images, two positive convolution widths and positive "
                f"dense widths; got input_shape={list(input_shape)}, channels={list(channels)}, "
                f"hidden_sizes={list(hidden_sizes)}."
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be from 0 to below 1, got {dropout}.")
        in_channels, height, width = input_shape
        first, second = channels
        side = ((height // 2 - 4) // 2, (width // 2 - 4) // 2)  # after the two stages
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, first, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(first, second, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        ]  # fmt: skip
        fan_in = second * side[0] * side[1]
        for fan_out in [*hidden_sizes, num_classes]:
            layers += [nn.Dropout(dropout)] if dropout else []
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
            fan_in = fan_out
        layers.pop()  # logits: no ReLU after the last layer
        super().__init__(*layers)
