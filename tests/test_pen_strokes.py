"""`scripts/pen_strokes.py`: MNIST digits traced and drawn again with the page's pens, models scored on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import import_script

pen_strokes = import_script("pen_strokes")


def test_a_thick_bar_thins_to_one_pixel_along_its_middle() -> None:
    bar = np.zeros((200, 280), dtype=bool)
    bar[100:130, 20:260] = True  # 30 pixels thick, 240 long
    thin = pen_strokes.skeleton(bar)
    middle = thin[:, 50:230]
    assert (middle.sum(axis=0) == 1).all()  # one pixel in every column
    rows = np.argwhere(middle)[:, 0]
    assert abs(rows.mean() - 114.5) <= 1 and rows.max() - rows.min() <= 1
    assert np.ptp(thin.any(axis=0).nonzero()[0]) >= 200  # it keeps the bar's length


def test_a_traced_stroke_is_drawn_with_the_pens_width_at_either_size() -> None:
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:24, 13:15] = 255  # a "1": a vertical stroke two pixels wide
    points = pen_strokes.trace(digit)
    heights = {}
    for size in pen_strokes.SIZES:
        ink = np.asarray(pen_strokes.draw(points, 20, size)) < 128
        rows = ink.any(axis=1).nonzero()[0]
        middle = (rows.min() + rows.max()) // 2
        assert abs(int(ink[middle].sum()) - 20) <= 2  # the pen's width, in pad pixels, whatever the size
        heights[size] = rows.max() - rows.min() + 1 - 20
    assert abs(heights["small"] - heights["large"] / 2) <= 4  # the stroke half as long when small


def test_the_script_scores_each_model_on_each_size_and_pen(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, out = trained[2], tmp_path / "pens.json"
    args = ["--check", str(checkpoint), "--data-dir", str(trained[0]), "--count", "20", "--pens", "6", "44"]
    assert pen_strokes.main([*args, "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["digits"] == 20 and table["models"] == [str(checkpoint)]
    names = ["large, pen 6", "large, pen 44", "small, pen 6", "small, pen 44"]
    assert list(table["rows"]) == ["the digits as pictures", *names]
    for (score,) in table["rows"].values():
        assert 0 <= score <= 1 and score * 20 == pytest.approx(round(score * 20))  # a share of the 20 digits
