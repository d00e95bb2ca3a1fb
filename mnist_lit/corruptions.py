"""A corruption suite built from the test set: the digits as other scanners, pens and cameras would give them.

Modelled on MNIST-C (Mu & Gilmer, 2019), written anew here. Each kind is one function of a batch of
digits ``[N, 1, 28, 28]`` (pixels in [0, 1], white on black) and a random generator, at one severity,
every parameter a constant below. The suite is built from the test set deterministically: each kind
draws from a generator seeded by :data:`SUITE_SEED` and its own name, on the CPU. ``docs/robustness.md``
describes every kind; change a constant and :data:`SUITE_VERSION` changes with it, so that a score always
names the suite it was measured on.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import torch
from torch import Tensor

from mnist_lit.data.augment import affine_matrix, change_thickness, draw_lines, gaussian_blur, smooth_field, warp

SUITE_VERSION = "mnist_lit-c/1"
SUITE_SEED = 2019  # MNIST-C's year

Corruption = Callable[[Tensor, torch.Generator], Tensor]


def _uniform(generator: torch.Generator, count: int, low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def _signs(generator: torch.Generator, count: int) -> Tensor:
    return torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)


def _affine(images: Tensor, angle: float | Tensor = 0.0, scale: float | Tensor = 1.0, shear: float | Tensor = 0.0,
            dx: float | Tensor = 0.0, dy: float | Tensor = 0.0) -> Tensor:  # fmt: skip
    count = len(images)
    values = [torch.as_tensor(v, dtype=torch.float32).expand(count) for v in (angle, scale, shear, dx, dy)]
    return warp(images, affine_matrix(*values, side=images.shape[-1]))


def gaussian_noise(images: Tensor, generator: torch.Generator) -> Tensor:
    """Gaussian noise of standard deviation 0.3 on every pixel, clipped to [0, 1]."""
    return (images + 0.3 * torch.randn(images.shape, generator=generator)).clamp(0, 1)


def shot_noise(images: Tensor, generator: torch.Generator) -> Tensor:
    """Photon noise: each pixel a Poisson count of mean 10 × its value, over 10 (the strokes grainy)."""
    return (torch.poisson(images * 10, generator=generator) / 10).clamp(0, 1)


def impulse_noise(images: Tensor, generator: torch.Generator) -> Tensor:
    """Salt and pepper: 10% of the pixels set to black or white, evenly."""
    hit = torch.rand(images.shape, generator=generator) < 0.10
    salt = torch.rand(images.shape, generator=generator) < 0.5
    return torch.where(hit, salt.float(), images)


def glass_blur(images: Tensor, generator: torch.Generator) -> Tensor:
    """Frosted glass: each pixel swapped with a random neighbour within 1 px, then blurred (σ 0.5 px)."""
    count, _, height, width = images.shape
    rows, cols = torch.arange(height).view(1, -1, 1), torch.arange(width).view(1, 1, -1)
    dy = torch.randint(-1, 2, (count, height, width), generator=generator)
    dx = torch.randint(-1, 2, (count, height, width), generator=generator)
    source = (rows + dy).clamp(0, height - 1) * width + (cols + dx).clamp(0, width - 1)
    return gaussian_blur(images.flatten(1).gather(1, source.flatten(1)).view(images.shape), 0.5)


def motion_blur(images: Tensor, generator: torch.Generator) -> Tensor:
    """A camera's shake: the mean of the digit moved along a line of 7 px at a random angle."""
    angle = _uniform(generator, len(images), 0, math.pi)
    copies = [_affine(images, dx=step * angle.cos(), dy=step * angle.sin()) for step in range(-3, 4)]
    return torch.stack(copies).mean(0)


def shear(images: Tensor, generator: torch.Generator) -> Tensor:
    """Slanted writing: sheared by 20° to 35°, either way."""
    count = len(images)
    return _affine(images, shear=_signs(generator, count) * _uniform(generator, count, 20, 35).deg2rad())


def scale(images: Tensor, generator: torch.Generator) -> Tensor:
    """Small writing: the digit shrunk to 55% to 75% of its size, about the centre."""
    return _affine(images, scale=_uniform(generator, len(images), 0.55, 0.75))


def rotate(images: Tensor, generator: torch.Generator) -> Tensor:
    """A tilted page: rotated by 25° to 45°, either way."""
    count = len(images)
    return _affine(images, angle=_signs(generator, count) * _uniform(generator, count, 25, 45).deg2rad())


def translate(images: Tensor, generator: torch.Generator) -> Tensor:
    """Off-centre: moved by 3 to 5 px in a random direction (parts may leave the frame)."""
    count = len(images)
    distance, direction = _uniform(generator, count, 3, 5), _uniform(generator, count, 0, 2 * math.pi)
    return _affine(images, dx=distance * direction.cos(), dy=distance * direction.sin())


def brightness(images: Tensor, generator: torch.Generator) -> Tensor:
    """A bright scan: 0.4 added to every pixel (a grey background), clipped to [0, 1]."""
    return (images + 0.4).clamp(0, 1)


def stripe(images: Tensor, generator: torch.Generator) -> Tensor:
    """A vertical band 3 to 5 px wide, at a random place, with its pixels inverted."""
    count, _, _, width = images.shape
    left = torch.randint(4, width - 9, (count, 1, 1, 1), generator=generator)
    band_width = torch.randint(3, 6, (count, 1, 1, 1), generator=generator)
    cols = torch.arange(width).view(1, 1, 1, -1)
    inside = (cols >= left) & (cols < left + band_width)
    return torch.where(inside, 1 - images, images)


def fog(images: Tensor, generator: torch.Generator) -> Tensor:
    """Fog: a smooth random haze (noise blurred by σ 3 px, up to 0.5) added, the contrast scaled back."""
    haze = gaussian_blur(torch.rand(images.shape, generator=generator), 3.0)
    low, high = haze.amin((2, 3), keepdim=True), haze.amax((2, 3), keepdim=True)
    haze = 0.5 * (haze - low) / (high - low + 1e-6)
    return (images + haze) / 1.5


def spatter(images: Tensor, generator: torch.Generator) -> Tensor:
    """Ink spatter: blobs (the top 3% of noise blurred by σ 1 px) painted at 0.7 grey."""
    blobs = gaussian_blur(torch.rand(images.shape, generator=generator), 1.0)
    threshold = blobs.flatten(1).quantile(0.97, dim=1).view(-1, 1, 1, 1)
    return torch.where(blobs > threshold, images.clamp(min=0.7), images)


def dotted_line(images: Tensor, generator: torch.Generator) -> Tensor:
    """A dotted line drawn across the digit, between random points on the left and right edges."""
    count, _, height, width = images.shape
    ys = torch.rand(count, 2, generator=generator) * (height - 1)
    xs = torch.tensor([0.0, width - 1.0]).expand(count, 2)
    return draw_lines(images, torch.stack([xs, ys], dim=2), dotted=True)


def zigzag(images: Tensor, generator: torch.Generator) -> Tensor:
    """A zigzag line of four strokes across the digit, up and down by 6 to 12 px."""
    count, _, height, width = images.shape
    xs = torch.linspace(2, width - 3, 5).expand(count, 5)
    centre = 8 + torch.rand(count, 1, generator=generator) * (height - 17)
    height_of_zig = 6 + 6 * torch.rand(count, 1, generator=generator)
    ys = centre + height_of_zig * torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0])
    return draw_lines(images, torch.stack([xs, ys], dim=2), dotted=False)


def canny_edges(images: Tensor, generator: torch.Generator) -> Tensor:
    """Only the outlines, as an edge detector draws them: the pixels just outside the strokes (the digit
    blurred by σ 1 px and cut at 0.5, dilated, less itself), so each stroke becomes two thin lines."""
    strokes = (gaussian_blur(images, 1.0) > 0.5).float()
    return change_thickness(strokes, torch.ones(len(images))) - strokes


def elastic(images: Tensor, generator: torch.Generator) -> Tensor:
    """An unsteady hand: Simard et al.'s elastic distortion at α 40 px, σ 4 px."""
    count, _, height, width = images.shape
    noise = torch.rand(count, 2, height, width, generator=generator) * 2 - 1
    return warp(images, None, smooth_field(noise, alpha=40.0))


def thick(images: Tensor, generator: torch.Generator) -> Tensor:
    """A marker: strokes thickened by a full 3×3 dilation."""
    return change_thickness(images, torch.ones(len(images)))


def thin(images: Tensor, generator: torch.Generator) -> Tensor:
    """A fine pen: strokes thinned by a 3×3 erosion blended in by 0.7 (a full one erases thin strokes)."""
    return change_thickness(images, torch.full((len(images),), -0.7))


def blur(images: Tensor, generator: torch.Generator) -> Tensor:
    """Out of focus: a Gaussian blur of σ 1.5 px."""
    return gaussian_blur(images, 1.5)


# the suite, in the order of the reports
CORRUPTIONS: dict[str, Corruption] = {
    corruption.__name__: corruption
    for corruption in (
        shot_noise, impulse_noise, gaussian_noise, glass_blur, motion_blur, blur, shear, scale, rotate, translate,
        brightness, stripe, fog, spatter, dotted_line, zigzag, canny_edges, elastic, thick, thin,
    )
}  # fmt: skip


def corrupt(images: Tensor, kind: str) -> Tensor:
    """The digits ``[N, 1, 28, 28]`` (CPU, pixels in [0, 1]) corrupted by ``kind``, the same on every call."""
    generator = torch.Generator().manual_seed(SUITE_SEED + zlib.crc32(kind.encode()))
    return CORRUPTIONS[kind](images, generator).clamp(0, 1)
