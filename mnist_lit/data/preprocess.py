"""Make any picture of a digit look like an MNIST digit, the way MNIST's own digits were made.

LeCun et al. fitted each NIST digit into a 20×20 box (keeping its aspect ratio, anti-aliased to grey
levels) and placed it in a 28×28 field with its centre of mass at the centre. A model trained on
MNIST has only seen digits like that, so a user's photo or scan must go through the same steps.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.nn import functional as F

from mnist_lit.errors import MnistLitError

MNIST_SIDE = 28
DIGIT_BOX = 20
# as fractions of the strongest stroke once the paper's shade is subtracted: fainter than NOISE_FLOOR is
# paper (sensor noise, JPEG ringing); the bounding box holds the ink above INK_THRESHOLD, which crops
# real MNIST digits to their 20-pixel box while keeping their faint anti-aliased edges
NOISE_FLOOR = 0.05
INK_THRESHOLD = 0.2


def mnist_style(image: Image.Image) -> Tensor:
    """A ``[28, 28]`` float image in [0, 1], white ink on black, framed as MNIST frames its digits.

    The steps: respect the EXIF orientation; flatten transparency onto white; grayscale; invert when
    the background (the median of the border) is light; subtract the paper's level and stretch the
    ink to 1; crop to the ink's bounding box; scale the longest side to 20 px keeping the aspect
    ratio; place it in 28×28 with its centre of mass at the centre. The result is what the model's
    ``forward`` takes (flattened), which then applies the model's own normalisation.

    Raises:
        MnistLitError: The picture has no ink: it is blank or all one shade.
    """
    pixels = torch.from_numpy(_grayscale(image)).float().div_(255)
    background = _border_median(pixels)
    if background > 0.5:  # dark ink on light paper: MNIST is light ink on black
        pixels, background = 1 - pixels, 1 - background
    ink = pixels.sub_(background).clamp_(min=0)
    if ink.max() <= 0.05:
        raise MnistLitError(
            "the picture has no ink: it is blank or all one shade. Photograph or scan the digit with "
            "clear contrast against the paper."
        )
    ink /= ink.max()
    ink[ink < NOISE_FLOOR] = 0
    return _centre_by_mass(_fit_box(_crop_to_ink(ink)))


def _grayscale(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.array(image.convert("L"))


def _border_median(pixels: Tensor) -> float:
    """The paper's shade: the median of a frame 2% of the image wide (at least one pixel)."""
    width = max(1, round(0.02 * min(pixels.shape)))
    border = torch.cat([pixels[:width].flatten(), pixels[-width:].flatten(),
                        pixels[:, :width].flatten(), pixels[:, -width:].flatten()])  # fmt: skip
    return float(border.median())


def _crop_to_ink(ink: Tensor) -> Tensor:
    """Crop to the bounding box of the ink, ignoring lone specks (dust) that touch no other ink."""
    mask = (ink >= INK_THRESHOLD).float()
    neighbours = F.avg_pool2d(mask[None, None], 3, stride=1, padding=1, count_include_pad=True)[0, 0] * 9 - mask
    strokes = (mask > 0) & (neighbours > 0.5)
    if not strokes.any():
        strokes = mask > 0
    rows, cols = strokes.any(dim=1).nonzero().squeeze(1), strokes.any(dim=0).nonzero().squeeze(1)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_box(ink: Tensor) -> Tensor:
    """Scale so the longest side is 20 px, keeping the aspect ratio.

    Shrinking averages each output pixel's area (anti-aliasing as MNIST's digits had, without the extra
    blur of a wider filter); enlarging a small picture interpolates bilinearly.
    """
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    mode = "area" if scale < 1 else "bilinear"
    resized = F.interpolate(ink[None, None], size=size, mode=mode)[0, 0].clamp_(0, 1)
    return resized / resized.max()


def _centre_by_mass(digit: Tensor) -> Tensor:
    """Paste into 28×28 so the centre of mass lands on pixel (14, 14), as in MNIST, staying in the frame."""
    height, width = digit.shape
    mass = digit.sum()
    centre_row = float((digit.sum(dim=1) * torch.arange(height)).sum() / mass)
    centre_col = float((digit.sum(dim=0) * torch.arange(width)).sum() / mass)
    top = min(max(round(MNIST_SIDE / 2 - centre_row), 0), MNIST_SIDE - height)
    left = min(max(round(MNIST_SIDE / 2 - centre_col), 0), MNIST_SIDE - width)
    framed = torch.zeros(MNIST_SIDE, MNIST_SIDE)
    framed[top : top + height, left : left + width] = digit
    return framed
