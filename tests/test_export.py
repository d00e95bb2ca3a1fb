"""`export` to ONNX: parity with the checkpoint, the model card, classifying and serving without torch, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx2
import numpy as np
import onnxruntime
import pytest
import torch

from mnist_lit import OnnxClassifier, classify, cli_main, load_classifier
from mnist_lit.data import load_split, to_model_input
from mnist_lit.export import PROBABILITY_TOLERANCE, Parity
from tests.helpers import (
    REAL_MNIST,
    REPO,
    cli_args,
    drawn_seven,
    fails,
    free_port,
    idx_bytes,
    import_script,
    wait_until_serving,
)
from tests.test_serve import png, upload

# run before anything else in a child process: any import of torch or Lightning fails there
WITHOUT_TORCH = textwrap.dedent("""
    import importlib.abc, sys
    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision", "torchmetrics", "lightning", "pytorch_lightning"):
                raise ImportError(f"{name} is blocked: this process stands for a deployment without torch")
    sys.meta_path.insert(0, NoTorch())
""")


def export(data_dir: Path, log_dir: Path, *extra: str, config: str = "one_hidden.yaml") -> None:
    cli_main(cli_args("export", data_dir, log_dir, *extra, config=config))


@pytest.mark.integration
@pytest.mark.parametrize("config", ["one_hidden.yaml", "two_hidden.yaml", "cnn.yaml"])
def test_the_export_gives_the_checkpoints_answers_on_the_whole_test_set(
    real_mnist: Path, tmp_path: Path, config: str, capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, model = real_mnist.parents[1], tmp_path / "logs", tmp_path / "out" / "model.onnx"
    cli_main(cli_args("fit", data_dir, log_dir, "--trainer.max_epochs", "1", config=config))
    export(data_dir, log_dir, "--ckpt_path", "last", "--output", str(model), config=config)
    assert "on all 10,000 test images its predicted classes equal the checkpoint's" in capsys.readouterr().out

    images = to_model_input(load_split(data_dir, train=False)[0])
    checkpoint = next(log_dir.glob("*/version_0/checkpoints/last.ckpt"))
    with torch.inference_mode():
        expected = load_classifier(checkpoint)(images).softmax(dim=1).numpy()
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    got = session.run(["probs"], {"images": images.numpy()})[0]
    assert got.shape == (10_000, 10) and got.dtype == np.float32
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()  # all 10,000 classes equal
    assert np.abs(got - expected).max() <= PROBABILITY_TOLERANCE
    one = session.run(["probs"], {"images": images[:1].numpy()})[0]  # the batch axis is dynamic
    assert np.abs(one - expected[:1]).max() <= PROBABILITY_TOLERANCE

    card = session.get_modelmeta().custom_metadata_map
    assert card["dataset"] == "mnist" and json.loads(card["class_names"]) == [str(d) for d in range(10)]
    assert card["checkpoint"] == str(checkpoint) and card["version"] and json.loads(card["input_shape"]) == [1, 28, 28]
    net = {"one_hidden.yaml": {"hidden_sizes": [64]}, "two_hidden.yaml": {"hidden_sizes": [64, 1024]},
           "cnn.yaml": {"channels": [6, 16], "hidden_sizes": [120, 84], "dropout": 0.25}}[config]  # fmt: skip
    assert json.loads(card["net"])["init_args"] == net and json.loads(card["image_shape"]) == [28, 28]


@pytest.fixture
def exported(trained: tuple[Path, Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """The generated-data model of ``trained``, exported; (checkpoint, model.onnx)."""
    data_dir, log_dir, checkpoint = trained
    model = tmp_path / "model.onnx"
    export(data_dir, log_dir, "--ckpt_path", str(checkpoint), "--output", str(model))
    return checkpoint, model


def test_classify_with_the_onnx_model_equals_the_checkpoint_and_needs_no_torch(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, model = exported
    folder = tmp_path / "mine"
    folder.mkdir()
    drawn_seven().save(folder / "seven.png")
    drawn_seven(120, 100, scale=0.5, offset=(10, 10)).convert("RGB").save(folder / "small.jpg")
    (folder / "notes.png").write_text("not a picture")
    digits = load_split(REAL_MNIST.parents[1], train=False)[0][:50].numpy()
    (tmp_path / "digits-idx3-ubyte").write_bytes(idx_bytes(digits))
    inputs = [str(folder), str(tmp_path / "digits-idx3-ubyte")]
    expected = classify(checkpoint, inputs)

    script = WITHOUT_TORCH + textwrap.dedent(f"""
        import json
        from mnist_lit import classify
        answers = classify({str(model)!r}, {inputs!r})
        assert "torch" not in sys.modules and "lightning" not in sys.modules
        print(json.dumps([[a.name, a.top, a.error] for a in answers]))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.splitlines()[-1])
    assert len(answers) == len(expected) == 53
    for (name, top, error), want in zip(answers, expected):
        assert name == want.name and error == want.error
        assert [c for c, _ in top] == [c for c, _ in want.top]
        assert np.allclose([p for _, p in top], [p for _, p in want.top], atol=2e-6)


def test_serve_takes_the_onnx_model_without_torch(exported: tuple[Path, Path]) -> None:
    checkpoint, model = exported
    port = free_port()
    script = WITHOUT_TORCH + f"import runpy; sys.argv = ['serve', {str(model)!r}, '--port', '{port}']\n"
    script += "runpy.run_module('mnist_lit.serve', run_name='__main__')"
    server = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, url)
        card = httpx2.get(f"{url}/model", timeout=5).json()
        assert card["checkpoint"] == str(checkpoint) and card["class_names"] == [str(d) for d in range(10)]
        assert card["stroke_share"] > 0  # the page redraws strokes the same way without torch
        pictures = {"seven.png": png(drawn_seven()), "notes.png": b"not a picture"}
        answers = httpx2.post(f"{url}/predict", files=upload(pictures), timeout=30).json()["predictions"]
        want = classify(checkpoint, [drawn_seven()])[0]
        assert answers[0]["pred"] == want.pred and abs(answers[0]["confidence"] - want.confidence) <= 2e-6
        assert answers[1]["error"] and answers[1]["pred"] is None
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "blocked" not in output and f"Serving {checkpoint}" in output


def test_the_onnx_model_carries_its_card(exported: tuple[Path, Path]) -> None:
    checkpoint, model = exported
    onnx_model = OnnxClassifier(model)
    assert onnx_model.card["checkpoint"] == str(checkpoint) and onnx_model.input_shape == [1, 28, 28]
    assert onnx_model.class_names == [str(d) for d in range(10)] and onnx_model.card["normalize"] is False
    probs = onnx_model.probabilities(np.zeros((3, 28, 28), np.float32))
    assert probs.shape == (3, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_a_model_that_fails_parity_is_not_written_and_an_older_file_survives(
    trained: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, checkpoint = trained
    model = tmp_path / "model.onnx"
    model.write_bytes(b"the previous export")
    monkeypatch.setattr("mnist_lit.export.compare", lambda *args: Parity(200, 3, 0.2))
    err = fails(cli_args("export", data_dir, log_dir, "--ckpt_path", str(checkpoint), "--output", str(model)), capsys)
    assert "does not give the checkpoint's answers on 200 test images (3 predicted classes differ" in err
    assert model.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "logs", "model.onnx"]  # no temporary file left


def test_bad_exports_are_refused_with_the_fix(
    trained: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, checkpoint = trained
    ckpt = ["--ckpt_path", str(checkpoint)]
    other = cli_args("export", data_dir, log_dir, *ckpt, "--output", str(tmp_path / "m.onnx"), config="two_hidden.yaml")
    assert "holds the network MLP(hidden_sizes=[64])" in fails(other, capsys)
    (tmp_path / "a_file").write_text("x")
    unwritable = cli_args("export", data_dir, log_dir, *ckpt, "--output", str(tmp_path / "a_file" / "m.onnx"))
    err = fails(unwritable, capsys)
    assert "Cannot write" in err and "Choose a writable path with --output FILE.onnx" in err
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    missing = cli_args("export", data_dir, log_dir, *ckpt, "--output", str(tmp_path / "m.onnx"))
    assert 'needs onnxscript, which is not installed. Install the onnx extra: pip install -e ".[onnx]"' in fails(
        missing, capsys
    )
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*.part"))


def test_corrupt_or_foreign_onnx_files_are_refused(
    trained: tuple[Path, Path, Path], exported: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data_dir, log_dir, _ = trained
    model = exported[1]
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(Exception, match="is not a readable ONNX model") as error:
        classify(cut, [drawn_seven()])
    assert "Export it again" in str(error.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):  # a MnistLitError and the standard one
        classify(tmp_path / "missing.onnx", [drawn_seven()])
    foreign = tmp_path / "foreign.onnx"
    torch.onnx.export(torch.nn.Linear(4, 2).eval(), (torch.zeros(1, 4),), str(foreign), dynamo=True, verbose=False)
    with pytest.raises(Exception, match="not one written by mnist_lit's `export`"):
        classify(foreign, [drawn_seven()])
    test_args = cli_args("test", data_dir, log_dir, "--ckpt_path", str(model))
    assert "is an exported ONNX model; `test` needs a .ckpt checkpoint" in fails(test_args, capsys)


def test_without_onnxruntime_classify_names_the_extra(exported: tuple[Path, Path], monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(Exception, match=r"needs ONNX Runtime, which is not installed.*pip install onnxruntime"):
        classify(exported[1], [drawn_seven()])


def test_the_exported_file_is_readable_by_everyone(exported: tuple[Path, Path]) -> None:
    assert os.stat(exported[1]).st_mode & 0o444 == 0o444


def test_the_inference_speed_script_times_both_runtimes(
    trained: tuple[Path, Path, Path], exported: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, model = exported
    out = tmp_path / "speed.json"
    args = ["--ckpt_path", str(checkpoint), "--onnx", str(model), "--data-dir", str(trained[0]), "--single", "20"]
    assert import_script("inference_speed").main([*args, "--rounds", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for side in ("torch", "onnxruntime"):
        assert 0 < report[side]["latency_us"]["median"] <= report[side]["latency_us"]["p99"]
        assert report[side]["digits_per_second"] > 0
    assert report["preprocessing_ms_per_picture"] > 0


def test_serve_in_the_cli_takes_an_onnx_model_in_place_of_a_checkpoint(
    trained: tuple[Path, Path, Path], exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mnist_lit.serve

    served = {}
    monkeypatch.setattr(
        mnist_lit.serve, "serve_model", lambda model, card, **kwargs: served.update(card=card, **kwargs)
    )
    data_dir, log_dir, checkpoint = trained
    cli_main(cli_args("serve", data_dir, log_dir, "--ckpt_path", str(exported[1]), "--port", "8123"))
    assert served["card"]["checkpoint"] == str(checkpoint) and served["port"] == 8123  # the model card of the file
