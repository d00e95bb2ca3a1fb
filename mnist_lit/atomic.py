"""Writing a file whole or not at all: the one way the project writes a file it derives, saves or reports."""

from __future__ import annotations

import csv
import errno
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mnist_lit.errors import MnistLitError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# what the kernel says when a write does not fit, and what that means to the user
NO_ROOM = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file would be larger than this process may write (ulimit -f)",
}
# what it says when the folder cannot be written at all (a read-only mount, a folder made read-only)
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


class WriteError(MnistLitError, OSError):
    """A file could not be written (no room, or a folder that cannot be written); nothing partial was left.

    An ``OSError`` too, so a library user's ``except OSError`` still catches it.
    """


@contextmanager
def write_atomically(target: Path, advice: str = "") -> Iterator[BinaryIO]:
    """A stream to a temporary file beside ``target``, flushed to disk and renamed over it at the end.

    A rename within one folder is atomic, so ``target`` is the old file or the new one, whole: an error
    raised inside the block (a full disk, a failed check of what was written) or a kill leaves it as it
    was, and the temporary file is removed (a kill can leave one, named ``.NAME.XXXX.part``, never read).
    The folder is flushed after the rename, so a power loss cannot bring the old entry back.

    A full disk, a quota, a file-size limit or a folder that cannot be written ends in a
    :class:`WriteError` naming ``target``, what was kept, and ``advice`` (how to go on).
    """
    existed = target.is_file()
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        tmp = Path(tmp_name)
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; what the project writes is not
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    except OSError as err:
        if err.errno not in NO_ROOM and err.errno not in NOT_WRITABLE:
            raise
        raise WriteError(write_failed_message(target, err, existed, advice)) from err
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_file(target: Path, content: bytes | memoryview | str, advice: str = "") -> None:
    """Write ``content`` (made in memory first, so a failure comes from a plain write) to ``target`` whole."""
    with write_atomically(target, advice) as stream:
        stream.write(content.encode() if isinstance(content, str) else content)


def write_failed_message(target: Path, err: OSError, existed: bool, advice: str = "") -> str:
    """One paragraph: which file, why (no room, or not writable), what was kept, how to go on."""
    if err.errno in NO_ROOM:
        why, fix = NO_ROOM[err.errno], "Free some space (or raise the limit), or write somewhere else"
    else:
        why, fix = "its folder cannot be written", "Make the folder writable, or write somewhere else"
    kept = "the file already there is unchanged" if existed else "nothing was written under that name"
    return f"Could not write {target} ({err.strerror}): {why}. Nothing partial was left, and {kept}. {fix}. {advice}"


def _fsync_folder(folder: Path) -> None:
    """Flush the folder's entries, so the rename survives a power loss (not possible everywhere: Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    except OSError as err:
        if err.errno != errno.EINVAL:  # some filesystems cannot flush a folder; the rename is still atomic
            raise
    finally:
        os.close(handle)


def write_rows(target: Path, rows: Iterable[Sequence[object]], advice: str = "") -> None:
    """Write ``rows`` as a CSV file, whole or not at all."""
    text = io.StringIO(newline="")
    csv.writer(text).writerows(rows)
    write_file(target, text.getvalue(), advice)


def write_figure(target: Path, figure: Figure, advice: str = "") -> None:
    """Write a matplotlib figure as a PNG file (100 dpi), whole or not at all."""
    picture = io.BytesIO()
    figure.savefig(picture, format="png", dpi=100)
    write_file(target, picture.getbuffer(), advice)
