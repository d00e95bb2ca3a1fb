"""Pictures whose pixels, not bytes, would exhaust a reader: bombs made here, bounded in memory and time."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import numpy as np
import pytest
from PIL import Image

from mnist_lit import classify
from mnist_lit.data.digit_inputs import from_image_bytes, from_pictures
from mnist_lit.data.pictures import DEFAULT_MAX_MEGAPIXELS, FORMATS, WORK_SIDE, open_image
from mnist_lit.errors import MnistLitError
from tests.helpers import REPO, cli_args, drawn_seven, free_port, import_script, wait_until_serving

ring_picture = import_script("load_test").ring_picture
# what one picture may add to a reader's peak memory, and how long it may take, on the 2-core machine; without
# the bounds a 24-megapixel PNG alone takes over 600 MB as float arrays
PEAK_MB_PER_PICTURE = 250
SECONDS_PER_PICTURE = 10
# the server with torch and a model loaded takes about 800 MB before any picture
SERVER_PEAK_MB = 1500


def peak_of_reading(folder: Path) -> dict:
    """Read every picture in ``folder`` in a fresh process; its peak memory before and after, and the time taken."""
    code = (
        "import json, sys, time; from pathlib import Path; from mnist_lit.data.digit_inputs import read_digits\n"
        "status = lambda: Path('/proc/self/status').read_text().split('VmHWM:')[1].split()[0]\n"
        "peak = lambda: int(status()) / 1024  # ru_maxrss would count the parent's memory before exec\n"
        "read_digits(sys.argv[1] + '/warm.png'); before = peak(); start = time.perf_counter()\n"
        "digits = read_digits(sys.argv[1])\n"
        "print(json.dumps({'before': before, 'after': peak(), 'seconds': time.perf_counter() - start,"
        " 'read': len(digits.images), 'errors': list(digits.errors.values())}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_pictures_of_many_pixels_cost_a_bounded_amount_and_the_largest_are_refused(tmp_path: Path) -> None:
    side = int((DEFAULT_MAX_MEGAPIXELS * 1e6) ** 0.5) - 100  # just under the limit: decoded whole, then shrunk
    folder = tmp_path / "bombs"
    folder.mkdir()
    (folder / "warm.png").write_bytes(ring_picture(300))
    (folder / "big.png").write_bytes(ring_picture(side, mode="RGB"))
    (folder / "big.jpg").write_bytes(ring_picture(12_000, "JPEG"))  # 144 MP, decoded at 1/8 a side
    (folder / "huge.png").write_bytes(ring_picture(13_000))  # 169 MP in about 200 KB
    assert (folder / "huge.png").stat().st_size < 300_000
    result = peak_of_reading(folder)
    assert result["read"] == 3  # the warm-up picture, big.png, big.jpg
    (refused,) = result["errors"]
    assert "13000×13000 pixels" in refused and f"{DEFAULT_MAX_MEGAPIXELS:g} megapixels" in refused
    assert result["after"] - result["before"] < PEAK_MB_PER_PICTURE
    assert result["seconds"] < 3 * SECONDS_PER_PICTURE


def test_a_large_picture_reads_as_the_same_picture_drawn_small() -> None:
    small = drawn_seven()
    large = drawn_seven(4000, 3000, scale=4000 / 300, offset=(533, 400))  # 12 megapixels, as a phone's photo
    assert max(large.size) > WORK_SIDE
    digits = from_pictures([small, large])
    assert np.abs(digits.images[0] - digits.images[1]).max() < 0.25  # same strokes, resampled differently
    assert np.abs(digits.images[0] - digits.images[1]).mean() < 0.02


def test_a_phone_photo_is_read_and_its_exif_orientation_respected() -> None:
    photo = drawn_seven(4000, 3000, scale=13, offset=(600, 400)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turn 90° clockwise to show it
    buffer = io.BytesIO()
    photo.transpose(Image.Transpose.ROTATE_90).save(buffer, format="JPEG", exif=exif)
    digits = from_image_bytes([buffer.getvalue()], ["photo.jpg"])
    upright = from_pictures([photo])
    assert not digits.errors
    assert np.abs(digits.images[0] - upright.images[0]).mean() < 0.02


def test_the_pixel_limit_is_decided_from_the_header_and_is_a_parameter() -> None:
    picture = ring_picture(2000)  # 4 megapixels
    refused = from_image_bytes([picture], ["ring.png"], max_megapixels=3)
    assert "2000×2000 pixels" in refused.errors[0] and "3 megapixels" in refused.errors[0]
    assert not from_image_bytes([picture], ["ring.png"], max_megapixels=5).errors


def test_only_the_formats_people_send_are_decoded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    drawn_seven().save(buffer, format="PPM")  # a format Pillow reads, but not one of the accepted
    with pytest.raises(MnistLitError, match="not one of the formats read"):
        open_image(buffer.getvalue())
    assert "PNG" in FORMATS and "JPEG" in FORMATS


def test_an_animated_gif_is_read_by_its_first_frame() -> None:
    seven, one = drawn_seven(), Image.new("L", (300, 240), 255)
    one.paste(0, (140, 40, 160, 200))
    buffer = io.BytesIO()
    seven.save(buffer, format="GIF", save_all=True, append_images=[one], duration=100, loop=0)
    animated, first = from_image_bytes([buffer.getvalue()], ["a.gif"]), from_pictures([seven])
    assert np.abs(animated.images[0] - first.images[0]).max() < 1e-6


def test_classify_applies_the_pixel_limit(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    path = tmp_path / "ring.png"
    path.write_bytes(ring_picture(2000))
    (answer,) = classify(trained[2], [path], max_megapixels=1)
    assert answer.pred is None and "2000×2000 pixels" in answer.error


def test_eight_bombs_at_once_against_a_real_server(trained: tuple[Path, Path, Path]) -> None:
    data_dir, log_dir, _ = trained
    port = free_port()
    command = [sys.executable, "-m", "mnist_lit", *cli_args("serve", data_dir, log_dir, "--ckpt_path", "last",
               "--port", str(port))]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    side = int((DEFAULT_MAX_MEGAPIXELS * 1e6) ** 0.5) - 100
    bombs = [ring_picture(side, mode="RGB"), ring_picture(13_000)]  # one decoded and shrunk, one refused
    answers: list = []

    def send(i: int) -> None:
        files = [("files", (f"{i}.png", bombs[i % 2], "image/png"))]
        answers.append(httpx2.post(f"{url}/predict", files=files, timeout=120))

    try:
        wait_until_serving(server, url)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=150)
        assert httpx2.get(f"{url}/health", timeout=5).status_code == 200
        peak_mb = int(next(line for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
                           if line.startswith("VmHWM:")).split()[1]) / 1024  # fmt: skip
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert len(answers) == 8 and all(answer.status_code == 200 for answer in answers)
    errors = [answer.json()["predictions"][0]["error"] for answer in answers]
    assert sum(error is None for error in errors) == 4 and sum("13000×13000" in (e or "") for e in errors) == 4
    assert peak_mb < SERVER_PEAK_MB
