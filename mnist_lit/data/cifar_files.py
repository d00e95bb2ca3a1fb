"""Offline-first CIFAR-10: verify, extract and lay out its Python batches where torchvision looks.

torchvision keeps CIFAR-10 as ``DATA_DIR/cifar-10-batches-py/`` (five training batches, one test
batch and ``batches.meta``, each a pickle), unpacked from ``cifar-10-python.tar.gz``, and its ``CIFAR10``
class checks every batch by its MD5 before unpickling it. What this module adds: laying the batches out
from a copy at hand (the archive, or the unpacked folder), with a partial copy never left, and errors
that name the damaged file and the fix.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

import torch
from filelock import FileLock
from torch import Tensor
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import calculate_md5, download_url

from mnist_lit.errors import MnistLitError

FOLDER = CIFAR10.base_folder
ARCHIVE = CIFAR10.filename


def expected_md5() -> dict[str, str]:
    """torchvision's MD5 of every file it reads, read when asked (tests trust generated files by patching them)."""
    return {name: md5 for name, md5 in CIFAR10.train_list + CIFAR10.test_list} | {
        CIFAR10.meta["filename"]: CIFAR10.meta["md5"]
    }


def cifar_dir(data_dir: str | Path) -> Path:
    """The folder torchvision reads CIFAR-10 from: ``DATA_DIR/cifar-10-batches-py``."""
    return Path(data_dir) / FOLDER


def _wrong_files(folder: Path) -> list[str]:
    """The files of ``folder`` that are missing or not CIFAR-10's, each with why."""
    wrong = []
    for name, expected in expected_md5().items():
        path = folder / name
        if not path.is_file():
            wrong.append(f"{name} is missing")
        elif (found := calculate_md5(path)) != expected:
            wrong.append(f"{name} has MD5 {found}, expected {expected}")
    return wrong


def _copy_checked(source_folder: Path, target_folder: Path) -> None:
    """Copy the seven files into ``target_folder`` if every one is right; a partial copy is never left."""
    wrong = _wrong_files(source_folder)
    if wrong:
        raise MnistLitError(
            f"{source_folder} does not hold CIFAR-10's Python batches ({'; '.join(wrong)}). Give a folder holding "
            f"{ARCHIVE} or its unpacked {FOLDER}/ (python scripts/prepare_data.py --dataset cifar10 --source DIR "
            "--data-dir DATA_DIR), or a faithful copy of the damaged files."
        )
    target_folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_folder, prefix=".copy.") as tmp:
        for name in expected_md5():
            shutil.copyfile(source_folder / name, Path(tmp) / name)
        for name in expected_md5():  # renames within one folder: each file is whole or absent
            (Path(tmp) / name).replace(target_folder / name)


def _unpack(archive: Path, data_dir: Path) -> None:
    """Unpack ``cifar-10-python.tar.gz`` into ``DATA_DIR/cifar-10-batches-py``, checking every file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".unpack.") as tmp:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as err:
            raise MnistLitError(
                f"{archive} is not a complete tar.gz archive ({err}); it is truncated or corrupted. Replace it with "
                f"a fresh copy of {ARCHIVE} (torchvision's MD5 of it is {CIFAR10.tgz_md5})."
            ) from err
        _copy_checked(Path(tmp) / FOLDER, cifar_dir(data_dir))


def install_cifar_files(source: str | Path, data_dir: str | Path) -> Path:
    """Lay out CIFAR-10 from ``source``: the ``.tar.gz``, a folder holding it, its unpacked folder, or the files.

    The source is only read; files already in place and right are left alone.
    """
    source, target = Path(source), cifar_dir(data_dir)
    if not _wrong_files(target):
        return target
    candidates = [source, source / ARCHIVE] if source.is_dir() else [source]
    for candidate in candidates:
        if candidate.is_file():
            _unpack(candidate, Path(data_dir))
            return target
    folder = source / FOLDER if (source / FOLDER).is_dir() else source
    _copy_checked(folder, target)
    return target


def ensure_cifar_files(data_dir: str | Path, download: bool = True) -> Path:
    """Make sure ``DATA_DIR/cifar-10-batches-py`` holds CIFAR-10's verified batches.

    Uses what is there first (the folder, or ``DATA_DIR/cifar-10-python.tar.gz``, unpacked), and
    downloads the archive only when neither is, checked by torchvision's MD5.
    """
    data_dir = Path(data_dir)
    target = cifar_dir(data_dir)
    if not (wrong := _wrong_files(target)):
        return target
    if (data_dir / ARCHIVE).is_file():
        _unpack(data_dir / ARCHIVE, data_dir)
        return target
    if not download:
        raise MnistLitError(
            f"CIFAR-10 is not in {target} ({'; '.join(wrong)}) and downloading is off. Put it there "
            f"with `python scripts/prepare_data.py --dataset cifar10 --source DIR --data-dir {data_dir}`, DIR "
            f"holding {ARCHIVE} or its unpacked {FOLDER}/."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(data_dir / ".cifar10.lock"), tempfile.TemporaryDirectory(dir=data_dir, prefix=".download.") as tmp:
        if _wrong_files(target):  # another process may have fetched it meanwhile
            try:
                download_url(CIFAR10.url, root=tmp, filename=ARCHIVE, md5=CIFAR10.tgz_md5)
            except (RuntimeError, OSError) as err:
                raise MnistLitError(
                    f"CIFAR-10 is not in {target} and downloading {CIFAR10.url} failed ({err}). Put it there with "
                    f"`python scripts/prepare_data.py --dataset cifar10 --source DIR --data-dir {data_dir}`, or run "
                    "again where the internet is reachable."
                ) from err
            _unpack(Path(tmp) / ARCHIVE, data_dir)
    return target


def read_batches(data_dir: str | Path, train: bool) -> tuple[Tensor, Tensor]:
    """Images ``[N, 3, 32, 32]`` (uint8) and int64 labels, read by torchvision's ``CIFAR10``.

    torchvision checks every batch's MD5 before it unpickles any (a pickle can run code); a damaged or
    foreign batch is refused with its name.
    """
    try:
        split = CIFAR10(str(data_dir), train=train, download=False)
    except RuntimeError as err:  # torchvision's "Dataset not found or corrupted"
        folder = cifar_dir(data_dir)
        raise MnistLitError(
            f"{folder} does not hold CIFAR-10's Python batches ({'; '.join(_wrong_files(folder))}). Lay it out "
            f"again with `python scripts/prepare_data.py --dataset cifar10 --source DIR --data-dir {Path(data_dir)}`."
        ) from err
    return torch.from_numpy(split.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(split.targets)
