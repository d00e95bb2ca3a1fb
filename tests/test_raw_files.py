from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from urllib.error import URLError

import pytest

from mnist_lit.data import raw_files
from mnist_lit.data.raw_files import ensure_raw_files, install_raw_files, raw_dir
from mnist_lit.errors import MnistLitError


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_install_decompresses_verifies_and_leaves_source_alone(fake_source: Path, tmp_path: Path) -> None:
    before = snapshot(fake_source)
    target = install_raw_files(fake_source, tmp_path / "data")
    assert target == tmp_path / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in target.iterdir()) == sorted(raw_files.EXPECTED_MD5)
    for name, md5 in raw_files.EXPECTED_MD5.items():
        assert hashlib.md5((target / name).read_bytes()).hexdigest() == md5
    assert snapshot(fake_source) == before


def test_install_rejects_content_with_wrong_md5(fake_source: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(raw_files.EXPECTED_MD5, "t10k-labels-idx1-ubyte", "0" * 32)
    with pytest.raises(MnistLitError, match=r"t10k-labels-idx1-ubyte.*expected 0{32}"):
        install_raw_files(fake_source, tmp_path / "data")
    assert not (raw_dir(tmp_path / "data") / "t10k-labels-idx1-ubyte").exists()
    assert not list(raw_dir(tmp_path / "data").glob("*.part"))  # no half-written leftovers


def test_install_rejects_truncated_gzip(fake_source: Path, tmp_path: Path) -> None:
    damaged = fake_source / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:200])
    with pytest.raises(MnistLitError, match="truncated or corrupted"):
        install_raw_files(fake_source, tmp_path / "data")


def test_install_names_a_missing_source_file(fake_source: Path, tmp_path: Path) -> None:
    (fake_source / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistLitError, match=r"neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte\.gz"):
        install_raw_files(fake_source, tmp_path / "data")


def test_ensure_uses_valid_files_without_writing(fake_data_dir: Path) -> None:
    before = snapshot(fake_data_dir)
    ensure_raw_files(fake_data_dir, download=False)
    assert snapshot(fake_data_dir) == before


def test_ensure_decompresses_gz_already_in_raw(tmp_path: Path, monkeypatch) -> None:
    from tests.helpers import write_fake_mnist

    folder = raw_dir(tmp_path)
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", write_fake_mnist(folder, gz=True))
    ensure_raw_files(tmp_path, download=False)
    for name in raw_files.EXPECTED_MD5:
        assert (folder / name).read_bytes() == gzip.decompress((folder / f"{name}.gz").read_bytes())


def test_ensure_without_files_and_download_off_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(MnistLitError, match=r"scripts/prepare_data\.py"):
        ensure_raw_files(tmp_path, download=False)


def test_ensure_reports_a_failed_download_clearly(tmp_path: Path, monkeypatch) -> None:
    def no_network(url: str, **kwargs) -> None:
        raise URLError("network unreachable")

    monkeypatch.setattr(raw_files, "download_url", no_network)
    with pytest.raises(MnistLitError, match=r"downloading train-images-idx3-ubyte failed \(https://.*unreachable"):
        ensure_raw_files(tmp_path, download=True)
    assert not list(raw_dir(tmp_path).glob("*-ubyte*"))  # nothing half-downloaded left to trust


def test_ensure_rejects_a_corrupted_uncompressed_file(fake_data_dir: Path) -> None:
    damaged = raw_dir(fake_data_dir) / "train-images-idx3-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(MnistLitError, match="train-images-idx3-ubyte does not hold the MNIST file"):
        ensure_raw_files(fake_data_dir, download=False)
