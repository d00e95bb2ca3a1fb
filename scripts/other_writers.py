"""Score models on digits from other writers: the UCI handwritten digits that scikit-learn ships, made MNIST-style.

python scripts/other_writers.py --check logs/cnn_robust/version_0/checkpoints/last.ckpt
python scripts/other_writers.py --check A.ckpt B.ckpt --json writers.json

MNIST's digits were written by Census Bureau employees and American high-school students. These 1,797
digits (``sklearn.datasets.load_digits``: the test part of UCI's "Optical Recognition of Handwritten
Digits", Alpaydin and Kaynak, 1998) were written on forms by 13 other people. NIST's programs cut each into
a 32×32 bitmap, and UCI counted its ink in 4×4 blocks: an 8×8 picture of counts 0-16, so their strokes are
blurred and some are hard for people too (9s whose small loop closes into the hook of a 3). Each digit is
scaled up 8× (bicubic) into a 64×64 picture, white on black, and goes through `classify`, which makes it
MNIST-style as `predict` and the page do (``mnist_style``). No model was trained or chosen on these digits.
Printed: a markdown table of each model's accuracy and its errors, with the digits it misreads most.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_lit import classify, load_classifier
from mnist_lit.errors import MnistLitError, exits_on_user_error

BLOCK = 4  # UCI's 8×8 counts are of 4×4 blocks of a 32×32 bitmap: 0 to 16 pixels of ink
SCALE = 8  # the side each count becomes in the picture


def picture(counts: np.ndarray) -> Image.Image:
    """An 8×8 digit of ink counts (0-16) as a 64×64 grayscale picture, white ink on black."""
    gray = (np.asarray(counts, dtype=np.float32) * (255 / BLOCK**2)).round().astype(np.uint8)
    side = gray.shape[0] * SCALE
    return Image.fromarray(gray).resize((side, side), Image.BICUBIC)


def uci_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 UCI digits ``[n, 8, 8]`` (ink counts) and their labels, from scikit-learn's copy."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise MnistLitError(
            "scripts/other_writers.py reads the UCI digits from scikit-learn, which is not installed. Install "
            "it with `pip install scikit-learn` (the project's `dev` extra includes it)."
        ) from err
    digits = load_digits()
    return digits.images, digits.target


def score(model: object, pictures: list[Image.Image], labels: np.ndarray) -> dict:
    """``model``'s accuracy on ``pictures``, its errors, and its errors for each true digit."""
    preds = np.array([answer.pred for answer in classify(model, pictures)])
    wrong = preds != labels
    return {
        "accuracy": float(1 - wrong.mean()),
        "errors": int(wrong.sum()),
        "errors_per_digit": [int(wrong[labels == digit].sum()) for digit in range(10)],
    }


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", nargs="+", required=True, metavar="CHECKPOINT", help="the models to score")
    parser.add_argument("--count", type=int, help="only the first COUNT digits (a quick look; all by default)")
    parser.add_argument("--json", type=Path, help="where to write the scores as JSON")
    args = parser.parse_args(argv)
    counts, labels = uci_digits()
    counts, labels = counts[: args.count], labels[: args.count]
    pictures = [picture(digit) for digit in counts]
    scores = {checkpoint: score(load_classifier(checkpoint), pictures, labels) for checkpoint in args.check}
    print(f"{len(labels)} UCI digits by 13 writers MNIST never saw; each model's accuracy\n")
    print("| model | accuracy | errors | most misread (digit: errors) |\n|---|---|---|---|")
    for checkpoint, result in scores.items():
        misread = sorted(range(10), key=lambda digit: -result["errors_per_digit"][digit])[:3]
        worst = ", ".join(f"{digit}: {result['errors_per_digit'][digit]}" for digit in misread)
        print(f"| {checkpoint} | {result['accuracy']:.3f} | {result['errors']} | {worst} |")
    if args.json:
        args.json.write_text(json.dumps({"digits": len(labels), "models": scores}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
