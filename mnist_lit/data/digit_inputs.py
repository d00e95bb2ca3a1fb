"""What `predict` reads: image files, folders of them, ``.npy`` arrays and IDX files, as MNIST digits.

Pictures (a user's photos and scans) go through :func:`mnist_style`; arrays and IDX files are taken
to hold MNIST-format digits already (28×28, white ink on black), as ``scripts/export_npy.py`` writes.
An image that cannot be read keeps its error in place of a prediction and the others carry on.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mnist_lit.data.pictures import DEFAULT_MAX_MEGAPIXELS, open_image, reason
from mnist_lit.data.preprocess import MNIST_SIDE, mnist_style_array
from mnist_lit.errors import MissingFileError, MnistLitError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IDX_UINT8_MAGIC = (b"\x00\x00\x08\x03", b"\x00\x00\x08\x02")  # three-dimensional (N×28×28) or N×784


@dataclass(frozen=True)
class DigitInputs:
    """Named digits to classify, in input order.

    ``images`` holds the readable ones (a ``float32`` array ``[R, 28, 28]`` in [0, 1]); ``positions``
    says which name each belongs to, ``errors`` why the others could not be read, and ``skipped`` the
    files of a folder that were left out as not images by their suffix. NumPy only: reading the user's
    digits needs no torch (a deployment on ONNX Runtime runs this code too).
    """

    names: list[str]
    images: np.ndarray
    positions: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def concat(cls, parts: Sequence[DigitInputs]) -> DigitInputs:
        """One input list from several, positions and errors renumbered."""
        names, positions, errors = [], [], {}
        for part in parts:
            positions.append(part.positions + len(names))
            errors.update({len(names) + position: error for position, error in part.errors.items()})
            names += part.names
        images = np.concatenate([part.images for part in parts])
        return cls(names, images, np.concatenate(positions), errors, [n for part in parts for n in part.skipped])


def from_array(array: np.ndarray | Any, name: str = "array") -> DigitInputs:
    """MNIST-format digits: ``[28, 28]``, ``[N, 28, 28]`` or ``[N, 784]``, pixels 0-255 or floats in [0, 1].

    A NumPy array, or anything NumPy reads as one (a torch tensor, nested lists).
    """
    pixels = np.asarray(array.detach().cpu() if hasattr(array, "detach") else array)
    if pixels.ndim == 2 and pixels.shape == (MNIST_SIDE, MNIST_SIDE):
        pixels = pixels[None]
    if pixels.ndim == 2 and pixels.shape[1] == MNIST_SIDE * MNIST_SIDE:
        pixels = pixels.reshape(-1, MNIST_SIDE, MNIST_SIDE)
    if pixels.ndim != 3 or pixels.shape[1:] != (MNIST_SIDE, MNIST_SIDE) or not len(pixels):
        raise MnistLitError(
            f"{name} holds an array of shape {tuple(pixels.shape)}, but MNIST-format digits are 28×28: "
            "[28, 28], [N, 28, 28] or [N, 784]. Save the digits in one of those shapes, or pass the pictures "
            "as image files (PNG, JPEG, ...), which are cropped and scaled as MNIST's digits were."
        )
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0 or high > 255 or not np.isfinite(high):
        raise MnistLitError(
            f"{name} has pixel values from {low} to {high}; MNIST-format digits have pixels 0-255, or floats in "
            "[0, 1]. Rescale the array into one of those ranges."
        )
    # floats at most 1 are taken as already scaled, as the model's own inputs are
    scale = 1 if np.issubdtype(pixels.dtype, np.floating) and high <= 1 else 255
    pixels = pixels.astype(np.float32) / np.float32(scale)
    names = [f"{name}[{i}]" for i in range(len(pixels))]
    return DigitInputs(names, pixels, np.arange(len(pixels)))


def from_pictures(pictures: Sequence[Image.Image], names: Sequence[str] | None = None) -> DigitInputs:
    """Pictures of single digits (Pillow images), each made MNIST-style; one that fails keeps its error."""
    names = list(names) if names is not None else [f"picture[{i}]" for i in range(len(pictures))]
    return _mnist_style_each(pictures, names, load=lambda picture: picture)


def from_image_files(paths: Sequence[Path], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> DigitInputs:
    """Image files of single digits; a file that is not a readable image (or is over ``max_megapixels``) gets
    an error instead."""
    return _mnist_style_each(
        paths, [str(path) for path in paths], load=partial(open_image, max_megapixels=max_megapixels)
    )


def from_image_bytes(
    contents: Sequence[bytes], names: Sequence[str], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> DigitInputs:
    """Image files' contents (uploads), read as :func:`from_image_files` reads files on disk."""
    return _mnist_style_each(contents, list(names), load=partial(open_image, max_megapixels=max_megapixels))


def _mnist_style_each(items: Sequence, names: list[str], load: Callable[[Any], Image.Image]) -> DigitInputs:
    """Load and preprocess one item at a time: a folder of full-size photos would not fit in memory at once."""
    images, positions, errors = [], [], {}
    for position, item in enumerate(items):
        try:
            images.append(mnist_style_array(load(item)))
            positions.append(position)
        except MnistLitError as err:
            errors[position] = str(err)
        except (OSError, ValueError) as err:  # a picture Pillow opens but cannot convert (an odd image mode)
            errors[position] = f"cannot convert it to grayscale ({reason(err)})"
    stacked = np.stack(images) if images else np.empty((0, MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    return DigitInputs(names, stacked, np.array(positions, dtype=np.int64), errors)


def image_files_in(folder: Path) -> tuple[list[Path], list[str]]:
    """The folder's image files (by suffix, subfolders included), in name order, and the other files."""
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    images = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
    others = [str(path.relative_to(folder)) for path in files if path.suffix.lower() not in IMAGE_SUFFIXES]
    if not images:
        raise MnistLitError(
            f"{folder} holds no image files (looked for {', '.join(IMAGE_SUFFIXES)}, subfolders included). "
            "Point --data.predict_path at a folder of pictures of digits, one digit per picture, or at one file."
        )
    return images, [str(folder / other) for other in others]


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of uint8 digits (as MNIST's ``t10k-images-idx3-ubyte``), gzipped or not."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        if raw[:4] not in IDX_UINT8_MAGIC:
            raise ValueError("its first four bytes are not the magic number of uint8 IDX images")
        shape = struct.unpack(f">{raw[3]}I", raw[4 : 4 + 4 * raw[3]])
        pixels = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3])
        if pixels.size != math.prod(shape):
            raise ValueError(f"its header announces {shape} pixels but {pixels.size} follow")
        return pixels.reshape(shape)
    except (OSError, ValueError, EOFError, struct.error) as err:
        raise MnistLitError(
            f"{path} is not a readable IDX file of digits ({reason(err)}). Pass an MNIST-format images file "
            "such as t10k-images-idx3-ubyte(.gz), an .npy array, or image files."
        ) from err


def read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise MnistLitError(
            f"{path} is not a readable .npy array ({reason(err)}). Save the digits with numpy.save as an array "
            "of shape [N, 28, 28]."
        ) from err


def is_idx(path: Path) -> bool:
    if path.suffix == ".gz":
        return True
    with open(path, "rb") as stream:
        return stream.read(4) in IDX_UINT8_MAGIC


def read_path(path: Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> DigitInputs:
    """The digits in one path: a folder of images, an ``.npy`` array, an IDX file or one image file."""
    if not path.exists():
        raise MissingFileError(
            f"{path} does not exist. Pass an image file, a folder of images, an .npy array or an IDX file."
        )
    if path.is_dir():
        images, others = image_files_in(path)
        return dataclasses.replace(from_image_files(images, max_megapixels), skipped=others)
    if path.suffix.lower() == ".npy":
        return from_array(read_npy(path), str(path))
    if path.suffix.lower() not in IMAGE_SUFFIXES and is_idx(path):
        return from_array(read_idx(path), str(path))
    return from_image_files([path], max_megapixels)


def read_digits(
    sources: str | Path | Iterable[str | Path], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> DigitInputs:
    """Every digit in one path or several: image files, folders of them, ``.npy`` arrays, IDX files.

    A picture of more than ``max_megapixels`` megapixels gets an error of its own, decided from its header.
    """
    paths = [Path(sources)] if isinstance(sources, (str, Path)) else [Path(source) for source in sources]
    if not paths:
        raise MnistLitError("No inputs were given to classify. Pass image files, folders, .npy or IDX files.")
    return DigitInputs.concat([read_path(path, max_megapixels) for path in paths])
