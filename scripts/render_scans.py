"""Render MNIST test digits as a user's scans would look, to try `predict` on image files.

python scripts/render_scans.py --data-dir data --out-dir scans --count 20
python scripts/render_scans.py --data-dir data --out-dir scans --count 1000 --check CHECKPOINT

Each digit is upscaled 4-7×, drawn in dark ink on off-white paper, placed off-centre on a 200×200
sheet with a little noise; every other one is in colour and every third one is saved as a JPEG. The
file names carry the test index and true label (``00042_label7.png``); ``originals.npy`` holds the
28×28 digits in the same order. ``--check CHECKPOINT`` then reports how many scans the model reads as it
reads their original digits (how faithful `mnist_style` is for that model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_lit import classify, load_classifier
from mnist_lit.data import ensure_raw_files, load_split
from mnist_lit.errors import exits_on_user_error

SHEET = 200


def render_scan(digit: np.ndarray, index: int, rng: np.random.Generator) -> Image.Image:
    """A 200×200 picture of a 28×28 MNIST digit (white on black) as dark ink on paper."""
    side = 28 * int(rng.integers(4, 8))
    stroke = np.asarray(Image.fromarray(digit).resize((side, side), Image.BICUBIC), dtype=np.float32) / 255
    sheet = np.zeros((SHEET, SHEET), dtype=np.float32)
    top, left = rng.integers(0, SHEET - side + 1, size=2)
    sheet[top : top + side, left : left + side] = stroke
    paper, ink = rng.uniform(215, 250), rng.uniform(10, 70)
    gray = paper - (paper - ink) * sheet + rng.normal(0, 3, sheet.shape)
    if index % 2:
        tint = np.array([0.9, 0.95, 1.1])  # blue-black ink on slightly cool paper
        return Image.fromarray(np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8), mode="RGB")
    return Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8), mode="L")


def write_scans(digits: np.ndarray, labels: np.ndarray, indices: np.ndarray, out_dir: Path, seed: int) -> list[Path]:
    """Write one scan per digit and ``originals.npy``; every third scan is a JPEG (quality 85)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for n, (digit, label, index) in enumerate(zip(digits, labels, indices)):
        scan = render_scan(digit, n, rng)
        paths.append((out_dir / f"{index:05d}_label{label}").with_suffix(".jpg" if n % 3 == 2 else ".png"))
        scan.save(paths[-1], **({"quality": 85} if n % 3 == 2 else {}))
    np.save(out_dir / "originals.npy", digits)
    return paths


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--out-dir", default="scans")
    parser.add_argument("--count", type=int, default=20, help="how many test digits, taken at random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", metavar="CHECKPOINT", help="report how many scans this model reads as the originals")
    args = parser.parse_args(argv)
    ensure_raw_files(args.data_dir, download=False)
    images, labels = load_split(args.data_dir, train=False)
    count = min(args.count, len(images))
    chosen = np.sort(np.random.default_rng(args.seed).choice(len(images), size=count, replace=False))
    digits = images.numpy()[chosen]
    scans = write_scans(digits, labels.numpy()[chosen], chosen, Path(args.out_dir), args.seed)
    print(f"{len(chosen)} scans and originals.npy written to {args.out_dir}")
    if args.check:
        report_agreement(args.check, scans, digits)
    return 0


def report_agreement(checkpoint: str, scans: list[Path], digits: np.ndarray) -> None:
    model = load_classifier(checkpoint)
    on_scans, on_originals = classify(model, scans), classify(model, digits)
    same = sum(scan.pred == original.pred for scan, original in zip(on_scans, on_originals))
    print(f"{checkpoint}: {same} of {len(on_scans)} scans ({same / len(on_scans):.3f}) read as their originals")


if __name__ == "__main__":
    sys.exit(main())
