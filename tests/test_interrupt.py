"""A real `fit` process stopped mid-epoch, then resumed: it finishes with what an uninterrupted run gives."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from mnist_lit import cli_main
from mnist_lit.data import raw_files
from tests.helpers import REPO, cli_args, trusting_cli, write_fake_mnist

EPOCHS = "8"  # enough that the signal lands well before the end, however fast the machine


def final_weights(log_dir: Path) -> tuple[dict, int]:
    newest = max(log_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    checkpoint = torch.load(newest, weights_only=True)
    return checkpoint["state_dict"], checkpoint["global_step"]


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 1), (signal.SIGTERM, 143)])
def test_interrupted_fit_resumes_to_the_uninterrupted_result(signum, status, tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    md5s = write_fake_mnist(raw_files.raw_dir(data_dir), n_train=20_000)  # about half a second per epoch
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", md5s)

    cli_main(cli_args("fit", data_dir, tmp_path / "whole", "--trainer.max_epochs", EPOCHS))
    expected, expected_steps = final_weights(tmp_path / "whole")

    stopped = tmp_path / "stopped"
    args = cli_args("fit", data_dir, stopped, "--trainer.max_epochs", EPOCHS)
    # as in a terminal: a shell runs background jobs (a CI script's, say) with SIGINT ignored, and Python then
    # never turns Ctrl-C into KeyboardInterrupt
    child = subprocess.Popen(trusting_cli(md5s, args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(stopped.rglob("last.ckpt")) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into the second epoch
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    assert child.returncode == status, err[-2000:]
    _, steps_at_stop = final_weights(stopped)
    assert 0 < steps_at_stop < expected_steps  # stopped part-way, with a usable checkpoint

    resumed = cli_main(cli_args("fit", data_dir, stopped, "--trainer.max_epochs", EPOCHS, "--ckpt_path", "last"))
    assert resumed.trainer.current_epoch == int(EPOCHS)
    weights, steps = final_weights(stopped)
    assert steps == expected_steps
    assert all(torch.equal(weights[key], expected[key]) for key in expected)  # exactly, on CPU
