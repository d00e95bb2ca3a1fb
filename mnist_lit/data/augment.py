"""Augmentation of whole training batches on the device: no per-image Python, no PIL."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache, partial

import torch
from torch import Tensor
from torch.nn import functional as F

from mnist_lit.errors import MnistLitError

# the ranges of `Augment` at strength 1
ROTATION = math.radians(15)
SCALE = 0.15
SHEAR = math.radians(15)
TRANSLATION = 4  # pixels
ELASTIC_SIGMA, ELASTIC_ALPHA = 4.0, 34.0  # pixels: Simard et al.'s values for 28×28 digits
BLUR_SIGMA = 1.0  # pixels
NOISE_STD = 0.2
CONTRAST = 0.5  # the greyest background
# the largest strength of each kind that has one: a line's ink, an outline's blend and an inverted patch's
# size are fractions of the whole; a stroke thickens by up to three 3×3 dilations (a broad pen on a small
# digit: docs/robustness.md)
STRENGTH_LIMITS = {"lines": 1, "thickness": 3, "outline": 1, "invert": 1}


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


@dataclass(frozen=True)
class Chance:
    """How often an augmentation applies to an image, and how strongly.

    Args:
        p: The probability that an image gets it (0 leaves it out).
        strength: A multiplier of its range: 1 is the range :class:`Augment` documents, 0.5 half of it.
    """

    p: float = 0.0
    strength: float = 1.0


NEVER = Chance()


@dataclass(frozen=True)
class Augment:
    """Random changes to training images, each drawn per image, on the device, for the whole batch at once.

    Each is a :class:`Chance`: its probability and a strength that scales the range given here. Applied
    in this order, to pixels in [0, 1]:

    Args:
        affine: Rotation up to ±15°, scaling by 0.85 to 1.15, shear up to ±15° and translation up to ±4 px
            along each axis (each drawn uniformly within ``strength`` times these).
        elastic: Elastic distortion (Simard, Steinkraus & Platt, 2003): a random displacement field smoothed
            by a Gaussian of σ = 4 px and scaled by α = 34 px × ``strength``.
        thickness: Thicker or thinner strokes (one or the other, evenly): a 3×3 dilation or erosion, blended
            in by up to ``strength``. Above 1 (at most 3), strokes thicken by as many whole dilations and a
            blend of one more; they thin by one erosion at most (a second erases MNIST's thinner strokes).
        outline: Hollow strokes, as an outlining pen or an edge detector draws them: the strokes replaced by
            their outlines (a 3×3 dilation less the digit), blended in by ``strength`` (at most 1).
        lines: A straight line 1 px wide between two random points, as stray pen marks and ruled paper
            give, at up to ``strength`` (at most 1) of full brightness.
        blur: A Gaussian blur of σ up to 1 px × ``strength``.
        contrast: A grey background, as a scan or a photo of paper gives: the pixels mapped from [0, 1] to
            [b, 1] with b up to 0.5 × ``strength``.
        invert: A rectangle of the picture inverted, as glare or a patch of dark paper gives: each side up to
            ``strength`` (at most 1) of the picture's, at a random place.
        noise: Gaussian noise of standard deviation up to 0.2 × ``strength``, then clipped to [0, 1].
    """

    affine: Chance = NEVER
    elastic: Chance = NEVER
    thickness: Chance = NEVER
    outline: Chance = NEVER
    lines: Chance = NEVER
    blur: Chance = NEVER
    contrast: Chance = NEVER
    invert: Chance = NEVER
    noise: Chance = NEVER

    def __post_init__(self) -> None:
        for kind, chance in asdict(self).items():
            limit = STRENGTH_LIMITS.get(kind, math.inf)
            if not 0 <= chance["p"] <= 1 or not 0 <= chance["strength"] <= limit:
                top = "any positive number" if limit == math.inf else str(limit)
                raise MnistLitError(
                    f"--data.augment.{kind} needs p from 0 to 1 and strength from 0 to {top}, got p={chance['p']}, "
                    f"strength={chance['strength']}. For example --data.augment.{kind}.p 0.5 "
                    f"--data.augment.{kind}.strength 1."
                )

    @classmethod
    def from_dict(cls, settings: Mapping[str, Mapping[str, float]] | None) -> Augment:
        """From plain data (a checkpoint's hyperparameters), as :func:`dataclasses.asdict` gives it."""
        return cls(**{kind: Chance(**chance) for kind, chance in (settings or {}).items()})

    def __bool__(self) -> bool:
        return any(chance.p > 0 and chance.strength > 0 for chance in (getattr(self, f.name) for f in fields(self)))

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The batch ``[B, channels, height, width]``, each image changed as drawn from ``generator``."""
        if not len(images):
            return images
        draw = partial(_Draws, len(images), images.device, generator)
        affine, elastic = draw(self.affine), draw(self.elastic)
        if affine.any or elastic.any:
            images = warp(images, affine_matrices(affine, images.shape[-1]), elastic_field(images.shape, elastic))
        if (thickness := draw(self.thickness)).any:
            amounts = thickness.signed_amounts().clamp(min=-1)
            images = change_thickness(images, amounts, dilations=math.ceil(self.thickness.strength))
        if (outline := draw(self.outline)).any:
            blend = (outline.chosen * outline.strength).view(-1, 1, 1, 1)
            images = images + blend * ((_max_3x3(images) - images) - images)
        if (lines := draw(self.lines)).any:
            size = torch.tensor(images.shape[-1:-3:-1], device=images.device) - 1  # (width, height) - 1
            ends = torch.rand(len(images), 2, 2, device=images.device, generator=generator) * size
            images = draw_lines(images, ends, ink=lines.amounts())
        if (blur := draw(self.blur)).any:
            images = gaussian_blur(images, blur.amounts() * BLUR_SIGMA)
        if (contrast := draw(self.contrast)).any:
            background = CONTRAST * contrast.amounts().view(-1, 1, 1, 1)
            images = background + (1 - background) * images
        if (invert := draw(self.invert)).any:
            images = invert_rectangles(images, invert.amounts(), invert.amounts(), invert.positions(2))
        if (noise := draw(self.noise)).any:
            spread = NOISE_STD * noise.amounts().view(-1, 1, 1, 1)
            images = (images + spread * torch.randn(images.shape, device=images.device, generator=generator)).clamp(
                0, 1
            )
        return images


class _Draws:
    """Which images of a batch get one augmentation, and its random amounts: zero for the other images.

    Every image draws, chosen or not, so the stream (and each image's draw) does not depend on the others.
    """

    def __init__(self, count: int, device: torch.device, generator: torch.Generator | None, chance: Chance) -> None:
        self.count, self.device, self.generator, self.strength = count, device, generator, chance.strength
        self.any = chance.p > 0 and chance.strength > 0  # decided without reading the device's tensors
        self.chosen = (self._uniform_01(count) < chance.p).float() if self.any else None

    def _uniform_01(self, *shape: int) -> Tensor:
        return torch.rand(shape, device=self.device, generator=self.generator)

    def uniform(self, *shape: int) -> Tensor:
        """``[count, *shape]`` values uniform in ±``strength`` for the chosen images."""
        values = (self._uniform_01(self.count, *shape) * 2 - 1) * self.strength
        return values * self.chosen.view(-1, *[1] * len(shape))

    def amounts(self) -> Tensor:
        """``[count]`` values uniform in [0, ``strength``] for the chosen images."""
        return self._uniform_01(self.count) * self.strength * self.chosen

    def positions(self, n: int) -> Tensor:
        """``[count, n]`` values uniform in [0, 1), for every image: where a change goes."""
        return self._uniform_01(self.count, n)

    def signed_amounts(self) -> Tensor:
        """:meth:`amounts`, each negated with probability one half."""
        return self.amounts() * torch.where(self._uniform_01(self.count) < 0.5, -1.0, 1.0)


def affine_matrices(draws: _Draws, side: int) -> Tensor | None:
    """Random rotation, scale, shear and translation as ``affine_grid``'s ``[B, 2, 3]`` matrices (None: none)."""
    if not draws.any:
        return None
    angle, scale, shear, dx, dy = draws.uniform(5).unbind(1)
    return affine_matrix(angle * ROTATION, 1 + scale * SCALE, shear * SHEAR, dx * TRANSLATION, dy * TRANSLATION, side)


def affine_matrix(angle: Tensor, scale: Tensor, shear: Tensor, dx: Tensor, dy: Tensor, side: int) -> Tensor:
    """``[B, 2, 3]`` matrices for ``affine_grid``: rotation and shear in radians, translation in pixels of
    square images ``side`` pixels wide."""
    cos, sin, tan = angle.cos(), angle.sin(), shear.tan()
    # rotation @ shear along x, scaled; affine_grid's coordinates run from -1 to 1 across the image
    linear = torch.stack([cos, cos * tan - sin, sin, sin * tan + cos], dim=1).view(-1, 2, 2) / scale.view(-1, 1, 1)
    return torch.cat([linear, torch.stack([dx, dy], dim=1).unsqueeze(2) * (2 / side)], dim=2)


def elastic_field(shape: torch.Size, draws: _Draws) -> Tensor | None:
    """Simard et al.'s elastic displacement, ``[B, height, width, 2]`` in ``grid_sample``'s units (None: none)."""
    if not draws.any:
        return None
    _, _, height, width = shape
    return smooth_field(draws.uniform(2, height, width))


def smooth_field(noise: Tensor, alpha: float = ELASTIC_ALPHA) -> Tensor:
    """Noise ``[B, 2, height, width]`` (uniform in ±1, pixels) as Simard et al.'s displacement: smoothed by a
    Gaussian of σ = 4 px, scaled by ``alpha`` px, in ``grid_sample``'s units ``[B, height, width, 2]``."""
    *_, height, width = noise.shape
    field = gaussian_blur(noise, ELASTIC_SIGMA) * alpha
    return field.permute(0, 2, 3, 1) * torch.tensor([2 / width, 2 / height], device=noise.device)


def warp(images: Tensor, matrices: Tensor | None, field: Tensor | None = None) -> Tensor:
    """Resample each image through its affine matrix and displacement field, in one ``grid_sample``."""
    count, _, height, width = images.shape
    if matrices is None:
        matrices = torch.eye(2, 3, device=images.device).expand(count, 2, 3)
    grid = F.affine_grid(matrices, [count, 1, height, width], align_corners=False)
    if field is not None:
        grid = grid + field
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_blur(images: Tensor, sigma: Tensor | float) -> Tensor:
    """Blur images with a Gaussian of σ pixels (one for all, or ``[B]``, one per image; 0 leaves it sharp),
    zeros outside.

    As two matrix products, ``columns @ image @ rows``: each row of those matrices is the Gaussian kernel
    centred on one pixel, so a whole batch is one or two batched products, faster on the CPU than a
    convolution with a kernel per image.
    """
    *_, height, width = images.shape
    sigma = torch.as_tensor(sigma, device=images.device, dtype=torch.float32).view(-1, 1, 1)
    columns, rows = _blur_matrix(height, sigma), _blur_matrix(width, sigma).transpose(1, 2)
    if len(sigma) == 1:  # one matrix for every image: plain matrix products over the whole batch
        return (columns[0] @ images) @ rows[0]
    return columns.unsqueeze(1) @ images @ rows.unsqueeze(1)


def _blur_matrix(side: int, sigma: Tensor) -> Tensor:
    """``[B, side, side]``: row ``i`` is the Gaussian of σ (``[B, 1, 1]``) centred on pixel ``i``, summing to 1."""
    positions = torch.arange(side, device=sigma.device, dtype=torch.float32)
    distances = positions.view(1, -1, 1) - positions.view(1, 1, -1)
    # exponents below -30 are zero weight for any purpose: kept off the denormal floats the CPU is slow on
    return (-(distances**2) / (2 * sigma.clamp(min=1e-3) ** 2)).clamp(min=-30).softmax(dim=2)


def change_thickness(images: Tensor, amount: Tensor, dilations: int = 1) -> Tensor:
    """Thicker strokes for ``amount > 0`` (``floor(amount)`` 3×3 dilations, then one more blended in by the
    rest, ``dilations`` passes at most), thinner for ``amount`` from -1 to 0 (a 3×3 erosion blended in by
    ``-amount``). The passes are counted by the caller, so the device's tensors are not read."""
    amount = amount.view(-1, 1, 1, 1)
    changed = images + (-amount).clamp(0, 1) * (-_max_3x3(-images) - images)
    for step in range(dilations):
        changed = changed + (amount - step).clamp(0, 1) * (_max_3x3(changed) - changed)
    return changed


def _max_3x3(images: Tensor) -> Tensor:
    """Each pixel's 3×3 neighbourhood maximum, outside the image ignored; slices are faster than max_pool2d
    with stride 1 on the CPU."""
    *_, height, width = images.shape
    padded = F.pad(images, (1, 1, 1, 1), value=float("-inf"))
    rows = torch.maximum(torch.maximum(padded[..., :width], padded[..., 1 : width + 1]), padded[..., 2 : width + 2])
    return torch.maximum(
        torch.maximum(rows[..., :height, :], rows[..., 1 : height + 1, :]), rows[..., 2 : height + 2, :]
    )


def invert_rectangles(images: Tensor, widths: Tensor, heights: Tensor, places: Tensor) -> Tensor:
    """Each image with one rectangle inverted (``1 - pixel``): ``widths`` and ``heights`` ``[B]`` are fractions
    of the picture's sides (rounded up to whole pixels; 0 inverts nothing), ``places`` ``[B, 2]`` in [0, 1)
    put its corner anywhere that keeps it inside the picture."""
    *_, height, width = images.shape
    sides = torch.tensor([width, height], device=images.device)
    size = (torch.stack([widths, heights], dim=1) * sides).ceil()  # [B, 2]: (width, height) in pixels
    start = (places * (sides - size + 1)).floor()
    cols = torch.arange(width, device=images.device).view(1, 1, width)
    rows = torch.arange(height, device=images.device).view(1, height, 1)
    inside = (cols >= start[:, :1, None]) & (cols < (start + size)[:, :1, None])
    inside = inside & (rows >= start[:, 1:, None]) & (rows < (start + size)[:, 1:, None])
    return torch.where(inside.unsqueeze(1), 1 - images, images)


def draw_lines(images: Tensor, points: Tensor, dotted: bool = False, ink: Tensor | None = None) -> Tensor:
    """White lines through ``points`` ``[N, V, 2]`` (x, y pixels), 1 px wide, in every channel.

    Dotted: 2 px on, 2 px off. ``ink`` (``[N]``, default 1) is each image's line brightness; 0 draws none.
    """
    count, _, height, width = images.shape
    start, end = points[:, :-1], points[:, 1:]  # [N, segments, 2]
    steps = torch.linspace(0, 1, 48, device=images.device).view(1, 1, -1, 1)
    samples = start.unsqueeze(2) + steps * (end - start).unsqueeze(2)  # [N, segments, 48, 2]
    strength = torch.ones(count, device=images.device) if ink is None else ink
    ink = strength.view(-1, 1, 1).expand(samples.shape[:3])
    if dotted:  # by the distance from each segment's start
        ink = ink * ((steps.view(1, 1, -1) * (end - start).norm(dim=2, keepdim=True)).floor() % 4 < 2)
    samples = samples.round().long().reshape(count, -1, 2)
    x, y = samples[..., 0].clamp(0, width - 1), samples[..., 1].clamp(0, height - 1)
    canvas = images.new_zeros(count, height * width).scatter_reduce_(1, y * width + x, ink.reshape(count, -1), "amax")
    return torch.maximum(images, canvas.view(count, 1, height, width))  # every channel
