"""Runs side by side: a folder of their own each, checkpoints whole on disk, even when the disk fills up."""

from __future__ import annotations

import errno
import io
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from mnist_lit import RunLogger, cli_main
from mnist_lit.data import raw_files
from tests.helpers import REPO, cli_args, fails, trusting_cli, write_fake_mnist

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


class FailingSave:
    """``torch.save`` that writes half a checkpoint on its ``fail_on``-th call, then raises ``error``."""

    def __init__(self, fail_on: int, error: BaseException) -> None:
        self.calls, self.fail_on, self.error, self.real_save = 0, fail_on, error, torch.save

    def __call__(self, obj: object, stream: io.IOBase) -> None:
        self.calls += 1
        if self.calls != self.fail_on:
            return self.real_save(obj, stream)
        buffer = io.BytesIO()
        self.real_save(obj, buffer)
        stream.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise self.error


def checkpoints_after(run_root: Path) -> tuple[list[str], dict]:
    """The files left in the one run's checkpoints folder, and its last.ckpt loaded as plain data."""
    (folder,) = run_root.glob("version_*/checkpoints")
    return sorted(p.name for p in folder.iterdir()), torch.load(folder / "last.ckpt", weights_only=True)


# an epoch saves epoch=N-step=S.ckpt (then drops the one before), then last.ckpt: the third save is epoch 1's
# top-k file, the fourth epoch 1's last.ckpt
@pytest.mark.parametrize(("fail_on", "kept"), [(3, "epoch=0-step=19.ckpt"), (4, "epoch=1-step=38.ckpt")])
def test_a_full_disk_stops_fit_with_what_was_kept_and_no_partial_file(fail_on: int, kept: str, fake_data_dir, tmp_path,
                                                                        capsys, monkeypatch) -> None:  # fmt: skip
    log_dir = tmp_path / "logs"
    args = cli_args("fit", fake_data_dir, log_dir, "--trainer.max_epochs", "3")
    monkeypatch.setattr(torch, "save", FailingSave(fail_on, OSError(errno.ENOSPC, "No space left on device")))
    err = fails(args, capsys)
    assert "No space left on device" in err and "disk is full" in err and "--ckpt_path last" in err
    assert "last.ckpt" in err  # names what was kept
    files, last = checkpoints_after(log_dir / "one_hidden")
    assert files == [kept, "last.ckpt"]  # no .part file, nothing half-written
    assert last["global_step"] == STEPS_PER_EPOCH  # epoch 0's, whole
    assert f"whole and unchanged: {kept}, last.ckpt" in err

    monkeypatch.setattr(torch, "save", FailingSave(0, RuntimeError()).real_save)
    resumed = cli_main([*args, "--ckpt_path", "last"])
    assert resumed.trainer.current_epoch == 3


def test_a_checkpoint_write_interrupted_part_way_leaves_last_ckpt_whole(fake_data_dir, tmp_path, monkeypatch) -> None:
    log_dir = tmp_path / "logs"
    monkeypatch.setattr(torch, "save", FailingSave(4, KeyboardInterrupt()))  # Ctrl-C while last.ckpt is written
    with pytest.raises(SystemExit) as stopped:
        cli_main(cli_args("fit", fake_data_dir, log_dir, "--trainer.max_epochs", "3"))
    assert stopped.value.code == 1
    files, last = checkpoints_after(log_dir / "one_hidden")
    assert "last.ckpt" in files and not [name for name in files if name.endswith(".part")]
    assert last["global_step"] == STEPS_PER_EPOCH
