"""Bad input through the real entry point: a one-paragraph message, exit status 2, nothing written changed."""

from __future__ import annotations

import csv
import gzip
import hashlib
import struct
from pathlib import Path

import pytest
import torch

from mnist_lit import cli_main
from tests.helpers import cli_args, fails


def digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def checkpoint(fake_data_dir: Path, tmp_path: Path) -> Path:
    cli = cli_main(cli_args("fit", fake_data_dir, tmp_path / "logs", "--trainer.max_epochs", "1"))
    return Path(cli.trainer.checkpoint_callback.last_model_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_checkpoint(damage: str, checkpoint: Path, fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint" if damage == "garbage" else checkpoint.read_bytes()[:2000])
    before = digest(fake_data_dir)
    err = fails(cli_args("test", fake_data_dir, tmp_path / "logs", "--ckpt_path", str(bad)), capsys)
    assert "bad.ckpt is not a readable checkpoint" in err
    assert digest(fake_data_dir) == before


def test_checkpoint_of_another_architecture(checkpoint: Path, fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    args = cli_args("test", fake_data_dir, tmp_path / "logs", "--ckpt_path", str(checkpoint), config="two_hidden.yaml")
    err = fails(args, capsys)
    assert "MLP(hidden_sizes=[64])" in err and "MLP(hidden_sizes=[64, 1024])" in err


def test_unwritable_log_dir_fails_before_training(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = fails(cli_args("fit", fake_data_dir, blocker / "logs"), capsys)
    assert "Cannot write the run's logs" in err and "--trainer.logger.init_args.save_dir" in err
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_gpu_requested_without_one(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    err = fails(cli_args("fit", fake_data_dir, tmp_path / "logs", "--trainer.accelerator", "gpu"), capsys)
    assert "--trainer flags" in err


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--model.lr", "0", "--model.lr must be positive"),
        ("--model.net.init_args.hidden_sizes", "[64, 0]", "positive layer widths"),
        (
            "--model.hidden_sizes",
            "[64, 1024]",
            "is chosen already (net). Give the MLP's widths as --model.net.init_args",
        ),
        ("--data.batch_size", "0", "Batch sizes must be positive"),
        ("--data.val_size", "60000", "--data.val_size must be from 0 to 59999"),
    ],
)
def test_bad_configuration_is_refused(flag: str, value: str, words: str, fake_data_dir: Path, tmp_path, capsys) -> None:
    assert words in fails(cli_args("fit", fake_data_dir, tmp_path / "logs", flag, value), capsys)
    assert not list((tmp_path / "logs").rglob("*.ckpt"))


def test_unknown_key_is_named(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    assert "hidden_size" in fails(
        cli_args("fit", fake_data_dir, tmp_path / "logs", "--model.hidden_size", "64"), capsys
    )


def test_diverging_run_stops_without_saving_nan_weights(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    err = fails(cli_args("fit", fake_data_dir, tmp_path / "logs", "--model.lr", "1e30"), capsys)
    assert "Training diverged" in err and "--model.lr" in err
    assert not list((tmp_path / "logs").rglob("*.ckpt"))


def test_same_seed_gives_identical_results(fake_data_dir: Path, tmp_path: Path) -> None:
    def run(name: str) -> tuple[float, list[dict]]:
        log_dir = tmp_path / name
        cli_main(cli_args("fit", fake_data_dir, log_dir, "--trainer.max_epochs", "2"))
        test = cli_main(cli_args("test", fake_data_dir, log_dir, "--ckpt_path", "last"))
        rows = list(csv.DictReader((Path(test.trainer.log_dir) / "misclassified" / "misclassified.csv").open()))
        return float(test.trainer.callback_metrics["test/loss"]), rows

    assert run("first") == run("second")


def damage_data(raw: Path, case: str) -> None:
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    if case == "absent":
        for path in raw.iterdir():
            path.unlink()
    elif case == "truncated gz":
        content = images.read_bytes()
        images.unlink()
        (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(content)[:500])
    elif case == "wrong size":
        images.write_bytes(images.read_bytes()[:-784])
    elif case == "wrong magic":
        content = bytearray(images.read_bytes())
        content[3] = 0x01
        images.write_bytes(bytes(content))
    elif case == "label count":
        content = labels.read_bytes()
        labels.write_bytes(content[:4] + struct.pack(">I", 599) + content[8:-1])


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("absent", "scripts/prepare_data.py --dataset mnist --source DIR"),
        ("truncated gz", "train-images-idx3-ubyte.gz is not a complete gzip file"),
        ("wrong size", "train-images-idx3-ubyte does not hold the MNIST file"),
        ("wrong magic", "train-images-idx3-ubyte does not hold the MNIST file"),
        ("label count", "train-labels-idx1-ubyte does not hold the MNIST file"),
    ],
)
def test_bad_data_is_named_and_left_alone(case: str, words: str, fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    raw = fake_data_dir / "MNIST" / "raw"
    damage_data(raw, case)
    before = digest(fake_data_dir)
    err = fails(cli_args("fit", fake_data_dir, tmp_path / "logs"), capsys)
    assert words in err
    if case in ("wrong size", "wrong magic", "label count"):
        assert "expected" in err and "is " in err  # the MD5 expected and the one found
    assert digest(fake_data_dir) == before
    assert not list((tmp_path / "logs").rglob("*.ckpt"))


def test_nearly_untrained_model_lists_every_error(fake_data_dir: Path, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    few_steps = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--model.lr", "1e-9"]
    cli_main(cli_args("fit", fake_data_dir, log_dir, *few_steps))
    test = cli_main(cli_args("test", fake_data_dir, log_dir, "--ckpt_path", "last"))
    errors = round((1 - float(test.trainer.callback_metrics["test/acc"])) * 200)
    assert errors > 100  # most of the 200 test digits
    rows = (Path(test.trainer.log_dir) / "misclassified" / "misclassified.csv").read_text().splitlines()
    assert len(rows) == errors + 1
    callback = next(c for c in test.trainer.callbacks if type(c).__name__ == "MisclassifiedDigits")
    assert len(callback._images) == callback.max_images == 25  # the picture is capped, the table is not
