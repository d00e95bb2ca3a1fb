"""scripts/search.py: an Optuna search on the validation split, resumable, pruning, and its bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from mnist_lit import cli_main
from tests.helpers import CONFIGS, REAL_MNIST, import_script

search = import_script("search")


@pytest.mark.integration
def test_a_small_search_writes_a_config_fit_accepts_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    storage, out = f"sqlite:///{tmp_path / 'search.db'}", tmp_path / "found.yaml"
    # to every trial: one training_step call of the fast class, 75 batches
    data = ["--data.data_dir", str(REAL_MNIST.parents[1]), "--trainer.limit_train_batches", "1"]
    budget = ["--trials", "3", "--epochs", "2", "--val-size", "500", "--search", "lr", "shift_pixels"]
    where = ["--storage", storage, "--study", "small", "--out", str(out)]
    command = ["--config", str(CONFIGS / "one_hidden.yaml"), *budget, *where, *data]
    assert search.main(command) == 0
    printed = capsys.readouterr().out
    assert "3 to run" in printed and "val acc" in printed
    study = optuna.load_study(study_name="small", storage=storage)
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == 3
    assert set(study.best_trial.params) == {"lr", "shift_pixels"}

    found = yaml.safe_load(out.read_text())
    assert found["model"]["init_args"]["lr"] == study.best_trial.params["lr"]
    assert found["data"]["shift_pixels"] == study.best_trial.params["shift_pixels"] and found["data"]["val_size"] == 500
    assert f"validation accuracy {study.best_value:.4f}" in out.read_text()
    importance = json.loads(out.with_suffix(".importance.json").read_text())
    assert set(importance) == {"lr", "shift_pixels"} and abs(sum(importance.values()) - 1) < 0.01
    fit = cli_main(["fit", "--config", str(out), *data, "--trainer.max_epochs", "1",
                    "--trainer.logger.init_args.save_dir", str(tmp_path / "logs")])  # fmt: skip
    assert fit.trainer.checkpoint_callback.best_model_path.endswith("best.ckpt")  # kept by val/acc

    assert search.main(command) == 0  # the same command again: the study is complete, nothing runs
    assert "to run" not in capsys.readouterr().out
    assert search.main([*command, "--trials", "4"]) == 0  # a larger budget: one more trial
    assert "1 to run" in capsys.readouterr().out


class ScriptedTrial:
    """A trial whose study prunes it once it has reported ``prune_after`` epochs."""

    def __init__(self, prune_after: int) -> None:
        self.prune_after, self.reports = prune_after, []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return len(self.reports) >= self.prune_after


def test_a_pruned_trial_stops_as_soon_as_its_epoch_is_reported(tmp_path: Path) -> None:
    report = tmp_path / "val_acc.json"
    writer = f"import json, time, pathlib; p = pathlib.Path({str(report)!r})\n"
    writer += "for n in range(1, 4):\n    p.write_text(json.dumps([0.5] * n)); time.sleep(0.3)\ntime.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", writer])
    try:
        assert search.follow(child, report, ScriptedTrial(prune_after=2)) is None
        assert child.poll() is None  # still running: the caller stops it
    finally:
        child.kill()
        child.wait()
    finished = subprocess.Popen(
        [sys.executable, "-c", f"import pathlib; pathlib.Path({str(report)!r}).write_text('[0.1, 0.3]')"]
    )
    finished.wait()
    trial = ScriptedTrial(prune_after=99)
    assert search.follow(finished, report, trial) == [0.1, 0.3] and trial.reports == [(0, 0.1), (1, 0.3)]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--search", "lr", "dropout"], "cannot be searched: dropout"),
        (["--trials", "0"], "The budget must be positive: --trials 0"),
        (["--epochs", "0"], "--epochs 0"),
        (["--storage", "sqlite:////proc/no/such/search.db"], "Cannot open the study's storage"),
    ],
)
def test_bad_searches_are_refused_with_the_fix(extra: list[str], words: str, capsys: pytest.CaptureFixture) -> None:
    args = ["--config", str(CONFIGS / "one_hidden.yaml"), "--trials", "2", "--storage", "sqlite:///:memory:", *extra]
    assert search.main(args) == 2
    assert words in capsys.readouterr().err
