"""`predict` on the user's own files, and `classify` for other projects, on a model of the generated data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_lit import classify, cli_main, load_classifier
from mnist_lit.data import load_split
from mnist_lit.predictions import CSV_HEADER
from tests.helpers import cli_args, drawn_seven, fails, idx_bytes


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_test_set_npy_and_idx_give_the_same_answers(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data_dir, log_dir, checkpoint = trained
    test_set = cli_main(cli_args("predict", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    expected = [row["pred"] for row in read_rows(Path(test_set.trainer.log_dir) / "predictions.csv")]
    images = load_split(data_dir, train=False)[0].numpy()
    np.save(tmp_path / "test.npy", images)
    (tmp_path / "test-idx3-ubyte").write_bytes(idx_bytes(images))
    for source in ("test.npy", "test-idx3-ubyte"):
        out = tmp_path / f"{source}.csv"
        args = ["--ckpt_path", str(checkpoint), "--data.predict_path", str(tmp_path / source), "--output", str(out)]
        cli_main(cli_args("predict", data_dir, log_dir, *args))
        rows = read_rows(out)
        assert [row["pred"] for row in rows] == expected
        assert rows[7]["file"] == f"{tmp_path / source}[7]"


def test_a_folder_with_bad_files_writes_every_row_and_exits_3(
    trained: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, checkpoint = trained
    folder = tmp_path / "mine"
    folder.mkdir()
    drawn_seven().save(folder / "seven.png")
    drawn_seven().convert("RGB").save(folder / "seven.jpg")
    (folder / "notes.png").write_text("not a picture")
    out = tmp_path / "out" / "answers.csv"
    args = ["--ckpt_path", str(checkpoint), "--data.predict_path", str(folder), "--output", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        cli_main(cli_args("predict", data_dir, log_dir, *args))
    assert exit_info.value.code == 3
    printed = capsys.readouterr()
    assert "1 of 3 inputs could not be read" in printed.err
    assert "seven.png" in printed.out and "error: cannot read it as an image" in printed.out  # the short table
    rows = read_rows(out)
    assert tuple(rows[0]) == CSV_HEADER
    assert [Path(row["file"]).name for row in rows] == ["notes.png", "seven.jpg", "seven.png"]
    assert rows[0]["pred"] == "" and "not one of the formats read" in rows[0]["error"]
    for row in rows[1:]:
        ranked = [int(row["pred"]), int(row["top2"]), int(row["top3"])]
        chances = [float(row["confidence"]), float(row["top2_prob"]), float(row["top3_prob"])]
        assert len(set(ranked)) == 3 and chances == sorted(chances, reverse=True) and sum(chances) <= 1 + 1e-5
        assert row["error"] == ""


def test_nothing_readable_is_exit_2_and_writes_nothing(
    trained: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, checkpoint = trained
    (tmp_path / "empty.png").write_bytes(b"")
    out = tmp_path / "answers.csv"
    args = ["--ckpt_path", str(checkpoint), "--data.predict_path", str(tmp_path / "empty.png"), "--output", str(out)]
    err = fails(cli_args("predict", data_dir, log_dir, *args), capsys)
    assert "None of the 1 inputs" in err and "the file is empty" in err
    assert not out.exists()


def test_output_belongs_to_predict_only(fake_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = fails(cli_args("fit", fake_data_dir, tmp_path / "logs", "--output", str(tmp_path / "x.csv")), capsys)
    assert "unrecognized arguments: --output" in err  # an option of `predict` (mnist_lit.trainer.Trainer.predict)
    assert not (tmp_path / "logs").exists()


def test_predict_on_files_needs_no_mnist(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, log_dir, checkpoint = trained
    drawn_seven().save(tmp_path / "seven.png")
    args = ["--ckpt_path", str(checkpoint), "--data.predict_path", str(tmp_path / "seven.png")]
    cli = cli_main(cli_args("predict", tmp_path / "no_data_here", log_dir, *args))
    assert len(read_rows(Path(cli.trainer.log_dir) / "predictions.csv")) == 1


def test_classify_in_one_call_agrees_with_the_cli(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data_dir, log_dir, checkpoint = trained
    images = load_split(data_dir, train=False)[0].numpy()
    cli = cli_main(cli_args("predict", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    expected = [int(row["pred"]) for row in read_rows(Path(cli.trainer.log_dir) / "predictions.csv")]
    answers = classify(checkpoint, images)
    assert [answer.pred for answer in answers] == expected
    assert all(answer.error is None and 0 < answer.confidence <= 1 for answer in answers)
    # pictures and their files give the same answer; a bad file only marks its own answer
    drawn_seven().save(tmp_path / "seven.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG")
    model = load_classifier(checkpoint)
    from_files = classify(model, [tmp_path / "seven.png", tmp_path / "broken.png"])
    from_pictures = classify(model, [Image.open(tmp_path / "seven.png")])
    assert from_files[0].top == from_pictures[0].top
    assert from_files[1].pred is None and "cannot read it as an image" in from_files[1].error


def test_classify_answers_inputs_that_are_all_unreadable(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not a picture")
    answers = classify(trained[2], [tmp_path / "notes.png"])
    assert len(answers) == 1 and answers[0].pred is None and "cannot read it as an image" in answers[0].error
