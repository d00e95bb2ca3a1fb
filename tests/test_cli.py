from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lit import cli_main, load_classifier
from mnist_lit.data import raw_files
from tests.helpers import CONFIGS, REPO, cli_args, trusting_cli, write_fake_mnist


def test_fit_fast_dev_run_writes_nothing_into_the_working_directory(
    fake_data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path / "data")
    cli = cli_main(cli_args("fit", fake_data_dir, tmp_path / "logs", "--trainer.fast_dev_run", "true"))
    assert cli.trainer.state.finished
    assert cli.trainer.global_step == 1
    assert sorted(path.name for path in Path.cwd().iterdir()) == ["MNIST"]  # no checkpoints/ beside the data


def test_the_progress_bar_can_be_turned_off(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    args = cli_args("fit", fake_data_dir, tmp_path / "logs", "--trainer.max_epochs", "1")
    cli = cli_main([*args, "--trainer.enable_progress_bar", "false"])
    assert cli.trainer.state.finished and cli.trainer.progress_bar_callback is None
    assert "Epoch 0" not in capsys.readouterr().out


@pytest.mark.parametrize(("limit", "steps"), [("1", 1), ("3", 3), ("1.0", 19), ("0.5", 9)])
def test_a_whole_number_of_batches_is_a_count_and_a_decimal_a_fraction(
    limit: str, steps: int, fake_data_dir: Path, tmp_path: Path
) -> None:
    """As Lightning documents it: `1` is one batch, `1.0` all 19 of the 600 generated images' batches."""
    args = cli_args("fit", fake_data_dir, tmp_path / "logs", "--trainer.max_epochs", "1", "--model.steps_per_call", "1")
    cli = cli_main([*args, "--trainer.limit_train_batches", limit])
    assert cli.trainer.global_step == steps


def test_fit_logs_config_and_epoch_metrics(trained: tuple[Path, Path, Path]) -> None:
    _, log_dir, checkpoint = trained
    run_dir = checkpoint.parent.parent
    assert run_dir.parent == log_dir / "one_hidden"  # TensorBoard logs per config
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["init_args"]["net"]["init_args"] == {"hidden_sizes": [64]}
    assert saved["seed_everything"] == 42
    events = EventAccumulator(str(run_dir)).Reload()
    assert {"train/loss", "train/acc", "time/epoch_s"} <= set(events.Tags()["scalars"])
    assert len(events.Scalars("train/acc")) == 2  # one point per epoch


def test_test_writes_misclassified_table_picture_and_tensorboard(trained: tuple[Path, Path, Path]) -> None:
    data_dir, log_dir, checkpoint = trained
    cli = cli_main(cli_args("test", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    accuracy = float(cli.trainer.callback_metrics["test/acc"])
    assert accuracy > 0.5  # learnable fake digits: far above chance after two epochs
    out = Path(cli.trainer.log_dir) / "misclassified"
    rows = list(csv.DictReader((out / "misclassified.csv").open()))
    assert len(rows) == round((1 - accuracy) * 200)
    assert all(row["true"] != row["pred"] for row in rows)
    assert all(0.0 < float(row["confidence"]) <= 1.0 for row in rows)
    assert len({row["index"] for row in rows}) == len(rows)
    assert (out / "misclassified.png").stat().st_size > 0
    events = EventAccumulator(str(cli.trainer.log_dir)).Reload()
    assert {"test/loss", "test/acc"} <= set(events.Tags()["scalars"])
    assert "test/misclassified" in events.Tags()["images"]


def test_last_finds_the_newest_checkpoint_of_the_config(trained: tuple[Path, Path, Path]) -> None:
    data_dir, log_dir, checkpoint = trained
    cli = cli_main(cli_args("test", data_dir, log_dir, "--ckpt_path", "last"))
    assert cli.trainer.ckpt_path == str(checkpoint)


def test_predict_writes_predictions(trained: tuple[Path, Path, Path]) -> None:
    data_dir, log_dir, checkpoint = trained
    cli = cli_main(cli_args("predict", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    rows = list(csv.DictReader((Path(cli.trainer.log_dir) / "predictions.csv").open()))
    assert [row["file"] for row in rows] == [f"test[{i}]" for i in range(200)]  # the test set, in order
    assert {row["pred"] for row in rows} <= {str(d) for d in range(10)}
    assert all(row["error"] == "" for row in rows)


def test_validate_uses_a_held_out_split(trained: tuple[Path, Path, Path]) -> None:
    data_dir, log_dir, checkpoint = trained
    cli = cli_main(cli_args("validate", data_dir, log_dir, "--ckpt_path", str(checkpoint), "--data.val_size", "100"))
    images, labels = cli.datamodule.splits["val"]
    assert len(labels) == 100  # the held-out images, not the training set
    with torch.no_grad():
        correct = int((load_classifier(checkpoint)(images).argmax(dim=1) == labels).sum())
    assert round(float(cli.trainer.callback_metrics["val/acc"]) * 100) == correct  # the checkpoint's own score


def test_validate_without_a_split_says_how_to_make_one(trained, capsys) -> None:
    data_dir, log_dir, checkpoint = trained
    with pytest.raises(SystemExit) as exit_info:
        cli_main(cli_args("validate", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    assert exit_info.value.code == 2
    assert "--data.val_size" in capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_evaluation_without_checkpoint_is_refused(subcommand: str, fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(cli_args(subcommand, fake_data_dir, tmp_path / "logs"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no --ckpt_path was given" in err and "--ckpt_path last" in err
    assert not (tmp_path / "logs").exists()  # refused before anything was written


def test_missing_checkpoint_file_is_named(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        cli_main(cli_args("test", fake_data_dir, tmp_path / "logs", "--ckpt_path", str(tmp_path / "nope.ckpt")))
    assert "nope.ckpt does not exist" in capsys.readouterr().err


def test_last_without_any_run_says_to_fit_first(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        cli_main(cli_args("test", fake_data_dir, tmp_path / "logs", "--ckpt_path", "last"))
    assert "Run `fit` with the same --config first" in capsys.readouterr().err


def test_print_config_round_trips(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--config", str(CONFIGS / "two_hidden.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["init_args"]["net"]["init_args"]["hidden_sizes"] == [64, 1024]
    assert config["model"]["init_args"]["lr"] == 0.001
    assert config["data"]["batch_size"] == 32 and config["data"]["val_size"] == 0
    assert config["trainer"]["max_epochs"] == 20
    assert config["seed_everything"] == 42


def test_module_entry_point_names_the_program_as_typed_and_says_what_it_does() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mnist_lit", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m mnist_lit ")
    assert "MNIST digit classifiers" in result.stdout and "Lightning Trainer command line tool" not in result.stdout
    assert all(word in result.stdout for word in ("fit", "validate", "test", "predict"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_gpu_keeps_the_data_on_the_device(fake_data_dir: Path, tmp_path: Path) -> None:
    cli = cli_main(
        cli_args("fit", fake_data_dir, tmp_path / "logs", "--trainer.accelerator", "gpu", "--trainer.max_epochs", "1")
    )
    assert cli.datamodule.splits["train"][0].is_cuda
    assert cli.trainer.checkpoint_callback.last_model_path


def test_test_writes_the_confusion_matrix_and_per_class_accuracy(trained: tuple[Path, Path, Path]) -> None:
    data_dir, log_dir, checkpoint = trained
    cli = cli_main(cli_args("test", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    out = Path(cli.trainer.log_dir) / "confusion"
    rows = list(csv.reader((out / "confusion_matrix.csv").open()))
    assert rows[0][1:] == [str(c) for c in range(10)]
    matrix = [[int(cell) for cell in row[1:]] for row in rows[1:]]
    assert sum(map(sum, matrix)) == 200  # every test digit once
    correct = sum(matrix[c][c] for c in range(10))
    assert correct / 200 == pytest.approx(float(cli.trainer.callback_metrics["test/acc"]))
    per_class = list(csv.DictReader((out / "per_class.csv").open()))
    assert [int(row["count"]) for row in per_class] == [sum(row) for row in matrix]
    assert sum(int(row["correct"]) for row in per_class) == correct
    assert (out / "confusion_matrix.png").stat().st_size > 0
    assert "test/confusion_matrix" in EventAccumulator(str(cli.trainer.log_dir)).Reload().Tags()["images"]


def test_fit_test_and_predict_print_no_tips_and_no_warnings(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    md5s = write_fake_mnist(raw_files.raw_dir(data_dir))
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", md5s)
    for subcommand, *extra in (["fit", "--trainer.max_epochs", "1"], ["test", "--ckpt_path", "last"],
                               ["predict", "--ckpt_path", "last"]):  # fmt: skip
        args = cli_args(subcommand, data_dir, tmp_path / "logs", *extra)
        done = subprocess.run(trusting_cli(md5s, args), cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        printed = done.stdout + done.stderr
        assert "Tip" not in printed and "Warning" not in printed and "warn" not in printed.lower(), printed[-3000:]
