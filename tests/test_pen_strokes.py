"""`scripts/pen_strokes.py`: MNIST digits traced and drawn again with the page's pens, models scored on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_lit.data.preprocess import STROKE_SHARE, mnist_style_array
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


def ring() -> np.ndarray:
    """A 28×28 "0": an ellipse 18 pixels tall, its stroke about two pixels wide."""
    rows, cols = np.mgrid[:28, :28]
    radius = np.hypot((rows - 13.5) / 9, (cols - 13.5) / 6)
    return (np.clip(1 - abs(radius - 1) * 5, 0, 1) * 255).astype(np.uint8)


def test_the_pages_pen_gives_the_model_the_same_digit_at_either_size() -> None:
    points = pen_strokes.trace(ring())
    assert pen_strokes.page_pen(points) == pytest.approx(STROKE_SHARE * pen_strokes.extent(points))
    assert pen_strokes.page_pen(points[:1]) == 1  # a dot: one pixel, not none

    def seen(pen_at: dict[str, float]) -> dict[str, np.ndarray]:
        return {size: mnist_style_array(pen_strokes.draw(points, pen_at[size], size)) for size in pen_strokes.SIZES}

    page = seen({size: pen_strokes.page_pen(points * scale) for size, scale in pen_strokes.SIZES.items()})
    broad = seen(dict.fromkeys(pen_strokes.SIZES, 44))
    assert np.abs(page["large"] - page["small"]).mean() < 0.02  # the model receives nearly one picture
    assert np.abs(broad["large"] - broad["small"]).mean() > 0.05  # where one pen draws both, it does not
    assert (broad["small"] > 0.5).sum() > 1.3 * (page["small"] > 0.5).sum()  # the broad pen's loop fills in


def test_mnists_stroke_share_is_measured_as_ink_over_length_over_extent() -> None:
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:24, 13:15] = 255  # a "1" two pixels wide and 20 long: 20 and 200 at the pad's scale
    # its skeleton stops short of the ends by about the width (172 long), as a pen's path stops short of its
    # ink: the ink's 3,960 pixels over 172 make 23 wide, over 171 across
    assert 20 / 200 < pen_strokes.stroke_share(digit) < 20 / 140
    assert pen_strokes.stroke_share(ring()) < pen_strokes.stroke_share(digit)  # the ring is longer for its width


def test_other_hands_slant_turn_and_narrow_the_strokes_and_keep_them_on_the_pad() -> None:
    points = pen_strokes.trace(ring())  # taller than wide: 18 rows by 12 columns before scaling
    height, width = np.ptp(points, axis=0)
    hands = {hand: pen_strokes.by_hand(points, matrix) for hand, matrix in pen_strokes.HANDS.items()}
    for moved in hands.values():
        assert moved.min() >= 0 and moved.max() <= pen_strokes.PAD  # on the pad
        assert pen_strokes.extent(moved) <= pen_strokes.FILL * pen_strokes.PAD + 1e-9
        assert np.allclose((moved.max(axis=0) + moved.min(axis=0)) / 2, pen_strokes.PAD / 2)  # centred
    narrow, wide = np.ptp(hands["narrow (0.6 as wide)"], axis=0), np.ptp(hands["wide (1.4 as wide)"], axis=0)
    assert narrow[1] / narrow[0] == pytest.approx(0.6 * width / height, rel=1e-6)
    assert wide[1] / wide[0] == pytest.approx(1.4 * width / height, rel=1e-6)

    def top_column(moved: np.ndarray) -> float:  # the mean column of the digit's top tenth, against the whole's
        top = moved[:, 0] < moved[:, 0].min() + 0.1 * np.ptp(moved[:, 0])
        return float(moved[top, 1].mean() - moved[:, 1].mean())

    assert top_column(hands["slanted right (shear 0.4)"]) > 10 > -10 > top_column(hands["slanted left (shear 0.4)"])
    assert top_column(hands["turned 20° anticlockwise"]) < -10 < 10 < top_column(hands["turned 20° clockwise"])


def test_the_script_scores_each_model_on_each_size_and_pen(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, out = trained[2], tmp_path / "pens.json"
    args = ["--check", str(checkpoint), "--data-dir", str(trained[0]), "--count", "20", "--pens", "6", "44"]
    assert pen_strokes.main([*args, "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["digits"] == 20 and table["models"] == [str(checkpoint)]
    sent = [f"{way}, as the page sends it" for way in ["large", "small", *pen_strokes.HANDS]]
    names = ["large, pen 6", "large, pen 44", "small, pen 6", "small, pen 44", *sent]
    assert list(table["rows"]) == ["the digits as pictures", *names]
    for (score,) in table["rows"].values():
        assert 0 <= score <= 1 and score * 20 == pytest.approx(round(score * 20))  # a share of the 20 digits


def test_the_script_measures_the_stroke_share_of_training_digits(
    fake_data_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert pen_strokes.main(["--measure", "--data-dir", str(fake_data_dir), "--count", "30"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("30 training digits (seed 0): strokes 0.") and f"STROKE_SHARE = {STROKE_SHARE}" in printed
    with pytest.raises(SystemExit) as exit_info:
        pen_strokes.main(["--data-dir", str(fake_data_dir)])  # neither models to score nor --measure
    assert exit_info.value.code == 2 and "--check" in capsys.readouterr().err
