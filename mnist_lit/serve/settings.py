"""What a server listens on and what one request may send: the defaults both ways of serving share."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"  # loopback: this machine only
DEFAULT_PORT = 8000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# a multipart part's own headers (boundary, name, file name, type) come on top of its file
PART_OVERHEAD_BYTES = 4096


@dataclass(frozen=True)
class Limits:
    """What one request may send: at most ``max_files`` pictures of at most ``max_file_mb`` MB each."""

    max_file_mb: float = 10.0
    max_files: int = 100

    @property
    def max_file_bytes(self) -> int:
        return round(self.max_file_mb * 1_000_000)

    @property
    def max_request_bytes(self) -> int:
        return self.max_files * (self.max_file_bytes + PART_OVERHEAD_BYTES)
