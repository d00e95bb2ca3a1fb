"""Any network: the example of docs/api.md ("Adding a network") runs as written, end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

from mnist_lit import cli_main, load_classifier
from tests.helpers import CONFIGS, REPO, cli_args, fails


def example_blocks() -> tuple[str, str]:
    """The Python module and the YAML of docs/api.md's "Adding a network" section, as written there."""
    section = (REPO / "docs" / "api.md").read_text().split("## Adding a network", 1)[1]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    config = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return python, config


@pytest.fixture
def tiny_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``mynets.py`` importable, and ``tiny.yaml``: configs/cnn.yaml with the example's ``net``."""
    python, config = example_blocks()
    (tmp_path / "mynets.py").write_text(python)
    monkeypatch.syspath_prepend(str(tmp_path))
    tiny = yaml.safe_load((CONFIGS / "cnn.yaml").read_text())
    tiny["model"]["init_args"]["net"] = yaml.safe_load(config)["model"]["init_args"]["net"]
    tiny["trainer"]["logger"]["init_args"]["name"] = "tiny"
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny))
    return path


def test_a_network_added_as_one_module_and_one_yaml_file_trains_tests_predicts_and_reloads(
    tiny_config: Path, fake_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    log_dir = tmp_path / "logs"

    def args(subcommand: str, *extra: str) -> list[str]:
        command = cli_args(subcommand, fake_data_dir, log_dir, *extra)
        command[command.index("--config") + 1] = str(tiny_config)
        return command

    fit = cli_main(args("fit", "--trainer.max_epochs", "2"))
    assert type(fit.model.net).__name__ == "TinyCNN"
    checkpoint = Path(fit.trainer.checkpoint_callback.last_model_path)
    test = cli_main(args("test", "--ckpt_path", "last"))
    assert float(test.trainer.callback_metrics["test/acc"]) > 0.5  # the generated classes are learnable
    assert (Path(test.trainer.log_dir) / "misclassified" / "misclassified.csv").is_file()
    cli_main(args("predict", "--ckpt_path", "last"))
    assert "200 rows written" in capsys.readouterr().out

    saved = torch.load(checkpoint, weights_only=True)["hyper_parameters"]["net"]  # plain data
    assert saved == {"class_path": "mynets.TinyCNN", "init_args": {"channels": 8}}
    model = load_classifier(checkpoint)
    assert type(model.net).__name__ == "TinyCNN" and model(torch.rand(2, 1, 28, 28)).shape == (2, 10)

    err = fails(args("test", "--ckpt_path", str(checkpoint), "--model.net.init_args.channels", "16"), capsys)
    assert "holds the network TinyCNN(channels=8), but the config builds TinyCNN(channels=16)" in err
