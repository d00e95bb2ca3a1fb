"""Offline-first MNIST files: verify, decompress and lay them out where torchvision looks.

torchvision's ``MNIST(download=True)`` trusts a ``.gz`` only if its compressed bytes match its own
MD5s, so a recompressed copy of the same data would be downloaded again. Here every file is checked by
the MD5 of its *uncompressed* content instead, which any faithful copy shares.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

from filelock import FileLock
from torchvision.datasets import MNIST
from torchvision.datasets.utils import download_url

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
# seconds a read may stall before the download gives up on a mirror and tries the next
READ_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


def raw_dir(data_dir: str | Path) -> Path:
    """The folder torchvision reads MNIST from: ``DATA_DIR/MNIST/raw``."""
    return Path(data_dir) / "MNIST" / "raw"


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
            "Replace it with a fresh copy of the MNIST file of that name."
        ) from err


def _check_md5(path: Path, name: str, digest: str) -> None:
    expected = EXPECTED_MD5[name]
    if digest != expected:
        raise MnistLitError(
            f"{path} does not hold the MNIST file {name}: the MD5 of its uncompressed content is {digest}, "
            f"expected {expected}. Replace it with a faithful copy (python scripts/prepare_data.py "
            "--source DIR --data-dir DATA_DIR lays out a folder of the four IDX files)."
        )


def _write_verified(source: Path, target: Path, name: str) -> None:
    """Write ``source``'s uncompressed content to ``target`` atomically, only if its MD5 is right.

    A temporary file in the target folder is renamed over the target at the end, so an interrupted
    copy never leaves a half-written file that a later run would trust.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5()
    handle, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in _chunks(source):
                md5.update(chunk)
                out.write(chunk)
        _check_md5(source, name, md5.hexdigest())
        tmp.chmod(0o644)  # mkstemp makes it private; the data is not
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def verify_file(path: Path, name: str) -> None:
    """Raise a clear error unless ``path`` holds the uncompressed MNIST file ``name``."""
    md5 = hashlib.md5()
    for chunk in _chunks(path):
        md5.update(chunk)
    _check_md5(path, name, md5.hexdigest())


def _find_source(source_dir: Path, name: str) -> Path | None:
    for candidate in (source_dir / name, source_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def install_raw_files(source_dir: str | Path, data_dir: str | Path) -> Path:
    """Lay out the four MNIST IDX files of ``source_dir`` (``.gz`` or not) under ``DATA_DIR/MNIST/raw``.

    Files already in place with the right content are left alone; the source is only read.
    """
    source_dir, target_dir = Path(source_dir), raw_dir(data_dir)
    for name in EXPECTED_MD5:
        source = _find_source(source_dir, name)
        if source is None:
            raise MnistLitError(
                f"{source_dir} has neither {name} nor {name}.gz. Point --source at a folder that holds the "
                "four MNIST IDX files (train-images, train-labels, t10k-images, t10k-labels)."
            )
        target = target_dir / name
        if target.is_file():
            try:
                verify_file(target, name)
                continue
            except MnistLitError:
                pass  # a wrong or damaged derived copy: replace it from the source
        _write_verified(source, target, name)
    return target_dir


def _download_file(name: str, target_dir: Path) -> None:
    """Fetch ``name.gz`` from the first mirror that serves it intact, and write ``name`` atomically.

    A mirror that stalls times out on a read; an error page saved under the ``.gz`` name fails the MD5
    check; either way the next mirror is tried and nothing partial is left behind.
    """
    errors = []
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".download.") as tmp:
        for mirror in MIRRORS:
            url = f"{mirror}{name}.gz"
            try:
                download_url(url, root=tmp, filename=f"{name}.gz", md5=GZ_MD5[name])
                _write_verified(Path(tmp) / f"{name}.gz", target_dir / name, name)
                return
            except (RuntimeError, URLError, OSError, MnistLitError) as err:
                errors.append(f"{url}: {(str(err).strip().splitlines() or [type(err).__name__])[0]}")
                (Path(tmp) / f"{name}.gz").unlink(missing_ok=True)
    raise MnistLitError(
        f"MNIST is not in {target_dir} and downloading {name} failed ({'; '.join(errors)}). Put the four IDX "
        f"files there, for example with `python scripts/prepare_data.py --source DIR --data-dir "
        f"{target_dir.parent.parent}`, or run again where the internet is reachable."
    )


def _download(target_dir: Path) -> None:
    """Download what is missing, once, even when several processes prepare the same folder at once."""
    target_dir.mkdir(parents=True, exist_ok=True)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(READ_TIMEOUT_S)
    try:
        with FileLock(target_dir / ".download.lock"):
            for name in EXPECTED_MD5:
                if not (target_dir / name).is_file():  # another process may have fetched it meanwhile
                    _download_file(name, target_dir)
    finally:
        socket.setdefaulttimeout(previous_timeout)


def ensure_raw_files(data_dir: str | Path, download: bool = True) -> Path:
    """Make sure ``DATA_DIR/MNIST/raw`` holds the four verified, uncompressed IDX files.

    Uses what is there first (uncompressed files, or any ``.gz`` of the same content, which is
    decompressed beside it), and downloads only what is missing. A read-only folder that already holds
    valid uncompressed files is used without writing anything.
    """
    data_dir = Path(data_dir)
    target_dir = raw_dir(data_dir)
    missing = []
    for name in EXPECTED_MD5:
        target = target_dir / name
        if target.is_file():
            verify_file(target, name)
        elif (target_dir / f"{name}.gz").is_file():
            _write_verified(target_dir / f"{name}.gz", target, name)
        else:
            missing.append(name)
    if missing:
        if not download:
            raise MnistLitError(
                f"MNIST is not in {target_dir} (missing: {', '.join(missing)}) and downloading is off. Put the "
                f"four IDX files there with `python scripts/prepare_data.py --source DIR --data-dir {data_dir}`."
            )
        _download(target_dir)
        for name in EXPECTED_MD5:
            verify_file(target_dir / name, name)
    return target_dir
