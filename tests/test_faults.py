"""Faults the kernel makes, not stand-ins: a file-size limit, a real full filesystem, a read-only one, SIGKILL.

Each runs the real CLI in a child process and checks what a user sees (one paragraph, exit status 2, no
traceback) and what is left on disk (every ``.ckpt`` loads with ``weights_only=True``, no partial file under
a final name, the previous file unchanged), then that ``--ckpt_path last`` goes on from there.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_lit.data import raw_files
from tests.helpers import REPO, cli_args, trusting_cli, write_fake_mnist

STEPS_PER_EPOCH = -(-600 // 32)  # the 600 generated training images at batch 32
KIB = 1024
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Generated MNIST-format files and their MD5s, for children that must trust them."""
    data_dir = tmp_path / "data"
    return data_dir, write_fake_mnist(raw_files.raw_dir(data_dir))


def limited_to(size: int):
    """A child's set-up: files it writes may not grow past ``size`` bytes (EFBIG, not the default SIGXFSZ kill)."""

    def set_up() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return set_up


def run_cli(md5s: dict[str, str], args: list[str], preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        trusting_cli(md5s, args), cwd=REPO, capture_output=True, text=True, timeout=600, preexec_fn=preexec_fn
    )


def assert_one_paragraph(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    message = next(line for line in done.stderr.splitlines() if line.startswith("error:"))
    for word in words:
        assert word in message, message


def every_checkpoint_loads(folder: Path) -> list[str]:
    """The names of the ``.ckpt`` files in ``folder``, each loaded as plain data (fails on a damaged one)."""
    names = sorted(p.name for p in folder.glob("*.ckpt"))
    for name in names:
        checkpoint = torch.load(folder / name, weights_only=True)
        assert checkpoint["state_dict"] and checkpoint["global_step"] % STEPS_PER_EPOCH == 0
    return names


def partial_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.part"))


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 1.4 MB tmpfs: room for two checkpoints of the one-hidden model and the logs, not three."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1400k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_file_size_limit_stops_fit_with_one_paragraph_and_no_partial_file(data, tmp_path: Path) -> None:
    data_dir, md5s = data
    log_dir = tmp_path / "logs"
    args = cli_args("fit", data_dir, log_dir, "--trainer.max_epochs", "2")
    # a checkpoint of the one-hidden model is about 620 KB with Adam's state; the logs stay far below this
    done = run_cli(md5s, args, preexec_fn=limited_to(200 * KIB))
    assert_one_paragraph(done, "File too large", "ulimit -f", "epoch=0-step=19.ckpt", "No checkpoint was kept yet")
    folder = next(log_dir.rglob("checkpoints"))
    assert every_checkpoint_loads(folder) == [] and partial_files(log_dir) == []


@root_only
def test_a_real_full_disk_keeps_whole_checkpoints_and_resumes_once_there_is_room(data, small_tmpfs: Path) -> None:
    data_dir, md5s = data
    args = cli_args("fit", data_dir, small_tmpfs, "--trainer.max_epochs", "4")
    done = run_cli(md5s, args)
    assert_one_paragraph(done, "No space left on device", "the disk is full", "--ckpt_path last")
    assert "The checkpoints already there are whole: epoch=0-step=19.ckpt, last.ckpt" in done.stderr
    folder = next(small_tmpfs.rglob("checkpoints"))
    assert every_checkpoint_loads(folder) == ["epoch=0-step=19.ckpt", "last.ckpt"]
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == STEPS_PER_EPOCH
    assert partial_files(small_tmpfs) == []

    subprocess.run(["mount", "-o", "remount,size=8m", str(small_tmpfs)], check=True)  # space is freed
    resumed = run_cli(md5s, [*args, "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    last = max(small_tmpfs.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    assert torch.load(last, weights_only=True)["global_step"] == 4 * STEPS_PER_EPOCH


@root_only
def test_a_disk_full_before_fit_starts_ends_in_one_paragraph(data, small_tmpfs: Path) -> None:
    data_dir, md5s = data
    with pytest.raises(OSError, match="No space left"), open(small_tmpfs / "filler", "wb") as filler:
        while True:
            filler.write(bytes(64 * KIB))
    done = run_cli(md5s, cli_args("fit", data_dir, small_tmpfs, "--trainer.max_epochs", "1"))
    # TensorBoard's writer fails first, in a thread of its own: no traceback of it either
    assert_one_paragraph(done, "No space left on device", "the disk is full", "--trainer.logger.init_args.save_dir")
    assert not list(small_tmpfs.rglob("*.ckpt"))


def remount_read_only(mount: Path, deadline: float) -> None:
    """Remount ``mount`` read-only while a child writes there.

    The kernel refuses (EBUSY, "mount point is busy") while any file on it is open for writing, as a
    checkpoint or a log is for a moment at each epoch's end, so the remount is tried again until it lands.
    """
    while True:
        done = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, text=True)
        if done.returncode == 0:
            return
        assert "busy" in done.stderr and time.monotonic() < deadline, done.stderr
        time.sleep(0.005)


@root_only
def test_a_run_folder_made_read_only_during_fit_ends_in_one_paragraph(data, small_tmpfs: Path) -> None:
    data_dir, md5s = data
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    args = cli_args("fit", data_dir, small_tmpfs, "--trainer.max_epochs", "400")
    child = subprocess.Popen(trusting_cli(md5s, args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(small_tmpfs.rglob("last.ckpt")) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    remount_read_only(small_tmpfs, deadline=time.monotonic() + 60)
    _, err = child.communicate(timeout=300)
    done = subprocess.CompletedProcess(args, child.returncode, "", err)
    assert_one_paragraph(done, "Read-only file system", "cannot be written")
    folder = next(small_tmpfs.rglob("checkpoints"))
    assert "last.ckpt" in every_checkpoint_loads(folder)

    refused = run_cli(md5s, args)  # and a run started on the read-only folder is refused before training
    assert_one_paragraph(refused, "Cannot write the run's logs", "--trainer.logger.init_args.save_dir")


def kill_inside_a_write(child: subprocess.Popen, log_dir: Path, writes_to_skip: int, rng: random.Random) -> bool:
    """SIGKILL ``child`` inside a checkpoint write, once a ``last.ckpt`` exists and ``writes_to_skip`` have passed.

    A write is caught in the act by stopping the child (SIGSTOP) as soon as a new ``.part`` file shows, and
    killing it only if that file is still there: the kill lands between its creation and its rename.
    """
    leftovers = set(partial_files(log_dir))  # of earlier kills, never read
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and child.poll() is None:
        writing = set(partial_files(log_dir)) - leftovers
        if not writing or not list(log_dir.rglob("last.ckpt")):
            continue
        child.send_signal(signal.SIGSTOP)
        if writing & set(partial_files(log_dir)):
            if writes_to_skip == 0:
                child.kill()
                child.wait(timeout=60)
                return True
            writes_to_skip -= 1
        child.send_signal(signal.SIGCONT)
        while writing & set(partial_files(log_dir)):  # let that write end
            time.sleep(0.001)
        time.sleep(rng.random() * 0.01)
    child.kill()
    child.wait(timeout=60)
    return False


def test_sigkill_during_checkpoint_writes_leaves_every_checkpoint_whole_and_resumable(data, tmp_path: Path) -> None:
    """Kill `fit` inside checkpoint writes, again and again, each time resuming with ``--ckpt_path last``."""
    data_dir, md5s = data
    log_dir = tmp_path / "logs"
    epochs, rounds = 40, 3
    args = cli_args("fit", data_dir, log_dir, "--trainer.max_epochs", str(epochs), config="two_hidden.yaml")
    rng = random.Random(0)
    for round_ in range(rounds):
        resume = ["--ckpt_path", "last"] if round_ else []
        with open(tmp_path / "stderr.txt", "w+") as err:
            child = subprocess.Popen(trusting_cli(md5s, [*args, *resume]), cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=err)  # fmt: skip
            assert kill_inside_a_write(child, log_dir, rng.randrange(4), rng), err.seek(0) or err.read()[-3000:]
        for folder in log_dir.rglob("checkpoints"):
            every_checkpoint_loads(folder)
    assert len(partial_files(log_dir)) == rounds  # each kill left the file it was writing, under its temporary name

    finished = run_cli(md5s, [*args, "--ckpt_path", "last"])
    assert finished.returncode == 0, finished.stderr[-3000:]
    last = max(log_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    assert torch.load(last, weights_only=True)["global_step"] == epochs * STEPS_PER_EPOCH


@pytest.fixture
def trained_checkpoint(data, tmp_path: Path) -> Path:
    data_dir, md5s = data
    # nearly untrained, so most test digits are misclassified and the reports are large
    few_steps = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--model.lr", "1e-9"]
    done = run_cli(md5s, cli_args("fit", data_dir, tmp_path / "logs", *few_steps))
    assert done.returncode == 0, done.stderr[-3000:]
    return next((tmp_path / "logs").rglob("last.ckpt"))


def test_reports_that_do_not_fit_keep_the_previous_ones_whole(data, trained_checkpoint: Path, tmp_path) -> None:
    data_dir, md5s = data
    # the same run folder twice: the second `test` rewrites the reports of the first
    args = cli_args("test", data_dir, tmp_path / "tested", "--ckpt_path", str(trained_checkpoint),
                    "--trainer.logger.init_args.version", "0")  # fmt: skip
    first = run_cli(md5s, args)
    assert first.returncode == 0, first.stderr[-3000:]
    run_dir = tmp_path / "tested" / "one_hidden" / "version_0"
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.suffix in (".png", ".csv")}
    picture = run_dir / "misclassified" / "misclassified.png"
    assert picture in before and len(before[picture]) > 16 * KIB

    done = run_cli(md5s, args, preexec_fn=limited_to(16 * KIB))  # the tables fit, the pictures do not
    assert_one_paragraph(done, "misclassified.png", "File too large", "the file already there is unchanged")
    assert {path: path.read_bytes() for path in before} == before
    assert partial_files(run_dir) == []


def test_a_predictions_table_that_does_not_fit_keeps_the_previous_one(data, trained_checkpoint: Path, tmp_path):
    data_dir, md5s = data
    digits = tmp_path / "digits.npy"
    np.save(digits, np.random.default_rng(0).integers(0, 256, (3000, 28, 28), dtype=np.uint8))
    output = tmp_path / "predictions.csv"
    output.write_text("the previous table\n")
    args = cli_args("predict", data_dir, tmp_path / "logs", "--ckpt_path", str(trained_checkpoint),
                    "--data.predict_path", str(digits), "--output", str(output))  # fmt: skip
    done = run_cli(md5s, args, preexec_fn=limited_to(64 * KIB))  # 3,000 rows are about 150 KB
    assert_one_paragraph(done, str(output), "File too large", "the file already there is unchanged")
    assert output.read_text() == "the previous table\n"
    assert partial_files(tmp_path) == []
