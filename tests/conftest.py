"""Shared fixtures: small generated MNIST-format data, never the network."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from mnist_lit.data import raw_files

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
REAL_MNIST = REPO.parent / "shared" / "data" / "mnist"


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (as MNIST's): magic number with the uint8 type code and rank, big-endian sizes, raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def learnable_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images a small MLP can learn: each class is a fixed blob pattern plus noise, so accuracy means something."""
    templates = np.random.default_rng(1234).random((10, 28, 28)) > 0.7
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    noise = rng.random((count, 28, 28)) < 0.15
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
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)
    return {name: hashlib.md5(content).hexdigest() for name, content in contents.items()}


@pytest.fixture
def fake_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A read-only-style source folder of gzipped fake MNIST files, trusted by their MD5s."""
    source = tmp_path / "source"
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", write_fake_mnist(source, gz=True))
    return source


@pytest.fixture
def fake_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir laid out as torchvision expects (``DATA_DIR/MNIST/raw``), with the fake files trusted."""
    data_dir = tmp_path / "data"
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", write_fake_mnist(raw_files.raw_dir(data_dir)))
    return data_dir


@pytest.fixture
def real_mnist() -> Path:
    if not (REAL_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the real MNIST files are not in {REAL_MNIST}; integration tests need them")
    return REAL_MNIST
