"""`scripts/other_writers.py`: models scored on the UCI digits that scikit-learn ships, made MNIST-style."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_lit.data.preprocess import mnist_style_array
from tests.helpers import import_script

other_writers = import_script("other_writers")


def test_an_8x8_digit_becomes_a_picture_of_the_same_shape_white_on_black() -> None:
    counts = np.zeros((8, 8), dtype=np.int64)
    counts[1:7, 2] = 16  # an "L": a full stroke down the third column, then along the bottom row
    counts[6, 2:6] = 16
    picture = np.asarray(other_writers.picture(counts), dtype=np.float32) / 255
    assert picture.shape == (64, 64) and picture[0, 0] == 0 and picture.max() == pytest.approx(1, abs=0.02)
    rows, cols = np.nonzero(picture > 0.5)
    # where the counts are (rows 1-6, columns 2-5 of 8), within the 2 pixels the bicubic filter spreads them
    assert np.allclose([rows.min(), rows.max() + 1, cols.min(), cols.max() + 1], [8, 56, 16, 48], atol=2)
    assert picture[30, 20] > 0.9 and picture[30, 40] < 0.1  # the upright stroke on the left, not the right
    seen = mnist_style_array(other_writers.picture(counts))
    ink_rows = np.nonzero(seen > 0.5)[0]
    assert np.ptp(ink_rows) > 15 and seen[ink_rows.max()].sum() > seen[ink_rows.min()].sum()  # the foot at the bottom


def test_the_script_scores_each_model_on_the_uci_digits(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, out = trained[2], tmp_path / "writers.json"
    assert other_writers.main(["--check", str(checkpoint), "--count", "50", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["digits"] == 50 and list(scores["models"]) == [str(checkpoint)]
    result = scores["models"][str(checkpoint)]
    assert result["errors"] == sum(result["errors_per_digit"]) == round((1 - result["accuracy"]) * 50)
    labels = other_writers.uci_digits()[1][:50]
    assert all(errors <= (labels == digit).sum() for digit, errors in enumerate(result["errors_per_digit"]))


def test_without_scikit_learn_the_script_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # as Python finds a package that is not installed
    assert other_writers.main(["--check", "any.ckpt"]) == 2
    err = capsys.readouterr().err
    assert "scikit-learn" in err and "pip install scikit-learn" in err and "Traceback" not in err
