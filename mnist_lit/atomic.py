"""Writing a file whole or not at all: the one way the project replaces a file it derives or saves."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def write_atomically(target: Path) -> Iterator[BinaryIO]:
    """A stream to a temporary file beside ``target``, flushed to disk and renamed over it at the end.

    A rename within one folder is atomic, so ``target`` is the old file or the new one, whole: an error
    raised inside the block (a full disk, a failed check of what was written) or a kill leaves it as it
    was, and the temporary file is removed (a kill can leave one, named ``.NAME.XXXX.part``, never read).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; what the project writes is not
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
