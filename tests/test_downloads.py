"""Downloads against a local fake mirror: stalls move on, error pages are refused, one download per folder."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mnist_lit.data import raw_files
from mnist_lit.data.raw_files import ensure_raw_files, raw_dir
from tests.helpers import write_fake_mnist


@pytest.fixture
def fake_gz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gzipped fake MNIST files, trusted by both their compressed and uncompressed MD5s."""
    folder = tmp_path / "served"
    monkeypatch.setattr(raw_files, "EXPECTED_MD5", write_fake_mnist(folder, gz=True))
    gz_md5 = {name: hashlib.md5((folder / f"{name}.gz").read_bytes()).hexdigest() for name in raw_files.EXPECTED_MD5}
    monkeypatch.setattr(raw_files, "GZ_MD5", gz_md5)
    return folder


@pytest.fixture
def mirror_server(fake_gz: Path):
    """http://127.0.0.1:PORT/stall/ never answers in time, /html/ answers an error page, /good/ serves the files."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind, name = self.path.strip("/").split("/", 1)
            if kind == "stall":
                time.sleep(3)
                return
            body = (
                b"<html><body>503 Service Unavailable</body></html>"
                if kind == "html"
                else (fake_gz / name).read_bytes()
            )
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_stalled_mirror_and_error_page_are_skipped(mirror_server: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(raw_files, "READ_TIMEOUT_S", 0.5)
    monkeypatch.setattr(raw_files, "MIRRORS", [f"{mirror_server}/{kind}/" for kind in ("stall", "html", "good")])
    target = ensure_raw_files(tmp_path / "data")
    for name, md5 in raw_files.EXPECTED_MD5.items():
        assert hashlib.md5((target / name).read_bytes()).hexdigest() == md5
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".download.lock")) == sorted(
        raw_files.EXPECTED_MD5
    )  # no .gz error page, no temporary file left behind


def test_only_error_pages_fail_with_every_mirror_named(mirror_server: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(raw_files, "MIRRORS", [f"{mirror_server}/html/"])
    with pytest.raises(raw_files.MnistLitError, match=r"/html/train-images-idx3-ubyte.gz: File not found or corrupted"):
        ensure_raw_files(tmp_path / "data")
    assert not list(raw_dir(tmp_path / "data").glob("*-ubyte*"))


def test_two_preparations_at_once_download_once(fake_gz: Path, tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []

    def slow_download(url: str, root: str, filename: str, md5: str) -> None:
        calls.append(filename)
        time.sleep(0.05)
        shutil.copy(fake_gz / filename, Path(root) / filename)

    monkeypatch.setattr(raw_files, "download_url", slow_download)
    errors: list[BaseException] = []

    def prepare() -> None:
        try:
            ensure_raw_files(tmp_path / "data")
        except BaseException as err:  # reported below; a thread's exception would otherwise be lost
            errors.append(err)

    threads = [threading.Thread(target=prepare) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(calls) == sorted(f"{name}.gz" for name in raw_files.EXPECTED_MD5)  # each file once
    for name in raw_files.EXPECTED_MD5:
        content = (raw_dir(tmp_path / "data") / name).read_bytes()
        assert content == gzip.decompress((fake_gz / f"{name}.gz").read_bytes())
