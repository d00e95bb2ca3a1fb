"""DDP on CPU (gloo): sharded loaders, exact evaluation and the same training as one process."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lit import cli_main
from mnist_lit.data import TensorBatchLoader, raw_files
from tests.helpers import REPO, cli_args, trusting_cli, write_fake_mnist


def ddp(processes: int) -> list[str]:
    return ["--trainer.accelerator", "cpu", "--trainer.strategy", "ddp", "--trainer.devices", str(processes)]


def run_child(md5s: dict[str, str], args: list[str]) -> None:
    done = subprocess.run(trusting_cli(md5s, args), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def newest_run(log_dir: Path) -> Path:
    return max((path.parent for path in log_dir.rglob("events.out.tfevents.*")), key=lambda p: p.stat().st_mtime)


# a confidence is a softmax of the same weights on the same digit, but the processes may sum with another
# thread count, which can change its last float bits
CONFIDENCE_TOLERANCE = 1e-5


def scored(run_dir: Path) -> tuple[float, list[tuple[int, int, int]], list[float], str]:
    """A test run's accuracy, misclassified (index, true, pred) rows, their confidences, and confusion matrix."""
    accuracy = EventAccumulator(str(run_dir)).Reload().Scalars("test/acc")[-1].value
    with open(run_dir / "misclassified" / "misclassified.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    errors = [(int(row["index"]), int(row["true"]), int(row["pred"])) for row in rows]
    return (
        accuracy,
        errors,
        [float(row["confidence"]) for row in rows],
        (run_dir / "confusion" / "confusion_matrix.csv").read_text(),
    )


@pytest.mark.parametrize("world_size", [2, 3])
def test_evaluation_shards_cover_every_digit_once(world_size: int) -> None:
    images, labels = torch.arange(200.0)[:, None], torch.arange(200)
    shards = [TensorBatchLoader(images, labels, 32, rank=rank, world_size=world_size) for rank in range(world_size)]
    seen = [int(label) for shard in shards for _, batch_labels in shard for label in batch_labels]
    assert seen == list(range(200))  # in order, no padding, no tail dropped


@pytest.mark.parametrize("world_size", [2, 3])
def test_training_shards_split_each_batch_of_the_single_process_order(world_size: int) -> None:
    images, labels = torch.arange(100.0)[:, None], torch.arange(100)
    single = [batch_labels.tolist() for _, batch_labels in TensorBatchLoader(images, labels, 32, shuffle_seed=7)]
    shards = [list(TensorBatchLoader(images, labels, 32, shuffle_seed=7, rank=r, world_size=world_size))
              for r in range(world_size)]  # fmt: skip
    assert all(len(shard) == len(single) for shard in shards)  # every process takes the same number of steps
    for step, batch in enumerate(single):
        together = sorted(label for shard in shards for label in shard[step][1].tolist())
        assert together == sorted(batch)


def test_test_under_ddp_scores_exactly_what_one_process_scores(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    md5s = write_fake_mnist(raw_files.raw_dir(data_dir), n_test=200)
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", md5s)
    # a barely trained model, so there are misclassified digits to gather
    fit = cli_main(cli_args("fit", data_dir, tmp_path / "logs", "--trainer.max_epochs", "1", "--model.lr", "1e-4"))
    checkpoint = fit.trainer.checkpoint_callback.last_model_path
    # batches of 32: 200 digits split 3 ways is 66/67/67, none a multiple of the batch
    evaluate = ["--ckpt_path", checkpoint, "--data.eval_batch_size", "32"]
    single = cli_main(cli_args("test", data_dir, tmp_path / "single", *evaluate))
    expected = scored(Path(single.trainer.log_dir))
    assert 0 < len(expected[1]) < 200
    # three processes, the uneven split (two are in the real-MNIST test of tests/test_integration.py)
    run_child(md5s, cli_args("test", data_dir, tmp_path / "ddp3", *evaluate, *ddp(3)))
    accuracy, errors, confidences, confusion = scored(newest_run(tmp_path / "ddp3"))
    # counts and labels exactly (the accuracy is a count over 200), confidences within the tolerance
    assert (accuracy, errors, confusion) == (expected[0], expected[1], expected[3])
    assert confidences == pytest.approx(expected[2], abs=CONFIDENCE_TOLERANCE)


@pytest.mark.parametrize(
    ("config", "extra"),
    [("one_hidden.yaml", []), ("one_hidden_tuned.yaml", ["--data.val_size", "100"])],  # tuned: shifts, one-cycle
)
def test_fit_under_ddp_is_the_single_process_training(config: str, extra: list[str], tmp_path, monkeypatch) -> None:
    """The batch of 32 (and its shifts) is split across the processes: the same steps, so the same weights."""
    data_dir = tmp_path / "data"
    md5s = write_fake_mnist(raw_files.raw_dir(data_dir))
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", md5s)
    fit = ("fit", data_dir)
    cli_main(cli_args(*fit, tmp_path / "single", "--trainer.max_epochs", "2", *extra, config=config))
    run_child(md5s, cli_args(*fit, tmp_path / "ddp", "--trainer.max_epochs", "2", *extra, *ddp(3), config=config))
    # one run folder for the three processes: only rank zero claims one (RunLogger)
    assert [run.name for run in (tmp_path / "ddp").glob("*/version_*")] == ["version_0"]
    single, spread = (
        torch.load(next((tmp_path / name).rglob("last.ckpt")), weights_only=True) for name in ("single", "ddp")
    )
    assert spread["global_step"] == single["global_step"]
    for key, weight in single["state_dict"].items():
        torch.testing.assert_close(spread["state_dict"][key], weight, atol=1e-5, rtol=1e-4)
