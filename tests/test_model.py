from __future__ import annotations

import importlib
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from mnist_lit import MLP, MLPClassifier, MnistLitError


@pytest.mark.parametrize(
    ("hidden", "shapes"), [((64,), [(64, 784), (10, 64)]), ((64, 1024), [(64, 784), (1024, 64), (10, 1024)])]
)
def test_mlp_has_the_textbook_layers(hidden: tuple[int, ...], shapes: list[tuple[int, int]]) -> None:
    net = MLP(784, hidden, 10)
    assert [layer.weight.shape for layer in net if isinstance(layer, nn.Linear)] == [torch.Size(s) for s in shapes]
    assert sum(isinstance(layer, nn.ReLU) for layer in net) == len(hidden)
    assert net(torch.rand(5, 784)).shape == (5, 10)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"hidden_sizes": (64, 0)}, "positive"),
        ({"lr": 0.0}, "lr"),
        ({"class_names": ["cat", "dog"]}, "names 2 classes"),
        ({"weight_decay": -0.1}, "weight_decay must be at least 0"),
        ({"label_smoothing": 1.0}, "label_smoothing from 0 to below 1"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(MnistLitError, match=words):
        MLPClassifier(**kwargs)


def test_predict_step_returns_positions_and_probabilities() -> None:
    model = MLPClassifier()
    out = model.predict_step((torch.rand(4, 784), torch.tensor([3, 5, 6, 9])), 0)
    assert out["positions"].tolist() == [3, 5, 6, 9]  # which inputs the rows answer, passed through
    assert out["probs"].shape == (4, 10)
    assert torch.allclose(out["probs"].sum(dim=1), torch.ones(4))


def test_checkpoint_reloads_with_weights_only(tmp_path: Path) -> None:
    model = MLPClassifier(hidden_sizes=(64, 1024), lr=0.002)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_epochs=0)
    trainer.strategy.connect(model)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["hyper_parameters"]["hidden_sizes"] == (64, 1024)
    restored = MLPClassifier.load_from_checkpoint(path)
    assert restored.hparams.lr == 0.002
    for a, b in zip(model.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)


def test_compile_keeps_checkpoint_keys() -> None:
    plain, compiled = MLPClassifier(), MLPClassifier(compile=True)
    assert list(plain.state_dict()) == list(compiled.state_dict())


def test_normalize_standardises_inside_the_model() -> None:
    torch.manual_seed(0)
    plain, normalizing = MLPClassifier(), MLPClassifier(normalize=True)
    normalizing.net.load_state_dict(plain.net.state_dict())
    images = torch.rand(3, 784)
    assert torch.allclose(normalizing(images), plain((images - 0.1307) / 0.3081))


@pytest.mark.parametrize("package", ["mnist_lit", "mnist_lit.data"])
def test_every_public_name_resolves_on_first_use(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == set(module._WHERE)  # one list of the public names, one of where they live
    for name in module.__all__:
        assert getattr(module, name) is getattr(importlib.import_module(module._WHERE[name]), name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        module.nothing  # noqa: B018
