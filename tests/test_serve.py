"""`serve`: the JSON API through FastAPI's TestClient and a real uvicorn process, on a model of generated data."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from PIL import Image

from mnist_lit import cli_main, load_classifier
from mnist_lit.checkpoint import model_card
from mnist_lit.data.preprocess import STROKE_SHARE
from mnist_lit.serve import Limits, create_app
from mnist_lit.serve.app import Workers
from tests.helpers import CONFIGS, REPO, cli_args, drawn_seven, fails, free_port, import_script, wait_until_serving


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def pictures() -> dict[str, bytes]:
    """Three readable pictures and three that are not: text, an empty file, a PNG cut in half."""
    whole = png(drawn_seven())
    return {
        "seven.png": whole,
        "small seven.png": png(drawn_seven(120, 100, scale=0.5, offset=(10, 10))),
        "notes.png": b"not a picture",
        "empty.png": b"",
        "cut.png": whole[: len(whole) // 2],
        "seven.jpg": (lambda b: (drawn_seven().convert("RGB").save(b, format="JPEG"), b.getvalue())[1])(io.BytesIO()),
    }


def client_for(checkpoint: Path, limits: Limits | None = None) -> TestClient:
    classifier = load_classifier(checkpoint)
    return TestClient(create_app(classifier, model_card(classifier, "mnist", checkpoint), limits))


def upload(pictures: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, content, "application/octet-stream")) for name, content in pictures.items()]


def test_answers_equal_predict_for_the_same_files_and_bad_files_get_their_own_error(
    trained: tuple[Path, Path, Path], tmp_path: Path, pictures: dict[str, bytes]
) -> None:
    data_dir, log_dir, checkpoint = trained
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name, content in pictures.items():
        (folder / name).write_bytes(content)
    out = tmp_path / "predictions.csv"
    with pytest.raises(SystemExit):  # three of the six cannot be read: predict exits 3 after writing every row
        cli_main(cli_args("predict", data_dir, log_dir, "--ckpt_path", str(checkpoint),
                          "--data.predict_path", str(folder), "--output", str(out)))  # fmt: skip
    with open(out, newline="") as stream:
        expected = {Path(row["file"]).name: row for row in csv.DictReader(stream)}

    answers = client_for(checkpoint).post("/predict", files=upload(pictures)).json()["predictions"]
    assert [answer["name"] for answer in answers] == list(pictures)  # input order
    for answer in answers:
        row = expected[answer["name"]]
        if row["error"]:
            assert answer["error"] == row["error"] and answer["pred"] is None and answer["top"] == []
            continue
        assert answer["error"] is None
        assert answer["label"] == row["pred"] == str(answer["pred"])  # MNIST's class names are its digits
        assert answer["confidence"] == pytest.approx(float(row["confidence"]), abs=2e-6)
        assert [label for label, _ in answer["top"]] == [row["pred"], row["top2"], row["top3"]]
        assert answer["top"][0][1] == answer["confidence"] >= answer["top"][1][1] >= answer["top"][2][1]
    assert {name for name, a in zip(pictures, answers) if a["error"]} == {"notes.png", "empty.png", "cut.png"}
    assert "empty" in answers[3]["error"]


def test_pixels_are_the_28_by_28_picture_the_model_received(trained: tuple[Path, Path, Path]) -> None:
    checkpoint = trained[2]
    answer = client_for(checkpoint).post("/predict?pixels=true", files=upload({"a.png": png(drawn_seven())}))
    pixels = answer.json()["predictions"][0]["pixels"]
    assert len(pixels) == 28 and {len(row) for row in pixels} == {28}
    assert max(map(max, pixels)) == 1.0 and min(map(min, pixels)) == 0.0
    # framed as MNIST: the ink inside the centre 20×20 box, the border rows and columns empty
    assert sum(pixels[0]) == sum(pixels[27]) == 0 and sum(row[0] + row[27] for row in pixels) == 0


def test_health_model_page_and_openapi(trained: tuple[Path, Path, Path]) -> None:
    checkpoint = trained[2]
    client = client_for(checkpoint)
    assert client.get("/health").json() == {"status": "ok"}
    model = client.get("/model").json()
    assert model["dataset"] == "mnist" and model["class_names"] == [str(d) for d in range(10)]
    assert model["checkpoint"] == str(checkpoint) and model["input_shape"] == [1, 28, 28]
    assert model["net"]["init_args"] == {"hidden_sizes": [64]} and model["net"]["class_path"].endswith("MLP")
    assert model["stroke_share"] == STROKE_SHARE  # the page's pen for the model, from the one constant
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text and 'id="prediction"' in page.text
    for asset in ("static/pad.js", "static/style.css"):  # the page's assets come from the server itself
        assert f'"{asset}"' in page.text and client.get(f"/{asset}").status_code == 200
    assert "http" not in page.text.replace('"http-equiv"', "")  # no CDN
    assert "/predict" in client.get("/openapi.json").json()["paths"] and client.get("/docs").status_code == 200


def test_limits_and_malformed_requests_get_a_clear_4xx_and_the_server_carries_on(
    trained: tuple[Path, Path, Path],
) -> None:
    client = client_for(trained[2], Limits(max_file_mb=0.02, max_files=3))
    seven = png(drawn_seven())
    big = png(Image.effect_noise((200, 200), 64).convert("L"))  # noise does not compress: about 40 kB
    assert len(big) > 20_000
    refused = [
        (client.post("/predict", files=upload({"big.png": big, "seven.png": seven})), 413, "big.png is larger"),
        (client.post("/predict", files=upload({f"{i}.png": seven for i in range(4)})), 413, "sends 4 files"),
        (client.post("/predict", content=b"x" * 200_000, headers={"content-type": "image/png"}), 413, "larger than"),
        (client.post("/predict", data={"file": "seven"}), 422, "files"),  # no `files` field
        (client.post("/predict", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}), 4, ""),
        (client.get("/predict"), 405, ""),
    ]
    for response, status, words in refused:
        assert str(response.status_code).startswith(str(status)), response.text
        assert words in str(response.json()["detail"])
        assert client.get("/health").json() == {"status": "ok"}
    answer = client.post("/predict", files=upload({"seven.png": seven})).json()["predictions"][0]
    assert answer["error"] is None and answer["pred"] is not None


def test_a_file_name_only_labels_the_answer(trained: tuple[Path, Path, Path], tmp_path: Path, monkeypatch) -> None:
    workdir = tmp_path / "work" / "deep"
    workdir.mkdir(parents=True)
    monkeypatch.chdir(workdir)
    before = sorted(tmp_path.rglob("*"))
    name = "../../written.png"
    answers = client_for(trained[2]).post("/predict", files=upload({name: png(drawn_seven())})).json()
    assert answers["predictions"][0]["name"] == name and answers["predictions"][0]["error"] is None
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, there or anywhere under the test's folder


def test_a_real_server_answers_as_the_app_does_and_stops_on_sigterm(
    trained: tuple[Path, Path, Path], pictures: dict[str, bytes]
) -> None:
    data_dir, log_dir, checkpoint = trained
    port = free_port()
    command = [sys.executable, "-m", "mnist_lit", *cli_args("serve", data_dir, log_dir, "--ckpt_path", "last",
               "--port", str(port), "--max_file_mb", "0.03")]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, url)
        answers = httpx2.post(f"{url}/predict", files=upload(pictures), timeout=30).json()["predictions"]
        assert answers == client_for(checkpoint).post("/predict", files=upload(pictures)).json()["predictions"]
        assert httpx2.get(f"{url}/model", timeout=5).json()["checkpoint"] == str(checkpoint)  # `last` resolved
        too_big = httpx2.post(f"{url}/predict", files=upload({"big.png": b"\0" * 40_000}), timeout=30)
        assert too_big.status_code == 413 and "--max_file_mb" in too_big.json()["detail"]
        assert httpx2.get(f"{url}/health", timeout=5).status_code == 200
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"Serving {checkpoint} at http://127.0.0.1:{port}/" in output
    # uvicorn finishes its requests, then ends with the signal it was sent, as a process killed by it
    assert "Finished server process" in output and server.returncode == -signal.SIGTERM


def test_serve_without_a_checkpoint_or_with_another_network_is_refused(
    trained: tuple[Path, Path, Path], capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, checkpoint = trained
    assert "`serve` needs trained weights" in fails(cli_args("serve", data_dir, log_dir), capsys)
    other = cli_args("serve", data_dir, log_dir, "--ckpt_path", str(checkpoint), config="two_hidden.yaml")
    assert "MLP(hidden_sizes=[64])" in fails(other, capsys)


def test_the_load_test_stops_at_its_budget_and_counts_no_errors(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    data_dir, log_dir, _ = trained
    out = tmp_path / "load.json"
    load_test = import_script("load_test")
    budget = ["--clients", "3", "--requests", "30", "--files-per-request", "2"]
    serve_args = ["--data.data_dir", str(data_dir), "--trainer.logger.init_args.save_dir", str(log_dir)]
    config = str(CONFIGS / "one_hidden.yaml")
    status = load_test.main(["--config", config, *budget, "--data-dir", str(data_dir), "--json", str(out), *serve_args])
    report = json.loads(out.read_text())
    assert status == 0 and report["errors"] == 0 and report["requests"] == 30
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_p99"] and report["requests_per_second"] > 0
    assert set(report["server_rss_mb"]) == {"started", "before", "after", "peak"}
    assert report["server_rss_mb"]["peak"] >= report["server_rss_mb"]["after"] > 100
    assert 0 <= report["accuracy"] <= 1


def test_requests_beyond_the_workers_and_the_queue_get_503_with_retry_after() -> None:
    workers = Workers(workers=1, max_queued=1)
    with workers.admit(), workers.admit():  # one reading, one waiting
        with pytest.raises(HTTPException) as refused, workers.admit():
            pass
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
        assert "--workers" in refused.value.detail and "--max_queued" in refused.value.detail
    with workers.admit():  # the places are given back
        pass
