from __future__ import annotations

import importlib
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from mnist_lit import MLP, Classifier, FastClassifier, LeNet5, MnistLitError, load_classifier
from mnist_lit.data import DATASETS
from mnist_lit.fast import FastMLPClassifier
from mnist_lit.model import MLPClassifier


@pytest.mark.parametrize(
    ("hidden", "shapes"), [((64,), [(64, 784), (10, 64)]), ((64, 1024), [(64, 784), (1024, 64), (10, 1024)])]
)
def test_mlp_has_the_textbook_layers(hidden: tuple[int, ...], shapes: list[tuple[int, int]]) -> None:
    net = MLP((1, 28, 28), 10, hidden)
    assert isinstance(net[0], nn.Flatten)  # it takes images in their shape
    assert [layer.weight.shape for layer in net if isinstance(layer, nn.Linear)] == [torch.Size(s) for s in shapes]
    assert sum(isinstance(layer, nn.ReLU) for layer in net) == len(hidden)
    assert net(torch.rand(5, 1, 28, 28)).shape == (5, 10)


@pytest.mark.parametrize("input_shape", [(1, 28, 28), (3, 32, 32)])
def test_lenet5_reads_images_in_their_shape(input_shape: tuple[int, int, int]) -> None:
    net = LeNet5(input_shape, 10)
    assert net(torch.rand(4, *input_shape)).shape == (4, 10)
    assert [layer.out_channels for layer in net if isinstance(layer, nn.Conv2d)] == [6, 16]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"hidden_sizes": (64, 0)}, "positive"),
        ({"lr": 0.0}, "^lr must be positive"),
        ({"class_names": ["cat", "dog"]}, "^class_names names 2 classes"),
        ({"weight_decay": -0.1}, "^weight_decay must be at least 0"),
        ({"label_smoothing": 1.0}, "^label_smoothing must be from 0 to below 1"),
        ({"net": lambda shape, classes: nn.Linear(784, classes)}, "net must be a network class"),
        ({"net": "mnist_lit.nets.MLP"}, "net must be a network class"),
        ({"net": partial(MLP, hidden_sizes=[8]), "hidden_sizes": [16]}, "--model.net.init_args.hidden_sizes"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_argument(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words) as refused:
        Classifier(**kwargs)
    assert isinstance(refused.value, MnistLitError)


def test_the_network_is_passed_in_and_the_checkpoint_rebuilds_it(tmp_path: Path) -> None:
    model = Classifier(net=partial(LeNet5, channels=(4, 8), hidden_sizes=(32,)), lr=0.002, normalize=True)
    assert model.hparams.net == {"class_path": "mnist_lit.nets.lenet.LeNet5",
                                 "init_args": {"channels": [4, 8], "hidden_sizes": [32]}}  # fmt: skip
    path = save(model, tmp_path)
    checkpoint = torch.load(path, weights_only=True)  # plain data only
    assert checkpoint["hyper_parameters"]["net"] == model.hparams.net
    restored = Classifier.load_from_checkpoint(path, weights_only=True)
    assert isinstance(restored.net, LeNet5) and restored.hparams.lr == 0.002
    images = torch.rand(3, 1, 28, 28)
    assert torch.equal(restored.eval()(images), model.eval()(images))


def test_an_earlier_versions_checkpoint_loads_with_the_same_answers(tmp_path: Path) -> None:
    """Earlier versions built the MLP without an ``nn.Flatten`` (its layers one index lower) and named it by
    ``hidden_sizes`` and ``input_size``; the class was ``FastMLPClassifier``, now an alias."""
    model = Classifier(net=partial(MLP, hidden_sizes=[16]))
    checkpoint = torch.load(save(model, tmp_path), weights_only=True)
    del checkpoint["mnist_lit_format"]
    checkpoint["state_dict"] = {key.replace("net.1.", "net.0.").replace("net.3.", "net.2."): value
                                for key, value in checkpoint["state_dict"].items()}  # fmt: skip
    hyper = checkpoint["hyper_parameters"]
    for key in ("net", "input_shape", "dataset"):
        del hyper[key]
    hyper |= {"hidden_sizes": [16], "input_size": 784, "_class_path": "mnist_lit.FastMLPClassifier",
              "_instantiator": "lightning.pytorch.cli.instantiate_module", "steps_per_call": 25}  # fmt: skip
    legacy = tmp_path / "legacy.ckpt"
    torch.save(checkpoint, legacy)
    restored = load_classifier(legacy)
    images = torch.rand(3, 1, 28, 28)
    assert torch.equal(restored(images), model.eval()(images))
    assert FastMLPClassifier is FastClassifier and MLPClassifier is Classifier


def test_compile_keeps_checkpoint_keys() -> None:
    plain, compiled = Classifier(), Classifier(compile=True)
    assert list(plain.state_dict()) == list(compiled.state_dict())


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_normalize_standardises_with_the_datasets_own_statistics(dataset: str) -> None:
    torch.manual_seed(0)
    plain, normalizing = Classifier(), Classifier(normalize=True, dataset=dataset)
    normalizing.net.load_state_dict(plain.net.state_dict())
    info = DATASETS[dataset]
    assert normalizing.state_dict()["standardize.mean"].flatten().tolist() == pytest.approx(info.mean)
    images = torch.rand(3, 1, 28, 28)
    assert torch.allclose(normalizing(images), plain((images - info.mean[0]) / info.std[0]))


@pytest.mark.parametrize(("optimizer", "expected"), [("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)])
def test_the_fast_path_builds_the_optimizer_the_idiomatic_class_builds(optimizer: str, expected: type) -> None:
    for cls in (Classifier, FastClassifier):
        built = cls(optimizer=optimizer).configure_optimizers()
        assert isinstance(built, expected)
        assert isinstance(built, torch.optim.Adam) == (optimizer == "adam")  # never Adam in SGD's place


def save(model: L.LightningModule, folder: Path) -> Path:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_epochs=0)
    trainer.strategy.connect(model)
    path = folder / "model.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.mark.parametrize("package", ["mnist_lit", "mnist_lit.data"])
def test_every_public_name_resolves_on_first_use(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == set(module._WHERE)  # one list of the public names, one of where they live
    for name in module.__all__:
        assert getattr(module, name) is getattr(importlib.import_module(module._WHERE[name]), name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        module.nothing  # noqa: B018
