"""Redraw MNIST test digits as people draw them on the page, with pens of other widths, and score models on them.

python scripts/pen_strokes.py --check logs/cnn_robust/version_0/checkpoints/last.ckpt --count 1000
python scripts/pen_strokes.py --check A.ckpt B.ckpt --pens 6 16 28 44 --json pens.json
python scripts/pen_strokes.py --measure --count 2000

Each digit's strokes are traced: the digit scaled to the 280-pixel pad, cut at half its brightness and
thinned to a one-pixel skeleton (Zhang and Suen's algorithm). They are drawn again as the page draws
them, a round pen of PEN pixels along the skeleton, black on white, with the digit filling the pad
("large") or half of it in a corner ("small"). The page's pens run from 6 to 44 pixels (28 by default).
The pictures go through `classify`, which prepares them as the page's are (`mnist_style`). Printed: a
markdown table of each model's accuracy per size and pen. Its first row is the digits themselves as
pictures, and its rows below show what tracing and redrawing cost at each width. The next rows are the
strokes as the page sends them to the model: redrawn with a pen ``STROKE_SHARE`` of their extent, whatever
pen drew them. The last rows send them so after changing them as other hands would (``HANDS``): slanted,
turned, narrower or wider. ``--measure`` prints the share as MNIST's training digits have it, instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_lit import classify, load_classifier
from mnist_lit.data import ensure_raw_files, load_split
from mnist_lit.data.preprocess import STROKE_SHARE
from mnist_lit.errors import exits_on_user_error

PAD = 280  # the page's drawing pad, in its own pixels
SIZES = {"large": 1.0, "small": 0.5}  # the digit's side as a share of the pad's
FILL = 0.8  # a changed digit's larger side at most, as a share of the pad's side


def turned(degrees: float) -> list[list[float]]:
    """The matrix that turns (row, column) points ``degrees`` anticlockwise as the pad shows them."""
    angle = np.deg2rad(degrees)
    return [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]


# how other hands draw the same strokes: each a matrix applied to the (row, column) points about their centre
HANDS = {
    "slanted right (shear 0.4)": [[1, 0], [-0.4, 1]],  # the top of the digit 0.4 of its height to the right
    "slanted left (shear 0.4)": [[1, 0], [0.4, 1]],
    "turned 20° anticlockwise": turned(20),
    "turned 20° clockwise": turned(-20),
    "narrow (0.6 as wide)": [[1, 0], [0, 0.6]],
    "wide (1.4 as wide)": [[1, 0], [0, 1.4]],
}


def skeleton(mask: np.ndarray) -> np.ndarray:
    """``mask`` thinned to lines one pixel wide that keep its shape (Zhang & Suen, 1984)."""
    thin = mask.astype(bool)  # a copy: thinned in place
    while True:
        removed = False
        for first in (True, False):
            p = np.pad(thin, 1)
            # the eight neighbours, clockwise from the one above
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            count = sum(neighbour.astype(np.uint8) for neighbour in n)
            rises = sum((~n[i] & n[(i + 1) % 8]).astype(np.uint8) for i in range(8))
            if first:  # the south and east edges and the north-west corner
                side = ~(n[0] & n[2] & n[4]) & ~(n[2] & n[4] & n[6])
            else:  # the north and west edges and the south-east corner
                side = ~(n[0] & n[2] & n[6]) & ~(n[0] & n[4] & n[6])
            drop = thin & (count >= 2) & (count <= 6) & (rises == 1) & side
            if drop.any():
                thin &= ~drop
                removed = True
        if not removed:
            return thin


def ink(digit: np.ndarray) -> np.ndarray:
    """A 28×28 MNIST digit scaled to the pad and cut at half its brightness: where its strokes are."""
    return np.asarray(Image.fromarray(digit).resize((PAD, PAD), Image.BILINEAR)) >= 128


def trace(digit: np.ndarray) -> np.ndarray:
    """The skeleton of a 28×28 MNIST digit scaled to the pad, as ``[points, 2]`` (row, column) in pad pixels."""
    return np.argwhere(skeleton(ink(digit))).astype(np.float32)


def extent(points: np.ndarray) -> float:
    """The larger side of the box around ``points``."""
    return float(np.ptp(points, axis=0).max())


def stroke_share(digit: np.ndarray) -> float:
    """How wide a digit's strokes are for its size: the ink's area over its skeleton's length (the strokes'
    mean width) over the skeleton's extent, the measure ``STROKE_SHARE`` takes for the page."""
    strokes = ink(digit)
    points = np.argwhere(skeleton(strokes))
    return float(strokes.sum() / len(points) / extent(points))


def page_pen(points: np.ndarray) -> float:
    """The pen the page redraws strokes through ``points`` with before sending them: ``STROKE_SHARE`` of their
    extent, at least one pixel (``pad.js``, ``redrawn``)."""
    return max(1.0, STROKE_SHARE * extent(points))


def draw(points: np.ndarray, pen: float, size: str) -> Image.Image:
    """The traced strokes drawn with a round pen ``pen`` pixels wide, black on the white pad, the digit
    ``size`` (``SIZES``): "small" is half the pad's side, in its top left corner."""
    pad = Image.new("L", (PAD, PAD), 255)
    ink = ImageDraw.Draw(pad)
    for row, col in points * SIZES[size]:
        ink.ellipse([col - pen / 2, row - pen / 2, col + pen / 2, row + pen / 2], fill=0)
    return pad


def by_hand(points: np.ndarray, matrix: list[list[float]]) -> np.ndarray:
    """``points`` changed by ``matrix`` about their centre, then centred on the pad, shrunk to fit ``FILL`` of it."""
    changed = (points - points.mean(axis=0)) @ np.asarray(matrix).T
    changed *= min(1.0, FILL * PAD / max(extent(changed), 1.0))
    return changed - (changed.max(axis=0) + changed.min(axis=0)) / 2 + PAD / 2


def accuracy(model: object, pictures: list, labels: np.ndarray) -> float:
    """The share of ``pictures`` (pictures or 28×28 digits) that ``model`` reads as ``labels``."""
    return float(np.mean([answer.pred == label for answer, label in zip(classify(model, pictures), labels)]))


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    task = parser.add_mutually_exclusive_group(required=True)
    task.add_argument("--check", nargs="+", metavar="CHECKPOINT", help="the models to score on test digits")
    task.add_argument("--measure", action="store_true", help="print the stroke share of training digits")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--count", type=int, default=1000, help="how many digits, taken at random")
    parser.add_argument("--pens", type=float, nargs="+", default=[6, 16, 28, 44], help="pen widths, pad pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="where to write the table as JSON")
    args = parser.parse_args(argv)
    ensure_raw_files(args.data_dir, download=False)
    images, labels = load_split(args.data_dir, train=args.measure)
    count = min(args.count, len(images))
    chosen = np.sort(np.random.default_rng(args.seed).choice(len(images), size=count, replace=False))
    digits, labels = images.numpy()[chosen], labels.numpy()[chosen]
    if args.measure:
        shares = np.array([stroke_share(digit) for digit in digits])
        low, middle, high = np.quantile(shares, [0.25, 0.5, 0.75])
        print(f"{len(digits)} training digits (seed {args.seed}): strokes {middle:.3f} of their extent wide "
              f"(quartiles {low:.3f}-{high:.3f}); the page draws with STROKE_SHARE = {STROKE_SHARE}")  # fmt: skip
        return 0
    traced = [trace(digit) for digit in digits]
    models = [load_classifier(checkpoint) for checkpoint in args.check]
    as_pictures = [Image.fromarray(digit) for digit in digits]
    rows = {"the digits as pictures": [accuracy(model, as_pictures, labels) for model in models]}
    for size in SIZES:
        for pen in args.pens:
            pictures = [draw(points, pen, size) for points in traced]
            rows[f"{size}, pen {pen:g}"] = [accuracy(model, pictures, labels) for model in models]
    for size, scale in SIZES.items():
        pictures = [draw(points, page_pen(points * scale), size) for points in traced]
        rows[f"{size}, as the page sends it"] = [accuracy(model, pictures, labels) for model in models]
    for hand, matrix in HANDS.items():
        pictures = [draw(moved, page_pen(moved), "large") for moved in (by_hand(points, matrix) for points in traced)]
        rows[f"{hand}, as the page sends it"] = [accuracy(model, pictures, labels) for model in models]
    print(f"{len(digits)} test digits (seed {args.seed}); accuracy of each model\n")
    print("| drawn | " + " | ".join(args.check) + " |\n|---|" + "---|" * len(models))
    for name, scores in rows.items():
        print(f"| {name} | " + " | ".join(f"{score:.3f}" for score in scores) + " |")
    if args.json:
        args.json.write_text(json.dumps({"digits": len(digits), "seed": args.seed, "models": args.check, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
