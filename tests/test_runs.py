"""Runs side by side: a folder of their own each (kernel-made faults during writes: test_faults.py)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from mnist_lit import RunLogger, cli_main
from mnist_lit.data import raw_files
from tests.helpers import REPO, cli_args, trusting_cli, write_fake_mnist

STEPS_PER_EPOCH = -(-600 // 32)  # the 600 generated training images at batch 32


def test_loggers_claiming_at_once_each_get_their_own_version(tmp_path: Path) -> None:
    (tmp_path / "runs" / "version_0").mkdir(parents=True)
    loggers = [RunLogger(save_dir=str(tmp_path), name="runs") for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(lambda logger: logger.version, loggers))
    assert sorted(versions) == list(range(1, 9))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(f"version_{v}" for v in range(9))


def test_three_fits_started_together_keep_three_whole_runs(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    md5s = write_fake_mnist(raw_files.raw_dir(data_dir))
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", md5s)
    log_dir = tmp_path / "logs"
    args = cli_args("fit", data_dir, log_dir, "--trainer.max_epochs", "2")
    children = [
        subprocess.Popen(
            trusting_cli(md5s, args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-3000:]
    runs = sorted((log_dir / "one_hidden").iterdir())
    assert [run.name for run in runs] == ["version_0", "version_1", "version_2"]
    for run in runs:
        assert len(list(run.glob("events.out.tfevents.*"))) == 1  # one run's events, not two interleaved
        assert (run / "config.yaml").is_file()
        checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
        assert checkpoint["epoch"] == 1 and checkpoint["global_step"] == 2 * STEPS_PER_EPOCH
    # all three trained the same config and seed: the same weights, each run whole
    weights = [torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"] for run in runs]
    for other in weights[1:]:
        assert all(torch.equal(other[key], weights[0][key]) for key in weights[0])
    newest = max(runs, key=lambda run: (run / "checkpoints" / "last.ckpt").stat().st_mtime)
    tested = cli_main(cli_args("test", data_dir, log_dir, "--ckpt_path", "last"))
    assert Path(tested.config.test.ckpt_path) == newest / "checkpoints" / "last.ckpt"
