"""Opening a user's picture at a cost bounded by a constant, however many pixels it claims.

A picture's cost is set by its pixels, not its bytes: a 200 KB PNG can hold 13,000 × 13,000 pixels, which
decoded as floats take gigabytes. So a picture is measured from its header before it is decoded, refused
above a pixel limit, decoded small where the format allows (JPEG's ``draft`` decodes at 1/2, 1/4 or 1/8),
and shrunk to at most ``WORK_SIDE`` pixels a side before anything becomes a float array. MNIST-style
preprocessing keeps 20 pixels of the digit in the end, so nothing it needs is lost.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from mnist_lit.errors import MnistLitError

# the formats people send; Pillow's other decoders never see a user's bytes (JPEG includes some phones' MPO)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
# pixels decoded (a JPEG's after draft): a phone's photo passes (JPEG, decoded at 1/2 to 1/8 a side), and so
# does a 24-megapixel PNG; decoded and premultiplied, 25 MP of RGBA take 200 MB at most
DEFAULT_MAX_MEGAPIXELS = 25.0
# the longest side kept for preprocessing: a digit filling a tenth of the picture still has 100 pixels
WORK_SIDE = 1024
# what Pillow raises for files that are not images, are empty or truncated, or are absurdly large
IMAGE_READ_ERRORS = (OSError, ValueError, Image.DecompressionBombError, SyntaxError, EOFError)
# modes whose pixels a box filter cannot average as they stand (palette indices, bits, 16-bit integers)
CONVERTED_BEFORE_SHRINKING = {"1": "L", "P": "RGBA", "PA": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I"}
# modes with an alpha band: averaged premultiplied, so the colour of transparent pixels does not bleed in
PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


def open_image(source: Path | bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """Read an image file (a path, or its contents), at most ``WORK_SIDE`` pixels a side, or say why not.

    Raises:
        MnistLitError: Not an image of an accepted format, empty, truncated, or more than ``max_megapixels``
            megapixels to decode (decided from the header, before decoding; a JPEG is counted at the size
            it is decoded at, a fraction of its own).
    """
    if (len(source) if isinstance(source, bytes) else source.stat().st_size) == 0:
        raise MnistLitError("cannot read it as an image: the file is empty")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=FORMATS) as picture:
            size = picture.size
            picture.draft(picture.mode, (WORK_SIDE, WORK_SIDE))  # JPEG only: decoded at a fraction of its size
            check_pixels(size, picture.size, max_megapixels)
            picture.load()  # Pillow reads lazily: a truncated file shows only here (the first frame of several)
            return bounded(picture)
    except UnidentifiedImageError as err:  # Pillow's message names the path or the buffer: the same answer for both
        raise MnistLitError(f"cannot read it as an image (not one of the formats read: {', '.join(FORMATS)})") from err
    except IMAGE_READ_ERRORS as err:
        raise MnistLitError(f"cannot read it as an image ({reason(err)})") from err


def check_pixels(size: tuple[int, int], decoded: tuple[int, int], max_megapixels: float) -> None:
    """Refuse a picture of ``size`` that would decode to more than ``max_megapixels`` megapixels (``decoded``)."""
    if decoded[0] * decoded[1] > max_megapixels * 1_000_000:
        raise MnistLitError(
            f"the picture is {size[0]}×{size[1]} pixels ({size[0] * size[1] / 1e6:.0f} megapixels to decode), "
            f"more than the {max_megapixels:g} megapixels decoded per picture (max_megapixels); a digit needs a few "
            "hundred pixels a side: send a smaller picture"
        )


def bounded(picture: Image.Image) -> Image.Image:
    """``picture`` turned upright (its EXIF orientation) and shrunk by a whole factor to at most ``WORK_SIDE``
    a side (each pixel the mean of a box); the caller's picture is left as it was."""
    if picture.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        picture = ImageOps.exif_transpose(picture)
    factor = math.ceil(max(picture.size) / WORK_SIDE)
    if factor <= 1:
        return picture
    info = picture.info  # the transparency of a palette, which preprocessing still reads
    mode = picture.mode
    if mode in CONVERTED_BEFORE_SHRINKING:
        picture = picture.convert(CONVERTED_BEFORE_SHRINKING[mode])
    if picture.mode in PREMULTIPLIED:
        shrunk = picture.convert(PREMULTIPLIED[picture.mode]).reduce(factor).convert(picture.mode)
    else:
        shrunk = picture.reduce(factor)
    shrunk.info = dict(info)
    return shrunk


def reason(err: Exception) -> str:
    """An exception in a few words, for a row of a table."""
    return (str(err).strip() or type(err).__name__)[:200]
