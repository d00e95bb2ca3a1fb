"""Helpers the tests share: generated MNIST-format data, CLI arguments, running scripts and child processes."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import pickle
import socket
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_lit import cli_main
from mnist_lit.data import DATASETS, cifar_files

REPO = Path(__file__).resolve().parents[1]


CONFIGS = REPO / "configs"


REAL_MNIST = REPO / "data" / "MNIST" / "raw"  # the four .gz files the repository carries


REAL_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (as MNIST's): magic number with the uint8 type code and rank, big-endian sizes, raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def learnable_digits(count: int, seed: int, shape: tuple[int, ...] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Images a small MLP can learn: each class is a fixed blob pattern plus noise, so accuracy means something."""
    templates = np.random.default_rng(1234).random((10, *shape)) > 0.7
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    noise = rng.random((count, *shape)) < 0.15
    images = np.where(templates[labels] ^ noise, 255, 0).astype(np.uint8)
    return images, labels.astype(np.uint8)


def write_fake_mnist(folder: Path, n_train: int = 600, n_test: int = 200, gz: bool = False) -> dict[str, str]:
    """Write the four MNIST files into ``folder``; returns the MD5 of each file's uncompressed content."""
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = learnable_digits(n_train, seed=1)
    test_images, test_labels = learnable_digits(n_test, seed=2)
    contents = {
        "train-images-idx3-ubyte": idx_bytes(train_images),
        "train-labels-idx1-ubyte": idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": idx_bytes(test_images),
        "t10k-labels-idx1-ubyte": idx_bytes(test_labels),
    }
    for name, content in contents.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content, compresslevel=1))  # level 9: seconds
        else:
            (folder / name).write_bytes(content)
    return {name: hashlib.md5(content).hexdigest() for name, content in contents.items()}


def write_fake_cifar10(folder: Path, per_batch: int = 100, n_test: int = 200) -> dict[str, str]:
    """``cifar-10-python.tar.gz`` as CIFAR-10 ships it (pickled batches of ``[N, 3072]`` uint8 rows, labels and
    ``batches.meta``, in ``cifar-10-batches-py/``); returns the MD5 of every file, the archive's included."""
    batches = {f"data_batch_{i}": learnable_digits(per_batch, seed=i, shape=(3, 32, 32)) for i in range(1, 6)}
    batches["test_batch"] = learnable_digits(n_test, seed=9, shape=(3, 32, 32))
    contents = {
        name: pickle.dumps({"batch_label": name, "data": images.reshape(len(images), -1), "labels": labels.tolist()})
        for name, (images, labels) in batches.items()
    }
    contents["batches.meta"] = pickle.dumps({"label_names": list(DATASETS["cifar10"].class_names)})
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / cifar_files.ARCHIVE, "w:gz", compresslevel=1) as tar:  # level 9 takes seconds here
        for name, content in contents.items():
            info = tarfile.TarInfo(f"{cifar_files.FOLDER}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    md5s = {name: hashlib.md5(content).hexdigest() for name, content in contents.items()}
    return md5s | {cifar_files.ARCHIVE: hashlib.md5((folder / cifar_files.ARCHIVE).read_bytes()).hexdigest()}


def drawn_seven(width: int = 300, height: int = 240, scale: float = 1.0, offset=(40, 30)) -> Image.Image:
    """A thick dark '7' (60 wide, 120 tall at scale 1) on white paper, away from the centre."""
    picture = Image.new("L", (width, height), 255)
    x, y = offset
    s = scale
    draw = ImageDraw.Draw(picture)
    draw.line([(x, y), (x + 60 * s, y), (x + 20 * s, y + 120 * s)], fill=0, width=max(1, round(12 * s)))
    return picture


def cli_args(subcommand: str, data_dir: Path, log_dir: Path, *extra: str, config: str = "one_hidden.yaml") -> list[str]:
    return [
        subcommand,
        "--config", str(CONFIGS / config),
        "--data.data_dir", str(data_dir),
        "--data.download", "false",
        "--trainer.logger.init_args.save_dir", str(log_dir),
        *extra,
    ]  # fmt: skip


def trusting_cli(md5s: dict[str, str], args: list[str]) -> list[str]:
    """The command that runs the CLI in a child process trusting the generated files' MD5s."""
    return [sys.executable, str(REPO / "tests" / "trusting_cli.py"), json.dumps(md5s), *args]


def import_script(name: str) -> ModuleType:
    """A script as a module, so it runs in-process, where the fake files' MD5s are trusted."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "scripts"))


def fails(args: list[str], capsys: pytest.CaptureFixture) -> str:
    """Run the CLI, expect exit status 2, return what it printed on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(server: subprocess.Popen, url: str, seconds: float = 120) -> None:
    """Wait until the server at ``url`` answers /health; fail with its output if it exits first."""
    import httpx2

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            assert server.poll() is None, f"the server exited with {server.returncode}"
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer /health within {seconds} s")
