"""What a server listens on and what one request may send: the defaults both ways of serving share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mnist_lit.data.pictures import DEFAULT_MAX_MEGAPIXELS

DEFAULT_HOST = "127.0.0.1"  # loopback: this machine only
DEFAULT_PORT = 8000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# a multipart part's own headers (boundary, name, file name, type) come on top of its file
PART_OVERHEAD_BYTES = 4096


def cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Limits:
    """What one request may send, and how much a server does at once.

    Attributes:
        max_file_mb: The largest picture a request may send, in MB (larger: HTTP 413).
        max_files: The most pictures one request may send (more: HTTP 413).
        max_megapixels: A picture of more megapixels gets an error of its own, decided from its header.
        workers: How many pictures are decoded and classified at once (default: the cores).
        max_queued: How many requests may wait for a worker; more get HTTP 503 with ``Retry-After``.
    """

    max_file_mb: float = 10.0
    max_files: int = 100
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    workers: int = field(default_factory=cores)
    max_queued: int = 32

    @property
    def max_file_bytes(self) -> int:
        return round(self.max_file_mb * 1_000_000)

    @property
    def max_request_bytes(self) -> int:
        return self.max_files * (self.max_file_bytes + PART_OVERHEAD_BYTES)
