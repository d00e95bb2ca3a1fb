"""Any logger works: MLflow through the overlay, a CSV logger, none; the reports reach every logger."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning_utilities.core.imports import RequirementCache
from mlflow.tracking import MlflowClient

from mnist_lit import cli_main
from tests.helpers import CONFIGS, fails

MLFLOW = str(CONFIGS / "loggers" / "mlflow.yaml")


def run(subcommand: str, data_dir: Path, *extra: str) -> object:
    common = [
        "--config",
        str(CONFIGS / "one_hidden.yaml"),
        "--data.data_dir",
        str(data_dir),
        "--data.download",
        "false",
    ]
    return cli_main([subcommand, *common, *extra])


def artifacts(client: MlflowClient, run_id: str, folder: str = "") -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, folder or None):
        found |= artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_the_mlflow_overlay_records_the_run_and_the_test_reports(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the overlay keeps mlflow.db and mlartifacts/ in the working folder
    run("fit", fake_data_dir, "--config", MLFLOW, "--trainer.max_epochs", "2")
    run("test", fake_data_dir, "--config", MLFLOW, "--ckpt_path", "last")

    client = MlflowClient("sqlite:///mlflow.db")
    experiment = client.get_experiment_by_name("mnist_lit")
    fit_run, test_run = sorted(client.search_runs([experiment.experiment_id]), key=lambda r: r.info.start_time)
    assert fit_run.data.params["lr"] == "0.001" and fit_run.data.params["net/init_args/hidden_sizes"] == "[64]"
    assert len(client.get_metric_history(fit_run.info.run_id, "train/acc")) == 2  # one point per epoch
    last = Path(fit_run.data.tags["checkpoint.last"])
    assert last.is_file() and last.parts[-5:-3] == ("logs", "one_hidden")  # the run folder, named after the config
    assert "config.yaml" in artifacts(client, fit_run.info.run_id)
    reports = artifacts(client, test_run.info.run_id)
    assert {"misclassified/misclassified.png", "misclassified/misclassified.csv", "confusion/confusion_matrix.png",
            "confusion/confusion_matrix.csv", "confusion/per_class.csv", "config.yaml"} <= reports  # fmt: skip
    assert 0 <= test_run.data.metrics["test/acc"] <= 1
    # TensorBoard still has its run folders beside: fit's version_0, test's version_1
    assert sorted(p.name for p in (tmp_path / "logs" / "one_hidden").iterdir()) == ["version_0", "version_1"]


def test_a_csv_logger_gets_the_reports_beside_its_metrics_and_last_finds_its_checkpoint(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    csv = ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", "csv",
           "--trainer.logger.name", "one_hidden"]  # fmt: skip
    run("fit", fake_data_dir, *csv, "--trainer.max_epochs", "1")
    tested = run("test", fake_data_dir, *csv, "--ckpt_path", "last")
    run_dir = tmp_path / "csv" / "one_hidden" / "version_1"
    assert Path(tested.trainer.log_dir).resolve() == run_dir and (run_dir / "metrics.csv").is_file()
    assert (run_dir / "misclassified" / "misclassified.png").is_file()
    assert (run_dir / "confusion" / "confusion_matrix.csv").is_file()


def test_without_a_logger_checkpoints_stay_under_the_configs_folder(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fit = run("fit", fake_data_dir, "--trainer.logger", "false", "--trainer.max_epochs", "1")
    last = Path(fit.trainer.checkpoint_callback.last_model_path).resolve()
    assert last == tmp_path / "logs/one_hidden/checkpoints/last.ckpt"
    tested = run("test", fake_data_dir, "--trainer.logger", "false", "--ckpt_path", "last")
    assert tested.trainer.callback_metrics["test/acc"] >= 0


def test_the_mlflow_overlay_without_mlflow_names_the_extra(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("lightning.pytorch.loggers.mlflow._MLFLOW_AVAILABLE", RequirementCache("mlflow>=999"))
    common = ["--config", str(CONFIGS / "one_hidden.yaml"), "--data.data_dir", str(fake_data_dir)]
    err = fails(["fit", *common, "--config", MLFLOW, "--trainer.max_epochs", "1"], capsys)
    assert "needs mlflow>=999, which is not installed" in err and 'pip install -e ".[track]"' in err
    assert not (tmp_path / "mlflow.db").exists()


def test_mlflow_alone_saves_the_config_and_last_finds_the_checkpoint(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with MLflow on a database as the only logger, Lightning's SaveConfigCallback stops on a bare AssertionError
    monkeypatch.chdir(tmp_path)
    alone = ["--trainer.logger", "lightning.pytorch.loggers.MLFlowLogger", "--trainer.logger.tracking_uri",
             "sqlite:///alone.db", "--trainer.logger.experiment_name", "alone"]  # fmt: skip
    fit = run("fit", fake_data_dir, *alone, "--trainer.max_epochs", "1")
    last = Path(fit.trainer.checkpoint_callback.last_model_path).resolve()
    assert last.is_relative_to(tmp_path / "logs" / "one_hidden")  # under the config's folder
    tested = run("test", fake_data_dir, *alone, "--ckpt_path", "last")
    assert tested.trainer.callback_metrics["test/acc"] >= 0
    client = MlflowClient("sqlite:///alone.db")
    runs = client.search_runs([client.get_experiment_by_name("alone").experiment_id])
    assert len(runs) == 2 and all("config.yaml" in artifacts(client, r.info.run_id) for r in runs)
