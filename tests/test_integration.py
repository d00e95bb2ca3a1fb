"""On the real MNIST the repository carries (``data/MNIST/raw``): the one-hidden model trained, then used."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lit import classify, cli_main
from mnist_lit.data import install_raw_files
from tests.helpers import CONFIGS, REPO, import_script

SCANS = 1000
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def one_epoch(real_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """Fit one epoch on the real data; returns the CLI arguments of the run and its last.ckpt."""
    root = tmp_path_factory.mktemp("real")
    install_raw_files(real_mnist, root / "data")
    common = ["--config", str(CONFIGS / "one_hidden.yaml"), "--data.data_dir", str(root / "data"),
              "--data.download", "false", "--trainer.logger.init_args.save_dir", str(root / "logs")]  # fmt: skip
    # standardised inputs: with the textbook's [0, 1] pixels one epoch lands at 0.945-0.953 depending on the seed
    common += ["--model.normalize", "true"]
    fit = cli_main(["fit", *common, "--trainer.max_epochs", "1"])
    return common, Path(fit.trainer.checkpoint_callback.last_model_path)


def test_one_epoch_reaches_95_percent_and_dumps_every_error(one_epoch: tuple[list[str], Path]) -> None:
    common, checkpoint = one_epoch
    test = cli_main(["test", *common, "--ckpt_path", str(checkpoint)])
    accuracy = float(test.trainer.callback_metrics["test/acc"])
    assert accuracy >= 0.95
    rows = list(csv.DictReader((Path(test.trainer.log_dir) / "misclassified" / "misclassified.csv").open()))
    assert len(rows) == round((1 - accuracy) * 10_000)


def test_scans_of_test_digits_read_as_the_digits_themselves(one_epoch: tuple[list[str], Path], tmp_path: Path) -> None:
    """Real test digits as a user's scans (200×200, dark ink on paper, off-centre, a third as JPEG)."""
    common, one_epoch_checkpoint = one_epoch
    # two more epochs: the fewer digits a model is unsure of, the fewer can tip either way
    fit = cli_main(["fit", *common, "--trainer.max_epochs", "3", "--ckpt_path", str(one_epoch_checkpoint)])
    checkpoint = fit.trainer.checkpoint_callback.last_model_path
    data_dir = common[common.index("--data.data_dir") + 1]
    rendered = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_scans.py"), "--data-dir", data_dir,
         "--out-dir", str(tmp_path / "scans"), "--count", str(SCANS)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    out = tmp_path / "predictions.csv"
    cli_main(["predict", *common, "--ckpt_path", str(checkpoint), "--data.predict_path", str(tmp_path / "scans"),
              "--output", str(out)])  # fmt: skip
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == SCANS and sum(row["file"].endswith(".jpg") for row in rows) == SCANS // 3
    on_scans = np.array([int(row["pred"]) for row in rows])
    on_originals = np.array(
        [answer.pred for answer in classify(checkpoint, np.load(tmp_path / "scans" / "originals.npy"))]
    )
    agreement = float((on_scans == on_originals).mean())
    assert agreement >= 0.98, f"only {agreement:.3f} of the scans read as their original digit"


def test_one_epoch_on_two_processes_reaches_95_percent(real_mnist: Path, tmp_path: Path) -> None:
    """DDP on CPU: each process takes half of every batch of 32; the result is the single-process one."""
    install_raw_files(real_mnist, tmp_path / "data")
    common = ["--config", str(CONFIGS / "one_hidden.yaml"), "--data.data_dir", str(tmp_path / "data"),
              "--data.download", "false", "--trainer.logger.init_args.save_dir", str(tmp_path / "logs"),
              "--model.normalize", "true", "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
              "--trainer.devices", "2"]  # fmt: skip
    for subcommand, *extra in (["fit", "--trainer.max_epochs", "1"], ["test", "--ckpt_path", "last"]):
        # flags after --config, or the config's values win
        done = subprocess.run([sys.executable, "-m", "mnist_lit", subcommand, *common, *extra], cwd=REPO,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    run_dir = max((tmp_path / "logs").rglob("misclassified"), key=lambda p: p.stat().st_mtime).parent
    accuracy = EventAccumulator(str(run_dir)).Reload().Scalars("test/acc")[-1].value
    assert accuracy >= 0.95
    rows = list(csv.DictReader((run_dir / "misclassified" / "misclassified.csv").open()))
    assert len(rows) == round((1 - accuracy) * 10_000)  # every rank's errors, gathered once


def test_one_epoch_on_fashion_mnist_reaches_80_percent_and_names_the_classes(
    real_fashion_mnist: Path, tmp_path: Path
) -> None:
    install_raw_files(real_fashion_mnist, tmp_path / "data", dataset="fashion_mnist")
    common = ["--config", str(CONFIGS / "two_hidden.yaml"), "--data.dataset", "fashion_mnist",
              "--data.data_dir", str(tmp_path / "data"), "--data.download", "false",
              "--trainer.logger.init_args.save_dir", str(tmp_path / "logs")]  # fmt: skip
    fit = cli_main(["fit", *common, "--trainer.max_epochs", "1"])
    test = cli_main(["test", *common, "--ckpt_path", fit.trainer.checkpoint_callback.last_model_path])
    assert float(test.trainer.callback_metrics["test/acc"]) >= 0.80
    per_class = list(csv.DictReader((Path(test.trainer.log_dir) / "confusion" / "per_class.csv").open()))
    assert [row["name"] for row in per_class][:2] == ["T-shirt/top", "Trouser"]
    assert sum(int(row["count"]) for row in per_class) == 10_000


def test_seed_sweep_trains_two_seeds_at_once_each_with_its_share_of_the_cores(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    args = ["--config", str(CONFIGS / "one_hidden.yaml"), "--seeds", "0", "1", "--jobs", "2", "--log-dir",
            str(tmp_path / "logs"), "--json", str(out), "--data.data_dir", str(REPO / "data"),
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]  # two calls: 150 batches  # fmt: skip
    assert import_script("seed_sweep").main(args) == 0
    summary = json.loads(out.read_text())
    assert summary["jobs"] == 2 and summary["threads"] == max(1, (os.cpu_count() or 1) // 2)
    assert [run["seed"] for run in summary["runs"]] == [0, 1]
    checkpoints = {Path(run["checkpoint"]).parent.parent for run in summary["runs"]}
    assert len(checkpoints) == 2  # a run folder each
    for run in summary["runs"]:
        assert run["test_acc"] > 0.5  # 150 batches of 32 are enough to learn most digits
        assert run["misclassified"] == round((1 - run["test_acc"]) * 10_000)
