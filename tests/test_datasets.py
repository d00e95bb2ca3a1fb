"""`--data.dataset`: Fashion-MNIST, KMNIST and CIFAR-10 beside MNIST, in their real on-disk formats (generated),
the model's sizes and class names linked to the dataset."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10, KMNIST, FashionMNIST

from mnist_lit import MNISTDataModule, MnistLitError, cli_main
from mnist_lit.data import DATASETS, cifar_files, ensure_files, install_files, load_split, raw_files
from tests.helpers import cli_args, fails, idx_bytes, learnable_digits


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
    assert data.splits["test"][0].shape == (200, 1, 28, 28) and data.input_shape == (1, 28, 28)


def test_fit_links_the_model_to_the_dataset_and_reports_name_the_classes(fake_fashion_dir: Path, tmp_path) -> None:
    fashion = ("--data.dataset", "fashion_mnist")
    fit = cli_main(cli_args("fit", fake_fashion_dir, tmp_path / "logs", "--trainer.max_epochs", "1", *fashion,
                            "--model.normalize", "true"))  # fmt: skip
    assert fit.model.hparams.class_names == list(FashionMNIST.classes)
    assert fit.model.standardize.mean.item() == pytest.approx(DATASETS["fashion_mnist"].mean[0])  # its own
    checkpoint = fit.trainer.checkpoint_callback.last_model_path
    assert torch.load(checkpoint, weights_only=True)["hyper_parameters"]["class_names"][0] == "T-shirt/top"
    test = cli_main(cli_args("test", fake_fashion_dir, tmp_path / "logs", "--ckpt_path", checkpoint, *fashion))
    out = Path(test.trainer.log_dir) / "confusion"
    assert [row["name"] for row in csv.DictReader((out / "per_class.csv").open())] == list(FashionMNIST.classes)
    assert next(csv.reader((out / "confusion_matrix.csv").open()))[1:3] == ["T-shirt/top", "Trouser"]


def test_an_unknown_dataset_is_refused_with_the_choices(fake_data_dir: Path, tmp_path: Path, capsys) -> None:
    err = fails(cli_args("fit", fake_data_dir, tmp_path / "logs", "--data.dataset", "cifar100"), capsys)
    assert "mnist" in err and "fashion_mnist" in err


def test_kmnist_files_are_checked_by_their_idx_layout(fake_kmnist_dir: Path) -> None:
    target = raw_files.ensure_raw_files(fake_kmnist_dir, download=False, dataset="kmnist")
    assert target == fake_kmnist_dir / "KMNIST" / "raw"
    labels = target / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1])  # one label short
    with pytest.raises(MnistLitError, match=r"KMNIST file t10k-labels-idx1-ubyte: it holds 207 bytes, expected 208"):
        raw_files.ensure_raw_files(fake_kmnist_dir, download=False, dataset="kmnist")
    images = target / "train-images-idx3-ubyte"
    images.write_bytes(idx_bytes(np.zeros((600, 32, 32), np.uint8)))  # the right count, the wrong size
    with pytest.raises(MnistLitError, match=r"train-images-idx3-ubyte: its IDX header is .*\(uint8, shape \(600, 28"):
        raw_files.verify_file(images, "train-images-idx3-ubyte", "kmnist")


def test_kmnist_trains_under_its_class_names(fake_kmnist_dir: Path, tmp_path: Path) -> None:
    kmnist = ("--data.dataset", "kmnist", "--trainer.max_epochs", "1")
    fit = cli_main(cli_args("fit", fake_kmnist_dir, tmp_path / "logs", *kmnist))
    assert fit.model.class_names == list(KMNIST.classes) and fit.model.net[1].in_features == 784
    assert float(fit.trainer.callback_metrics["train/acc"]) > 0.5  # the generated classes are learnable


def test_cifar10_is_unpacked_from_its_archive_and_read_as_torchvision_lays_it_out(
    fake_cifar_source: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    target = install_files(fake_cifar_source, data_dir, "cifar10")
    assert target == data_dir / "cifar-10-batches-py"
    assert sorted(path.name for path in target.iterdir()) == sorted(cifar_files.expected_md5())
    images, labels = load_split(data_dir, train=True, dataset="cifar10")
    first_batch, first_labels = learnable_digits(100, seed=1, shape=(3, 32, 32))
    assert images.shape == (500, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images[:100], torch.from_numpy(first_batch)) and labels[:100].tolist() == first_labels.tolist()
    assert load_split(data_dir, train=False, dataset="cifar10")[0].shape == (200, 3, 32, 32)


def test_a_damaged_cifar10_batch_is_named_and_never_unpickled(fake_cifar_source: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    target = install_files(fake_cifar_source, data_dir, "cifar10")
    (target / "data_batch_3").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")  # a pickle that would run a command
    with pytest.raises(MnistLitError, match=r"data_batch_3 has MD5 .*, expected"):
        load_split(data_dir, train=True, dataset="cifar10")
    with pytest.raises(MnistLitError, match=r"CIFAR-10 is not in .*downloading is off.*--dataset cifar10"):
        ensure_files(data_dir, download=False, dataset="cifar10")
    install_files(fake_cifar_source, data_dir, "cifar10")  # laying it out again repairs it
    assert load_split(data_dir, train=True, dataset="cifar10")[0].shape == (500, 3, 32, 32)


def test_a_truncated_cifar10_archive_is_refused_and_nothing_is_laid_out(fake_cifar_source: Path, tmp_path) -> None:
    archive = fake_cifar_source / cifar_files.ARCHIVE
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(MnistLitError, match=r"is not a complete tar\.gz archive"):
        install_files(fake_cifar_source, tmp_path / "data", "cifar10")
    assert not list((tmp_path / "data").rglob("*_batch*"))


def test_cifar10_is_downloaded_as_torchvision_would_when_missing(
    fake_cifar_source: Path, tmp_path: Path, monkeypatch
) -> None:
    def fake_download(url: str, root: str, filename: str, md5: str) -> None:
        assert url == CIFAR10.url and md5 == CIFAR10.tgz_md5
        shutil.copyfile(fake_cifar_source / cifar_files.ARCHIVE, Path(root) / filename)

    monkeypatch.setattr(cifar_files, "download_url", fake_download)
    target = ensure_files(tmp_path / "data", download=True, dataset="cifar10")
    assert sorted(path.name for path in target.iterdir()) == sorted(cifar_files.expected_md5())
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == [".cifar10.lock", "cifar-10-batches-py"]

    def no_network(url: str, root: str, filename: str, md5: str) -> None:
        raise URLError("no route to host")

    monkeypatch.setattr(cifar_files, "download_url", no_network)
    with pytest.raises(MnistLitError, match=r"downloading .*cifar-10-python.tar.gz failed .*no route to host"):
        ensure_files(tmp_path / "elsewhere", download=True, dataset="cifar10")


def test_cifar10_builds_a_3072_input_model_and_its_reports_name_the_classes(
    fake_cifar_source: Path, tmp_path: Path, capsys
) -> None:
    data_dir, logs = tmp_path / "data", tmp_path / "logs"
    install_files(fake_cifar_source, data_dir, "cifar10")
    cifar = ("--data.dataset", "cifar10")
    fit = cli_main(cli_args("fit", data_dir, logs, "--trainer.max_epochs", "2", *cifar, config="two_hidden.yaml"))
    assert fit.model.hparams.input_shape == (3, 32, 32) and fit.model.net[1].in_features == 3072
    checkpoint = fit.trainer.checkpoint_callback.last_model_path
    test = cli_main(cli_args("test", data_dir, logs, "--ckpt_path", checkpoint, *cifar, config="two_hidden.yaml"))
    assert float(test.trainer.callback_metrics["test/acc"]) > 0.5
    run = Path(test.trainer.log_dir)
    names = [row["name"] for row in csv.DictReader((run / "confusion" / "per_class.csv").open())]
    assert names == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert (run / "misclassified" / "misclassified.png").is_file()
    predict = ("predict", data_dir, logs, "--ckpt_path", checkpoint, *cifar)
    out = tmp_path / "predictions.csv"
    cli_main(cli_args(*predict, "--output", str(out), config="two_hidden.yaml"))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 200 and {row["pred"] for row in rows} | {row["top3"] for row in rows} <= set(names)
    err = fails(cli_args(*predict, "--data.predict_path", str(out), config="two_hidden.yaml"), capsys)
    assert "28×28 grayscale" in err and "CIFAR-10 models take 3×32×32 inputs" in err


@pytest.mark.integration
def test_the_registrys_mnist_statistics_are_those_of_the_training_images(real_mnist: Path) -> None:
    ensure_files(real_mnist.parents[1], download=False)  # a fresh clone holds the .gz files only
    images = load_split(real_mnist.parents[1], train=True)[0].double() / 255
    info = DATASETS["mnist"]
    assert images.mean().item() == pytest.approx(info.mean[0], abs=5e-5)
    assert images.std().item() == pytest.approx(info.std[0], abs=5e-5)
