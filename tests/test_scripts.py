"""The textbook's side steps as scripts: prepare, inspect and export the data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_lit import cli_main
from mnist_lit.data import raw_files
from tests.helpers import REPO, cli_args, import_script, write_fake_mnist


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def import_scripts() -> tuple:
    return import_script("export_npy"), import_script("inspect_data"), import_script("render_scans")


def test_inspect_and_export_on_laid_out_data(fake_data_dir: Path, tmp_path: Path) -> None:
    export_npy, inspect_data, _ = import_scripts()
    assert inspect_data.main(["--data-dir", str(fake_data_dir), "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert export_npy.main(["--data-dir", str(fake_data_dir), "--out-dir", str(tmp_path / "npy")]) == 0
    x_train, y_test = np.load(tmp_path / "npy" / "x_train.npy"), np.load(tmp_path / "npy" / "y_test.npy")
    assert x_train.shape == (600, 28, 28) and x_train.dtype == np.uint8
    assert y_test.shape == (200,)


def test_prepare_inspect_and_export_cifar10_from_its_archive(fake_cifar_source: Path, tmp_path: Path, capsys) -> None:
    export_npy, inspect_data, _ = import_scripts()
    prepare_data = import_script("prepare_data")
    data = ["--data-dir", str(tmp_path / "data"), "--dataset", "cifar10"]
    assert prepare_data.main(["--source", str(fake_cifar_source), *data]) == 0
    assert inspect_data.main([*data, "--out", str(tmp_path / "s.png"), "--count", "3"]) == 0
    printed = capsys.readouterr().out
    assert "CIFAR-10 is ready" in printed and "train: 500 images (500, 3, 32, 32) torch.uint8" in printed
    assert "model input (500, 3, 32, 32)" in printed and (tmp_path / "s.png").stat().st_size > 0
    assert export_npy.main([*data, "--out-dir", str(tmp_path / "npy")]) == 0
    assert np.load(tmp_path / "npy" / "x_test.npy").shape == (200, 3, 32, 32)


def test_inspect_and_export_without_data_say_how_to_get_it(tmp_path: Path, capsys) -> None:
    export_npy, inspect_data, _ = import_scripts()
    assert inspect_data.main(["--data-dir", str(tmp_path)]) == 2
    assert export_npy.main(["--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("scripts/prepare_data.py") == 2
    assert not (tmp_path / "npy").exists()


def test_prepare_data_refuses_a_folder_without_mnist(tmp_path: Path) -> None:
    result = run_script(
        "prepare_data.py", "--source", str(tmp_path), "--data-dir", str(tmp_path / "data"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz" in result.stderr
    assert "Traceback" not in result.stderr


def test_prepare_data_rejects_files_that_are_not_mnist(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path / "source", gz=True)  # valid IDX, but not MNIST's content
    result = run_script("prepare_data.py", "--source", str(tmp_path / "source"), "--data-dir", "data", cwd=tmp_path)
    assert result.returncode == 2
    assert "does not hold the MNIST file" in result.stderr
    assert not any(raw_files.raw_dir(tmp_path / "data").glob("*-ubyte"))


def test_render_scans_writes_pictures_a_model_can_be_checked_on(trained, tmp_path: Path, capsys) -> None:
    data_dir, _, checkpoint = trained
    *_, render_scans = import_scripts()
    out = tmp_path / "scans"
    args = ["--data-dir", str(data_dir), "--out-dir", str(out), "--count", "12", "--check", str(checkpoint)]
    assert render_scans.main(args) == 0
    scans = sorted(path for path in out.iterdir() if path.suffix in (".png", ".jpg"))
    assert len(scans) == 12 and sum(path.suffix == ".jpg" for path in scans) == 4
    assert Image.open(scans[0]).size == (200, 200)
    assert np.load(out / "originals.npy").shape == (12, 28, 28)
    assert " of 12 scans (" in capsys.readouterr().out.splitlines()[-1]  # "N of 12 scans (0.xxx) read as ..."


def test_report_gathers_a_run_and_its_test_into_markdown_with_figures(trained, tmp_path: Path) -> None:
    data_dir, log_dir, checkpoint = trained
    test = cli_main(cli_args("test", data_dir, log_dir, "--ckpt_path", str(checkpoint)))
    fit_run = checkpoint.parent.parent
    assert run_script("report.py", str(fit_run), "--out", str(tmp_path / "report"), cwd=REPO).returncode == 0
    report = (tmp_path / "report" / "report.md").read_text()
    accuracy = float(test.trainer.callback_metrics["test/acc"])
    assert f"| test/acc | {accuracy:.4f} |" in report
    assert "| train/loss |" in report and "| model.net.init_args.hidden_sizes | [64] |" in report
    assert "(newest: last.ckpt)" in report  # which checkpoint the test score is of
    for figure in ("curves.png", "confusion_matrix.png", "misclassified.png"):
        assert f"({figure})" in report and (tmp_path / "report" / figure).stat().st_size > 0
    assert "## Accuracy per class" in report


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = run_script("report.py", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "holds no TensorBoard event files" in result.stderr
