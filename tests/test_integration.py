"""On the real MNIST (``../shared/data/mnist``): one epoch of the textbook's one-hidden model."""

from __future__ import annotations

import csv
from pathlib import Path

from mnist_lit import cli_main
from mnist_lit.data import install_raw_files
from tests.conftest import CONFIGS


def test_one_epoch_reaches_95_percent_and_dumps_every_error(real_mnist: Path, tmp_path: Path) -> None:
    install_raw_files(real_mnist, tmp_path / "data")
    common = ["--config", str(CONFIGS / "one_hidden.yaml"), "--data.data_dir", str(tmp_path / "data"),
              "--data.download", "false", "--trainer.logger.init_args.save_dir", str(tmp_path / "logs")]  # fmt: skip
    # standardised inputs: with the textbook's [0, 1] pixels one epoch lands at 0.945-0.953 depending on the seed
    fit = cli_main(["fit", *common, "--trainer.max_epochs", "1", "--model.normalize", "true"])
    test = cli_main(["test", *common, "--ckpt_path", fit.trainer.checkpoint_callback.last_model_path])
    accuracy = float(test.trainer.callback_metrics["test/acc"])
    assert accuracy >= 0.95
    rows = list(csv.DictReader((Path(test.trainer.log_dir) / "misclassified" / "misclassified.csv").open()))
    assert len(rows) == round((1 - accuracy) * 10_000)
