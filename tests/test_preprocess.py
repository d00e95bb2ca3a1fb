"""`mnist_style`: any picture of a digit framed as MNIST frames its digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_lit import MnistLitError, mnist_style
from mnist_lit.data.preprocess import INK_THRESHOLD
from tests.helpers import drawn_seven


def ink_box(digit: torch.Tensor) -> tuple[int, int]:
    rows, cols = (digit >= INK_THRESHOLD).any(dim=1).nonzero(), (digit >= INK_THRESHOLD).any(dim=0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def centre_of_mass(digit: torch.Tensor) -> tuple[float, float]:
    index = torch.arange(28.0)
    return float((digit.sum(1) * index).sum() / digit.sum()), float((digit.sum(0) * index).sum() / digit.sum())


def test_a_scan_becomes_a_white_on_black_28x28_digit_in_a_20_pixel_box() -> None:
    digit = mnist_style(drawn_seven())
    assert digit.shape == (28, 28) and digit.dtype == torch.float32
    assert float(digit.min()) == 0.0 and float(digit.max()) == pytest.approx(1.0)
    assert digit[0].sum() == 0 and digit[:, 0].sum() == 0  # the paper became black background
    height, width = ink_box(digit)
    assert height == 20  # the longest side, scaled to 20 px
    assert 9 <= width <= 12  # the aspect ratio kept: about 72 x 132 px of ink
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_light_ink_on_dark_paper_gives_the_same_digit() -> None:
    dark_on_light = drawn_seven()
    light_on_dark = Image.eval(dark_on_light, lambda value: 255 - value)
    assert torch.allclose(mnist_style(dark_on_light), mnist_style(light_on_dark), atol=1e-5)


def test_colour_transparency_and_grey_paper_give_the_same_digit() -> None:
    reference = mnist_style(drawn_seven())
    gray = np.asarray(drawn_seven())
    colour = Image.fromarray(np.stack([gray, gray, gray], axis=-1))
    transparent = Image.new("LA", gray.shape[::-1])
    transparent.putalpha(Image.fromarray(255 - gray))  # black ink drawn on a transparent sheet
    grey_paper = Image.fromarray((gray * 0.6 + 60).astype(np.uint8))  # paper at 213, ink at 60
    for picture in (colour, transparent, grey_paper):
        assert torch.allclose(mnist_style(picture), reference, atol=0.02)


def test_the_size_of_the_picture_does_not_matter() -> None:
    small = mnist_style(drawn_seven(width=150, height=120, scale=0.5, offset=(70, 10)))
    large = mnist_style(drawn_seven(width=1200, height=900, scale=4.0, offset=(500, 200)))
    assert (small - large).abs().mean() < 0.03


def test_a_lone_speck_of_dust_does_not_move_the_digit() -> None:
    clean = drawn_seven()
    dusty = clean.copy()
    dusty.putpixel((290, 230), 0)
    assert torch.allclose(mnist_style(dusty), mnist_style(clean), atol=1e-5)


def test_an_mnist_digit_comes_back_nearly_unchanged() -> None:
    digit = mnist_style(drawn_seven())
    again = mnist_style(Image.fromarray((digit * 255).round().byte().numpy()))
    assert (again - digit).abs().mean() < 0.02


@pytest.mark.parametrize("shade", [0, 128, 255])
def test_a_blank_picture_is_refused(shade: int) -> None:
    with pytest.raises(MnistLitError, match="no ink"):
        mnist_style(Image.new("L", (64, 64), shade))
