"""`--data.dataset`: Fashion-MNIST beside MNIST, the model's sizes and class names linked to the dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torchvision.datasets import FashionMNIST

from mnist_lit import MNISTDataModule, MnistLitError, cli_main
from mnist_lit.data import raw_files
from tests.conftest import cli_args, fails


def test_fashion_files_live_in_their_own_folder_and_are_verified(fake_fashion_dir: Path) -> None:
    target = raw_files.ensure_raw_files(fake_fashion_dir, download=False, dataset="fashion_mnist")
    assert target == fake_fashion_dir / "FashionMNIST" / "raw"
    with pytest.raises(MnistLitError, match="MNIST is not in"):  # the MNIST folder is still empty
        raw_files.ensure_raw_files(fake_fashion_dir, download=False)


def test_a_foreign_file_names_the_dataset_and_the_flag(fake_fashion_dir: Path, monkeypatch) -> None:
    monkeypatch.setitem(raw_files.FASHION_MNIST_MD5, "t10k-labels-idx1-ubyte", "0" * 32)
    with pytest.raises(MnistLitError, match=r"does not hold the Fashion-MNIST file .*--dataset fashion_mnist"):
        raw_files.ensure_raw_files(fake_fashion_dir, download=False, dataset="fashion_mnist")


def test_the_datamodule_describes_its_dataset(fake_fashion_dir: Path) -> None:
    data = MNISTDataModule(str(fake_fashion_dir), dataset="fashion_mnist", download=False)
    assert data.class_names == list(FashionMNIST.classes) and data.num_classes == 10 and data.num_features == 784
    data.prepare_data()
    data.setup("test")
    assert data.splits["test"][0].shape == (200, 784)


def test_fit_links_the_model_to_the_dataset_and_reports_name_the_classes(fake_fashion_dir: Path, tmp_path) -> None:
    fashion = ("--data.dataset", "fashion_mnist")
    fit = cli_main(cli_args("fit", fake_fashion_dir, tmp_path / "logs", "--trainer.max_epochs", "1", *fashion))
    assert fit.model.hparams.class_names == list(FashionMNIST.classes)
    checkpoint = fit.trainer.checkpoint_callback.last_model_path
    assert torch.load(checkpoint, weights_only=True)["hyper_parameters"]["class_names"][0] == "T-shirt/top"
    test = cli_main(cli_args("test", fake_fashion_dir, tmp_path / "logs", "--ckpt_path", checkpoint, *fashion))
    out = Path(test.trainer.log_dir) / "confusion"
    assert [row["name"] for row in csv.DictReader((out / "per_class.csv").open())] == list(FashionMNIST.classes)
    assert next(csv.reader((out / "confusion_matrix.csv").open()))[1:3] == ["T-shirt/top", "Trouser"]


def test_an_unknown_dataset_is_refused_with_the_choices(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    err = fails(cli_args("fit", fake_data_dir, tmp_path / "logs", "--data.dataset", "cifar100"), capsys)
    assert "mnist" in err and "fashion_mnist" in err
