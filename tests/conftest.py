"""Shared fixtures: small generated MNIST-format data, never the network; the real MNIST the repository carries."""

from __future__ import annotations

from pathlib import Path

import pytest
from torchvision.datasets import CIFAR10

from mnist_lit import cli_main
from mnist_lit.data import cifar_files, raw_files
from tests.helpers import REAL_FASHION_MNIST, REAL_MNIST, cli_args, write_fake_cifar10, write_fake_mnist


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
def fake_fashion_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The generated files laid out as Fashion-MNIST (``DATA_DIR/FashionMNIST/raw``), trusted."""
    data_dir = tmp_path / "data"
    md5s = write_fake_mnist(raw_files.raw_dir(data_dir, "fashion_mnist"))
    monkeypatch.setattr(raw_files, "FASHION_MNIST_MD5", md5s)
    return data_dir


@pytest.fixture
def fake_kmnist_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The generated files laid out as KMNIST (``DATA_DIR/KMNIST/raw``), checked by their (smaller) IDX layout."""
    data_dir = tmp_path / "data"
    write_fake_mnist(raw_files.raw_dir(data_dir, "kmnist"))
    shapes = {"train-images-idx3-ubyte": (600, 28, 28), "train-labels-idx1-ubyte": (600,),
              "t10k-images-idx3-ubyte": (200, 28, 28), "t10k-labels-idx1-ubyte": (200,)}  # fmt: skip
    monkeypatch.setattr(raw_files, "IDX_SHAPES", shapes)
    return data_dir


@pytest.fixture
def fake_cifar_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a generated ``cifar-10-python.tar.gz``, its files trusted by their MD5s."""
    source = tmp_path / "downloads"
    md5s = write_fake_cifar10(source)
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5s.pop(cifar_files.ARCHIVE))
    monkeypatch.setattr(CIFAR10, "train_list", [[name, md5s[name]] for name, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[name, md5s[name]] for name, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", CIFAR10.meta | {"md5": md5s[CIFAR10.meta["filename"]]})
    return source


@pytest.fixture(scope="session")
def real_mnist() -> Path:
    missing = [name for name in raw_files.IDX_SHAPES if not (REAL_MNIST / f"{name}.gz").is_file()]
    assert not missing, f"the repository's MNIST files are missing from {REAL_MNIST}: {missing}; restore them with git"
    return REAL_MNIST


@pytest.fixture
def trained(fake_data_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two epochs of the one-hidden model on the generated data; returns (data dir, log dir, last.ckpt)."""
    log_dir = tmp_path / "logs"
    cli = cli_main(cli_args("fit", fake_data_dir, log_dir, "--trainer.max_epochs", "2"))
    checkpoint = Path(cli.trainer.checkpoint_callback.last_model_path)
    assert checkpoint.name == "last.ckpt" and checkpoint.is_file()
    assert checkpoint.parent.parent == Path(cli.trainer.log_dir)  # checkpoints live in the run's log dir
    return fake_data_dir, log_dir, checkpoint


@pytest.fixture(scope="session")
def real_fashion_mnist() -> Path:
    if not (REAL_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(
            f"Fashion-MNIST is not in {REAL_FASHION_MNIST}; `apt-get install dataset-fashion-mnist` puts it there"
        )
    return REAL_FASHION_MNIST
