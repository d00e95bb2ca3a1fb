"""Make any picture of a digit look like an MNIST digit, the way MNIST's own digits were made.

LeCun et al. fitted each NIST digit into a 20×20 box (keeping its aspect ratio, anti-aliased to grey
levels) and placed it in a 28×28 field with its centre of mass at the centre. A model trained on
MNIST has only seen digits like that, so a user's photo or scan must go through the same steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from mnist_lit.data.pictures import bounded
from mnist_lit.errors import MnistLitError

if TYPE_CHECKING:
    from torch import Tensor

MNIST_SIDE = 28
DIGIT_BOX = 20
# as fractions of the strongest stroke once the paper's shade is subtracted: fainter than NOISE_FLOOR is
# paper (sensor noise, JPEG ringing); the bounding box holds the ink above INK_THRESHOLD, which crops
# real MNIST digits to their 20-pixel box while keeping their faint anti-aliased edges
NOISE_FLOOR = 0.05
INK_THRESHOLD = 0.2
# MNIST's strokes are about this share of their digit's extent wide: the ink's width along the strokes'
# centre line over the larger side of that line's box, the median over training digits (`python
# scripts/pen_strokes.py --measure --count 2000`: 0.149, quartiles 0.120-0.186). The drawing page redraws a
# digit's strokes with a pen this share of their own extent, whatever pen drew them, so that a broad pen on
# a small digit does not fill its loops nor a fine one on a large digit fade away (`serve` gives it at /model).
STROKE_SHARE = 0.15


def mnist_style(image: Image.Image) -> Tensor:
    """A ``[28, 28]`` float tensor in [0, 1], white ink on black, framed as MNIST frames its digits.

    The steps: respect the EXIF orientation; shrink a large picture to at most ``WORK_SIDE`` pixels a
    side (:func:`mnist_lit.data.pictures.bounded`, so its cost is bounded); flatten transparency onto
    white; grayscale; invert when the background (the median of the border) is light; subtract the
    paper's level and stretch the ink to 1; crop to the ink's bounding box; scale the longest side to
    20 px keeping the aspect ratio; place it in 28×28 with its centre of mass at the centre. The result
    is what the model's ``forward`` takes (flattened), which then applies the model's own normalisation.
    :func:`mnist_style_array` is the same picture as a NumPy array, for code that runs without torch.

    Raises:
        MnistLitError: The picture has no ink: it is blank or all one shade.
    """
    import torch  # only here: the NumPy path below is what a deployment without torch runs

    return torch.from_numpy(mnist_style_array(image))


def mnist_style_array(image: Image.Image) -> np.ndarray:
    """:func:`mnist_style` as a ``float32`` NumPy array ``[28, 28]``; needs NumPy and Pillow only."""
    pixels = _grayscale(bounded(image)).astype(np.float32) / 255
    background = _border_median(pixels)
    if background > 0.5:  # dark ink on light paper: MNIST is light ink on black
        pixels, background = 1 - pixels, 1 - background
    ink = np.clip(pixels - background, 0, None)
    if ink.max() <= 0.05:
        raise MnistLitError(
            "the picture has no ink: it is blank or all one shade. Photograph or scan the digit with "
            "clear contrast against the paper."
        )
    ink /= ink.max()
    ink[ink < NOISE_FLOOR] = 0
    return _centre_by_mass(_fit_box(_crop_to_ink(ink)))


def _grayscale(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.array(image.convert("L"))


def _border_median(pixels: np.ndarray) -> float:
    """The paper's shade: the median of a frame 2% of the image wide (at least one pixel).

    Of an even count, the lower of the two middle values (an actual pixel's shade), not their mean.
    """
    width = max(1, round(0.02 * min(pixels.shape)))
    border = np.concatenate([pixels[:width].ravel(), pixels[-width:].ravel(),
                             pixels[:, :width].ravel(), pixels[:, -width:].ravel()])  # fmt: skip
    return float(np.partition(border, (len(border) - 1) // 2)[(len(border) - 1) // 2])


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """Crop to the bounding box of the ink, ignoring lone specks (dust) that touch no other ink."""
    mask = ink >= INK_THRESHOLD
    padded = np.pad(mask, 1).astype(np.int32)
    height, width = mask.shape
    neighbours = sum(padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)) - mask
    strokes = mask & (neighbours > 0)
    if not strokes.any():
        strokes = mask
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_box(ink: np.ndarray) -> np.ndarray:
    """Scale so the longest side is 20 px, keeping the aspect ratio.

    Shrinking averages each output pixel's area (anti-aliasing as MNIST's digits had, without the extra
    blur of a wider filter); enlarging a small picture interpolates bilinearly.
    """
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    resize = _area_resize if scale < 1 else _bilinear_resize
    resized = np.clip(resize(ink, size), 0, 1)
    return resized / resized.max()


def _area_resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each output pixel the mean of the input pixels its cell covers (torch's adaptive average pooling)."""
    for axis, out in enumerate(size):
        n = pixels.shape[axis]
        starts = (np.arange(out) * n) // out
        ends = -((-(np.arange(out) + 1) * n) // out)  # ceil((i + 1) * n / out)
        cumulative = np.concatenate(
            [np.zeros_like(np.take(pixels, [0], axis)), np.cumsum(pixels, axis, np.float64)], axis
        )
        sums = np.take(cumulative, ends, axis) - np.take(cumulative, starts, axis)
        shape = [1, 1]
        shape[axis] = out
        pixels = (sums / (ends - starts).reshape(shape)).astype(np.float32)
    return pixels


def _bilinear_resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation between pixel centres, edges clamped (torch's, with ``align_corners=False``)."""
    for axis, out in enumerate(size):
        n = pixels.shape[axis]
        source = np.maximum((np.arange(out) + 0.5) * (n / out) - 0.5, 0)
        low = np.minimum(np.floor(source).astype(int), n - 1)
        high = np.minimum(low + 1, n - 1)
        weight = (source - low).astype(np.float32)
        shape = [1, 1]
        shape[axis] = out
        weight = weight.reshape(shape)
        pixels = np.take(pixels, low, axis) * (1 - weight) + np.take(pixels, high, axis) * weight
    return pixels.astype(np.float32)


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste into 28×28 so the centre of mass lands on pixel (14, 14), as in MNIST, staying in the frame."""
    height, width = digit.shape
    mass = digit.sum()
    centre_row = float((digit.sum(axis=1) * np.arange(height)).sum() / mass)
    centre_col = float((digit.sum(axis=0) * np.arange(width)).sum() / mass)
    top = min(max(round(MNIST_SIDE / 2 - centre_row), 0), MNIST_SIDE - height)
    left = min(max(round(MNIST_SIDE / 2 - centre_col), 0), MNIST_SIDE - width)
    framed = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    framed[top : top + height, left : left + width] = digit
    return framed
