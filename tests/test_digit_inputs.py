"""What `predict` reads: folders of images, single files, .npy arrays and IDX files; bad files keep their error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_lit import MnistLitError
from mnist_lit.data import DigitInputs, from_array, read_digits
from tests.helpers import drawn_seven, idx_bytes, learnable_digits


def folder_of_scans(folder: Path) -> Path:
    """Three good pictures (PNG, JPEG, BMP), three bad image files and a text file."""
    folder.mkdir()
    drawn_seven().save(folder / "a_seven.png")
    drawn_seven().convert("RGB").save(folder / "b_seven.jpg", quality=80)
    (folder / "sub").mkdir()
    drawn_seven().save(folder / "sub" / "c_seven.bmp")
    (folder / "d_not_an_image.png").write_text("hello")
    (folder / "e_empty.jpg").write_bytes(b"")
    png = (folder / "a_seven.png").read_bytes()
    (folder / "f_truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "notes.txt").write_text("scanned on Tuesday")
    return folder


def test_a_folder_reads_every_image_in_name_order_and_keeps_each_error(tmp_path: Path) -> None:
    folder = folder_of_scans(tmp_path / "scans")
    inputs = read_digits(folder)
    assert [Path(name).name for name in inputs.names] == [
        "a_seven.png", "b_seven.jpg", "d_not_an_image.png", "e_empty.jpg", "f_truncated.png", "c_seven.bmp",
    ]  # fmt: skip
    assert inputs.positions.tolist() == [0, 1, 5]
    assert inputs.images.shape == (3, 28, 28)
    assert set(inputs.errors) == {2, 3, 4}
    assert "not one of the formats read" in inputs.errors[2]
    assert "empty" in inputs.errors[3]
    assert "truncated" in inputs.errors[4]
    # the three pictures are one drawing: JPEG and BMP give the PNG's digit
    assert np.abs(inputs.images - inputs.images[0]).mean() < 0.01


def test_one_bad_image_file_is_an_error_row_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_text("not a picture")
    inputs = read_digits(tmp_path / "x.png")
    assert inputs.names == [str(tmp_path / "x.png")] and len(inputs.images) == 0 and 0 in inputs.errors


def test_npy_and_idx_files_hold_mnist_format_digits(tmp_path: Path) -> None:
    digits = learnable_digits(5, seed=3)[0]
    np.save(tmp_path / "digits.npy", digits)
    np.save(tmp_path / "flat.npy", digits.reshape(5, 784).astype(np.float32) / 255)
    (tmp_path / "digits-idx3-ubyte").write_bytes(idx_bytes(digits))
    (tmp_path / "digits-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(digits)))
    expected = digits.astype(np.float32) / 255
    for name in ("digits.npy", "flat.npy", "digits-idx3-ubyte", "digits-idx3-ubyte.gz"):
        inputs = read_digits(tmp_path / name)
        assert inputs.images.dtype == np.float32 and np.allclose(inputs.images, expected), name
        assert inputs.names == [f"{tmp_path / name}[{i}]" for i in range(5)]


def test_several_sources_are_numbered_in_order(tmp_path: Path) -> None:
    np.save(tmp_path / "two.npy", learnable_digits(2, seed=3)[0])
    (tmp_path / "bad.png").write_bytes(b"")
    drawn_seven().save(tmp_path / "seven.png")
    inputs = read_digits([tmp_path / "two.npy", tmp_path / "bad.png", tmp_path / "seven.png"])
    assert len(inputs.names) == 4 and inputs.positions.tolist() == [0, 1, 3] and set(inputs.errors) == {2}


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros((3, 32, 32), np.uint8), "shape (3, 32, 32)"),
        (np.zeros((0, 28, 28), np.uint8), "shape (0, 28, 28)"),
        (np.full((2, 28, 28), 300.0), "pixel values from 300.0 to 300.0"),
        (np.full((2, 28, 28), np.nan), "pixel values"),
    ],
)
def test_arrays_of_the_wrong_shape_or_range_are_refused(array: np.ndarray, words: str) -> None:
    with pytest.raises(MnistLitError, match=words.replace("(", r"\(").replace(")", r"\)")):
        from_array(array, "digits.npy")


def test_pixels_0_to_255_and_floats_in_0_1_mean_the_same() -> None:
    digits = learnable_digits(3, seed=4)[0]
    assert np.array_equal(from_array(digits).images, from_array(digits.astype(np.float32) / 255).images)
    assert np.array_equal(from_array(torch.from_numpy(digits)).images, from_array(digits).images)  # tensors too
    assert from_array(digits[0]).images.shape == (1, 28, 28)  # one digit


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda path: None, "does not exist"),
        (lambda path: path.mkdir(), "holds no image files"),
        (lambda path: path.with_suffix(".npy").write_text("nope"), "not a readable .npy array"),
        (lambda path: path.with_suffix(".gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01abc")), "not a readable IDX"),
    ],
)
def test_unusable_paths_are_named_with_the_fix(tmp_path: Path, make, words: str) -> None:
    target = tmp_path / "inputs"
    make(target)
    path = next(tmp_path.iterdir(), target)
    with pytest.raises(MnistLitError, match=words) as error:
        read_digits(path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, FileNotFoundError) == (words == "does not exist")


def test_concat_renumbers_positions_and_errors() -> None:
    one = DigitInputs(["a", "b"], np.zeros((1, 28, 28), np.float32), np.array([1]), {0: "empty"})
    two = DigitInputs(["c", "d"], np.ones((2, 28, 28), np.float32), np.array([0, 1]))
    both = DigitInputs.concat([one, two])
    assert both.names == ["a", "b", "c", "d"]
    assert both.positions.tolist() == [1, 2, 3] and both.errors == {0: "empty"}
    assert (both.images[1:] == 1).all()


def test_pictures_keep_a_readable_error_when_blank(tmp_path: Path) -> None:
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    assert "no ink" in read_digits(tmp_path / "blank.png").errors[0]


def test_a_picture_that_cannot_be_converted_keeps_its_error(tmp_path: Path, monkeypatch) -> None:
    from mnist_lit.data import digit_inputs

    def refuse(picture: Image.Image) -> np.ndarray:
        raise ValueError("conversion from CMYK;16 not supported")

    drawn_seven().save(tmp_path / "odd.png")
    monkeypatch.setattr(digit_inputs, "mnist_style_array", refuse)
    inputs = read_digits(tmp_path / "odd.png")
    assert inputs.errors == {0: "cannot convert it to grayscale (conversion from CMYK;16 not supported)"}
