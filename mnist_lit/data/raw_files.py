"""Offline-first MNIST-format files: verify, decompress and lay them out where torchvision looks.

The IDX datasets (``mnist``, ``fashion_mnist``, ``kmnist``) share one format and one layout: four files
of the same names in ``DATA_DIR/<torchvision class name>/raw/``. torchvision's ``download=True`` trusts a
``.gz`` only if its compressed bytes match its own MD5s, so a recompressed copy of the same data would be
downloaded again. Here every file is checked by the MD5 of its *uncompressed* content instead, which
any faithful copy shares. KMNIST's content MD5s are not published (torchvision has only those of its
``.gz`` files, which check its downloads), so its files are checked by their IDX header and size.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import socket
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

from filelock import FileLock
from torchvision.datasets import MNIST
from torchvision.datasets.utils import download_url

from mnist_lit.atomic import write_atomically
from mnist_lit.data.registry import dataset_info
from mnist_lit.errors import MnistLitError

EXPECTED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# torchvision's mirrors, tried in order, and the MD5s of its original .gz files
MIRRORS = list(MNIST.mirrors)
GZ_MD5 = {filename.removesuffix(".gz"): md5 for filename, md5 in MNIST.resources}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
# what the four files hold: IDX arrays of these shapes (images 28×28, one label each)
IDX_SHAPES = {
    "train-images-idx3-ubyte": (60_000, 28, 28),
    "train-labels-idx1-ubyte": (60_000,),
    "t10k-images-idx3-ubyte": (10_000, 28, 28),
    "t10k-labels-idx1-ubyte": (10_000,),
}
# seconds a read may stall before the download gives up on a mirror and tries the next
READ_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class IdxFiles:
    """What verifying, laying out and fetching one IDX dataset takes."""

    title: str
    folder: str
    expected_md5: dict[str, str] | None  # None: checked by IDX layout (see IDX_SHAPES)
    mirrors: list[str]
    gz_md5: dict[str, str]


def idx_files(dataset: str) -> IdxFiles:
    """The tables of ``dataset``, read when asked, so the module's MNIST tables can be swapped (tests)."""
    info = dataset_info(dataset)
    # KMNIST's content MD5s are not published: its files are checked by their IDX layout
    expected_md5 = {"mnist": EXPECTED_MD5, "fashion_mnist": FASHION_MNIST_MD5}.get(dataset)
    if dataset == "mnist":
        return IdxFiles(info.title, "MNIST", expected_md5, MIRRORS, GZ_MD5)
    gz_md5 = {filename.removesuffix(".gz"): md5 for filename, md5 in info.torchvision.resources}
    return IdxFiles(info.title, info.torchvision.__name__, expected_md5, list(info.torchvision.mirrors), gz_md5)


def raw_dir(data_dir: str | Path, dataset: str = "mnist") -> Path:
    """The folder torchvision reads a dataset from: ``DATA_DIR/MNIST/raw`` (``FashionMNIST/raw``, ...)."""
    return Path(data_dir) / idx_files(dataset).folder / "raw"


def _chunks(path: Path) -> Iterator[bytes]:
    """Yield a file's uncompressed bytes, reading through gzip when the name ends in ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise MnistLitError(
            f"{path} is not a complete gzip file ({err}); it is truncated or corrupted. "
            "Replace it with a fresh copy of the file of that name."
        ) from err


class _Content:
    """What is checked of a file's uncompressed bytes, read once: their MD5, size and IDX header."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5()
        self.size = 0
        self.head = b""

    def update(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        if len(self.head) < 64:
            self.head += chunk[:64]
        self.size += len(chunk)

    def md5_problem(self, expected: str) -> str | None:
        """Why the bytes are not the file whose MD5 is ``expected``, or None when they are."""
        digest = self.md5.hexdigest()
        return None if digest == expected else f"the MD5 of its uncompressed content is {digest}, expected {expected}"

    def idx_problem(self, shape: tuple[int, ...]) -> str | None:
        """Why the bytes are not an IDX array of uint8 of ``shape``, or None when they are."""
        header = struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
        if not self.head.startswith(header):
            return f"its IDX header is {self.head[: len(header)].hex()}, expected {header.hex()} (uint8, shape {shape})"
        if self.size != len(header) + math.prod(shape):
            return f"it holds {self.size} bytes, expected {len(header) + math.prod(shape)} for shape {shape}"
        return None


def _check_content(path: Path, name: str, content: _Content, dataset: str) -> None:
    files = idx_files(dataset)
    if files.expected_md5 is None:
        problem = content.idx_problem(IDX_SHAPES[name])
    else:
        problem = content.md5_problem(files.expected_md5[name])
    if problem:
        raise MnistLitError(
            f"{path} does not hold the {files.title} file {name}: {problem}. Replace it with a faithful copy "
            f"(python scripts/prepare_data.py --dataset {dataset} --source DIR --data-dir DATA_DIR lays out a "
            "folder of the four IDX files)."
        )


def _write_verified(source: Path, target: Path, name: str, dataset: str) -> None:
    """Write ``source``'s uncompressed content to ``target`` atomically, only if its MD5 is right.

    A temporary file in the target folder is renamed over the target at the end, so an interrupted
    copy never leaves a half-written file that a later run would trust.
    """
    content = _Content()
    with write_atomically(target, advice="Choose another --data.data_dir, or free some space.") as out:
        for chunk in _chunks(source):
            content.update(chunk)
            out.write(chunk)
        _check_content(source, name, content, dataset)  # raised here, nothing replaces the target


def verify_file(path: Path, name: str, dataset: str = "mnist") -> None:
    """Raise a clear error unless ``path`` holds the dataset's uncompressed file ``name``."""
    content = _Content()
    for chunk in _chunks(path):
        content.update(chunk)
    _check_content(path, name, content, dataset)


def _find_source(source_dir: Path, name: str) -> Path | None:
    for candidate in (source_dir / name, source_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def install_raw_files(source_dir: str | Path, data_dir: str | Path, dataset: str = "mnist") -> Path:
    """Lay out the four IDX files of ``source_dir`` (``.gz`` or not) under ``DATA_DIR/MNIST/raw`` (or the
    dataset's folder).

    Files already in place with the right content are left alone; the source is only read.
    """
    source_dir, target_dir = Path(source_dir), raw_dir(data_dir, dataset)
    files = idx_files(dataset)
    for name in IDX_SHAPES:
        source = _find_source(source_dir, name)
        if source is None:
            raise MnistLitError(
                f"{source_dir} has neither {name} nor {name}.gz. Point --source at a folder that holds the "
                f"four {files.title} IDX files (train-images, train-labels, t10k-images, t10k-labels)."
            )
        target = target_dir / name
        if target.is_file():
            try:
                verify_file(target, name, dataset)
                continue
            except MnistLitError:
                pass  # a wrong or damaged derived copy: replace it from the source
        _write_verified(source, target, name, dataset)
    return target_dir


def _download_file(name: str, target_dir: Path, dataset: str) -> None:
    """Fetch ``name.gz`` from the first mirror that serves it intact, and write ``name`` atomically.

    A mirror that stalls times out on a read; an error page saved under the ``.gz`` name fails the MD5
    check; either way the next mirror is tried and nothing partial is left behind.
    """
    errors, files = [], idx_files(dataset)
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".download.") as tmp:
        for mirror in files.mirrors:
            url = f"{mirror}{name}.gz"
            try:
                download_url(url, root=tmp, filename=f"{name}.gz", md5=files.gz_md5[name])
                _write_verified(Path(tmp) / f"{name}.gz", target_dir / name, name, dataset)
                return
            except (RuntimeError, URLError, OSError, MnistLitError) as err:
                errors.append(f"{url}: {(str(err).strip().splitlines() or [type(err).__name__])[0]}")
                (Path(tmp) / f"{name}.gz").unlink(missing_ok=True)
    raise MnistLitError(
        f"{files.title} is not in {target_dir} and downloading {name} failed ({'; '.join(errors)}). Put the four "
        f"IDX files there, for example with `python scripts/prepare_data.py --dataset {dataset} --source DIR "
        f"--data-dir {target_dir.parent.parent}`, or run again where the internet is reachable."
    )


def _download(target_dir: Path, dataset: str) -> None:
    """Download what is missing, once, even when several processes prepare the same folder at once."""
    target_dir.mkdir(parents=True, exist_ok=True)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(READ_TIMEOUT_S)
    try:
        with FileLock(target_dir / ".download.lock"):
            for name in IDX_SHAPES:
                if not (target_dir / name).is_file():  # another process may have fetched it meanwhile
                    _download_file(name, target_dir, dataset)
    finally:
        socket.setdefaulttimeout(previous_timeout)


def ensure_raw_files(data_dir: str | Path, download: bool = True, dataset: str = "mnist") -> Path:
    """Make sure ``DATA_DIR/MNIST/raw`` (or the dataset's folder) holds the four verified IDX files, uncompressed.

    Uses what is there first (uncompressed files, or any ``.gz`` of the same content, which is
    decompressed beside it), and downloads only what is missing. A read-only folder that already holds
    valid uncompressed files is used without writing anything.
    """
    data_dir = Path(data_dir)
    target_dir = raw_dir(data_dir, dataset)
    files = idx_files(dataset)
    missing = []
    for name in IDX_SHAPES:
        target = target_dir / name
        if target.is_file():
            verify_file(target, name, dataset)
        elif (target_dir / f"{name}.gz").is_file():
            _write_verified(target_dir / f"{name}.gz", target, name, dataset)
        else:
            missing.append(name)
    if missing:
        if not download:
            raise MnistLitError(
                f"{files.title} is not in {target_dir} (missing: {', '.join(missing)}) and downloading is off. Put "
                f"the four IDX files there with `python scripts/prepare_data.py --dataset {dataset} --source DIR "
                f"--data-dir {data_dir}`."
            )
        _download(target_dir, dataset)
        for name in IDX_SHAPES:
            verify_file(target_dir / name, name, dataset)
    return target_dir
