"""Where runs live: each run claims a folder of its own, and checkpoints are written whole or not at all."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from mnist_lit.atomic import write_file


class RunLogger(TensorBoardLogger):
    """TensorBoard's logger, but a run's ``version_N`` folder is claimed by creating it.

    TensorBoardLogger picks one past the highest ``version_N`` it sees, so runs of one config started
    together all see the same folders and write into one. Creating a folder either succeeds for exactly
    one process or fails because it exists, so each run here takes the first number nobody has taken.
    Only rank zero claims: under DDP Lightning hands its folder to the other processes.

    Args:
        save_dir: Where every config's runs live (``logs``).
        name: The config's folder under it; left out, the CLI names it after the config file
            (``configs/two_hidden.yaml``: ``logs/two_hidden``).
        kwargs: TensorBoardLogger's other arguments.
    """

    DEFAULT_SAVE_DIR = "logs"

    def __init__(self, save_dir: str = DEFAULT_SAVE_DIR, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(save_dir, name=name or "lightning_logs", **kwargs)

    def _get_next_version(self) -> int:
        version = super()._get_next_version()
        if rank_zero_only.rank != 0:
            return version
        self._fs.makedirs(self.root_dir, exist_ok=True)
        while True:
            try:
                self._fs.makedirs(os.path.join(self.root_dir, f"version_{version}"), exist_ok=False)
                return version
            except FileExistsError:
                version += 1


class WholeCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint under a temporary name in its own folder, flushed, then renamed into place.

    Lightning's own save writes to the system's temporary folder and *copies* the file into place when
    that folder is on another filesystem (a tmpfs ``/tmp``), so a full disk or a kill during the copy
    leaves a truncated checkpoint. A rename within one folder is atomic: the file on disk is the old
    one or the new one, whole. The checkpoint is serialised in memory first: torch's zip writer turns an
    ``OSError`` of its stream into a ``RuntimeError`` on its way out, while a plain write of the bytes
    fails with the kernel's own error, which becomes one paragraph saying what was kept.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_file(path, buffer.getbuffer(), advice=resume_advice(path))


def resume_advice(path: Path) -> str:
    """What a user needs after a checkpoint could not be written: what is on disk, whole, and how to go on."""
    kept = sorted(p.name for p in path.parent.glob("*.ckpt"))
    kept_text = f"The checkpoints already there are whole: {', '.join(kept)}" if kept else "No checkpoint was kept yet"
    return (
        f"{kept_text}. Once there is room (or with another --trainer.logger.init_args.save_dir), resume with the "
        "same command plus --ckpt_path last (or --ckpt_path PATH of one of them)."
    )


def threads_per_job(jobs: int, threads: int | None = None) -> int:
    """Threads for each of ``jobs`` processes: ``threads`` if given (0: torch's default), else a share of the cores.

    torch's default pools, a thread per core in every process, make processes side by side fight over
    the cores and each run several times slower (docs/benchmarks.md#several-runs-on-one-machine).
    """
    if threads is not None:
        return threads
    return max(1, (os.cpu_count() or 1) // jobs)


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a child process that should use ``threads`` threads (0: torch's default)."""
    return os.environ | ({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {})
