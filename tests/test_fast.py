"""FastClassifier, the configs' speed path: exactly the idiomatic Classifier's training, faster."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch

from mnist_lit import Classifier, FastClassifier, MnistLitError, cli_main
from mnist_lit.fast import SkipGraphCaptureCheck
from mnist_lit.mkl_avx512 import why_not_needed_here
from tests.helpers import CONFIGS, REPO, cli_args, import_script


def fit(data_dir: Path, log_dir: Path, *extra: str, config: str = "one_hidden.yaml") -> object:
    return cli_main(cli_args("fit", data_dir, log_dir, "--trainer.max_epochs", "2", *extra, config=config))


class CountsBackward(L.Callback):
    """A callback with a per-step hook: the fast path must then go through Lightning's wrappers."""

    def __init__(self) -> None:
        self.calls = 0

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        self.calls += 1


ADAMW = ("--model.optimizer", "adamw", "--model.weight_decay", "0.01")


@pytest.mark.parametrize(
    ("config", "extra", "written_out"),
    [
        ("one_hidden.yaml", (), True),  # 600 images: 19 batches per epoch, so calls of 7, 7 and 5
        # one-cycle, AdamW, shifts, label smoothing (autograd's); 16 batches: 7, 7, 2
        ("two_hidden_tuned.yaml", ("--data.val_size", "100"), False),
        # written out: one-cycle's rate and momentum, AdamW's decay, standardised pixels
        ("one_hidden_tuned.yaml", ("--data.val_size", "100", *ADAMW, "--model.normalize", "true"), True),
        ("cnn.yaml", (), False),  # any network
        ("one_hidden.yaml", ("--model.optimizer", "sgd"), True),  # the optimizer the idiomatic class builds
        ("one_hidden.yaml", ("--model.write_out_gradients", "false"), False),
    ],
)
def test_the_fast_path_trains_exactly_what_the_idiomatic_class_trains(
    config: str, extra: tuple[str, ...], written_out: bool, fake_data_dir: Path, tmp_path: Path
) -> None:
    plain = fit(fake_data_dir, tmp_path / "plain", *extra, "--model", "mnist_lit.Classifier", config=config)
    fast = fit(fake_data_dir, tmp_path / "fast", *extra, "--model.steps_per_call", "7", config=config)
    assert type(plain.model) is Classifier and type(fast.model) is FastClassifier
    assert (fast.model._backprop is not None) == written_out
    batches = len(plain.datamodule.train_dataloader())
    assert fast.trainer.global_step == plain.trainer.global_step == 2 * batches  # every step counted
    for key, weights in plain.model.state_dict().items():
        assert torch.equal(fast.model.state_dict()[key], weights), key  # bit for bit, on CPU
    metrics, expected = fast.trainer.callback_metrics, plain.trainer.callback_metrics
    assert torch.equal(metrics["train/acc"], expected["train/acc"])
    # the loss sums are added a call at a time instead of a batch at a time: equal up to rounding
    torch.testing.assert_close(metrics["train/loss"], expected["train/loss"], rtol=1e-6, atol=0)
    bar = fast.trainer.progress_bar_callback.train_progress_bar
    assert bar.n == bar.total == batches  # the bar counts batches, not calls
    checkpoint = torch.load(fast.trainer.checkpoint_callback.last_model_path, weights_only=True)
    assert checkpoint["global_step"] == 2 * batches  # and the checkpoint says so


def test_a_callback_with_per_step_hooks_gets_every_step(fake_data_dir: Path, tmp_path: Path) -> None:
    extra = ("--trainer.max_epochs", "1", "--trainer.callbacks+=tests.test_fast.CountsBackward")
    cli = cli_main(cli_args("fit", fake_data_dir, tmp_path, *extra))
    (counter,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, CountsBackward)]
    assert counter.calls == cli.trainer.global_step == cli.datamodule.train_dataloader().batches


def test_max_steps_stops_within_a_call(fake_data_dir: Path, tmp_path: Path) -> None:
    cli = fit(fake_data_dir, tmp_path, "--trainer.max_steps", "10")
    assert cli.trainer.global_step == 10


def test_steps_per_call_must_be_positive() -> None:
    with pytest.raises(MnistLitError, match="steps_per_call must be at least 1"):
        FastClassifier(steps_per_call=0)


def test_model_flags_work_without_init_args_and_the_class_can_be_switched(capsys) -> None:
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", str(CONFIGS / "one_hidden.yaml"), "--model.lr", "0.01", "--print_config"])
    printed = capsys.readouterr().out
    assert "class_path: mnist_lit.FastClassifier" in printed and "lr: 0.01" in printed
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", str(CONFIGS / "one_hidden.yaml"), "--model", "mnist_lit.Classifier",
                  "--print_config"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "class_path: mnist_lit.Classifier" in printed and "steps_per_call" not in printed


def test_torch_still_has_the_graph_capture_check_this_path_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the one workaround of a torch internal: fails when torch renames the check or stops calling it."""
    assert callable(getattr(torch.optim.Optimizer, "_accelerator_graph_capture_health_check", None))
    queries = []
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *args, **kwargs: queries.append(args))
    model = FastClassifier()
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    torch.optim.Adam(model.parameters(), fused=True).step()
    assert len(queries) == 1  # torch's own Adam asks on every step whether a GPU is capturing a graph
    before = [parameter.clone() for parameter in model.parameters()]
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, SkipGraphCaptureCheck) and isinstance(optimizer, torch.optim.Adam)
    optimizer.step()
    assert len(queries) == 1  # the fast path's CPU optimizer does not ask
    pickle.loads(pickle.dumps(optimizer))  # and still pickles whole, as torch's own does
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # and still updates


def test_the_idiomatic_class_is_plain_lightning() -> None:
    model = Classifier()
    assert model.automatic_optimization
    assert type(model.configure_optimizers()) is torch.optim.Adam


@pytest.mark.integration
def test_benchmark_times_every_side_in_its_own_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "bench.json"
    # the compiled side (--compiled-steps K) is left out: compiling costs the suite more than the rest of this
    # test, and the compiled steps' training is tested against the eager steps' below
    args = ["--epochs", "2", "--rounds", "1", "--limit-batches", "28", "--steps-per-call", "7",
            "--data-dir", str(REPO / "data"), "--json", str(out)]  # fmt: skip
    preload = why_not_needed_here() is None and shutil.which("cc") is not None  # the library changes MKL's kernels
    if preload:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # built there, not in the user's cache
        args.append("--mkl-avx512")
    assert import_script("benchmark").main(args) == 0
    results = json.loads(out.read_text())["results"]
    assert list(results) == ["plain loop, default Adam", "plain loop, fused Adam", "Classifier (idiomatic)",
                             "FastClassifier (the configs)",
                             *["FastClassifier, MKL's AVX-512 kernels preloaded"] * preload]  # fmt: skip
    for side in results.values():
        assert 0 < side["ms_per_step_min"] <= side["ms_per_step_median"]
        assert min(side["test_acc"]) > 0.5  # trained: 28 batches of real digits
    fast, idiomatic = results["FastClassifier (the configs)"], results["Classifier (idiomatic)"]
    assert fast["test_acc"] == idiomatic["test_acc"]  # the same training, whatever the speed
    fused = results["plain loop, fused Adam"]
    assert fast["ratio_to_fused_min"] == pytest.approx(fast["ms_per_step_min"] / fused["ms_per_step_min"])


# compiled: 600 images are 19 batches an epoch, the last of 24; a call of 25 takes them all, so groups of 5
# are compiled three times and the last four batches (the short one among them) run eager
COMPILED = ("--model.compiled_steps", "5")


@pytest.mark.parametrize(
    ("config", "extra"),
    [
        ("one_hidden.yaml", ()),
        ("two_hidden_tuned.yaml", ("--data.val_size", "100", "--model.normalize", "true")),  # every recipe option
        ("cnn.yaml", ("--model.net.init_args.dropout", "0")),  # a convolutional network (dropout runs eager)
    ],
)
def test_compiled_steps_train_what_eager_steps_train(config: str, extra: tuple, fake_data_dir: Path, tmp_path) -> None:
    """The same updates within rounding: but Adam divides each gradient by its own running size, so where
    a gradient is rounding noise the weight moves by up to the learning rate either way; the comparison is
    of what training gives (losses, accuracy, predictions), not of every weight's last digits."""
    eager = fit(fake_data_dir, tmp_path / "eager", *extra, config=config)
    compiled = fit(fake_data_dir, tmp_path / "compiled", *extra, *COMPILED, config=config)
    assert compiled.model._compiled is not None  # the compiled path ran, not the fallback
    assert compiled.trainer.global_step == eager.trainer.global_step == 2 * eager.datamodule.train_dataloader().batches
    for state, expected in zip(
        *(run.trainer.optimizers[0].state_dict()["state"].values() for run in (compiled, eager))
    ):
        assert state["step"] == expected["step"]  # every step counted in the optimizer's own state
    metrics, expected = compiled.trainer.callback_metrics, eager.trainer.callback_metrics
    torch.testing.assert_close(metrics["train/loss"], expected["train/loss"], rtol=1e-3, atol=0)
    assert abs(float(metrics["train/acc"]) - float(expected["train/acc"])) <= 2 / 500  # two digits at most
    images = eager.datamodule.splits["train"][0][:200]
    with torch.no_grad():
        agree = (compiled.model(images).argmax(1) == eager.model(images).argmax(1)).float().mean()
    assert agree >= 0.99


def test_a_compiled_run_resumes_exactly(fake_data_dir: Path, tmp_path: Path) -> None:
    whole = fit(fake_data_dir, tmp_path / "whole", *COMPILED, "--trainer.max_epochs", "3")
    first = fit(fake_data_dir, tmp_path / "part", *COMPILED, "--trainer.max_epochs", "1")
    checkpoint = first.trainer.checkpoint_callback.last_model_path
    resumed = fit(fake_data_dir, tmp_path / "part", *COMPILED, "--trainer.max_epochs", "3", "--ckpt_path", checkpoint)
    assert resumed.trainer.global_step == whole.trainer.global_step
    for key, weights in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], weights), key


def test_compiled_steps_fall_back_to_eager_when_a_callback_needs_every_step(fake_data_dir, tmp_path, caplog) -> None:
    lightning_log = logging.getLogger("lightning.pytorch")  # Lightning's own handler; it does not propagate
    lightning_log.addHandler(caplog.handler)
    try:
        cli = fit(fake_data_dir, tmp_path, *COMPILED, "--trainer.callbacks+=tests.test_fast.CountsBackward")
    finally:
        lightning_log.removeHandler(caplog.handler)
    assert cli.model._compiled is None
    assert "compiled_steps=5: a precision plugin, or a callback or hook" in caplog.text  # one line says why
    assert "training eager" in caplog.text
    (counter,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, CountsBackward)]
    assert counter.calls == cli.trainer.global_step


def test_compiled_steps_refuse_an_optimizer_they_do_not_implement(fake_data_dir, tmp_path, caplog) -> None:
    lightning_log = logging.getLogger("lightning.pytorch")
    lightning_log.addHandler(caplog.handler)
    try:
        cli = fit(fake_data_dir, tmp_path, *COMPILED, "--model.optimizer", "sgd", "--trainer.max_epochs", "1")
    finally:
        lightning_log.removeHandler(caplog.handler)
    assert cli.model._compiled is None and type(cli.trainer.optimizers[0]).__mro__[1:3] == (
        SkipGraphCaptureCheck,
        torch.optim.SGD,
    )
    assert "compiled_steps=5: the compiled update implements Adam and AdamW, not sgd; training eager" in caplog.text


def test_compiled_steps_leave_a_network_with_dropout_to_eager_steps(fake_data_dir, tmp_path, caplog) -> None:
    lightning_log = logging.getLogger("lightning.pytorch")
    lightning_log.addHandler(caplog.handler)
    try:
        cli = fit(fake_data_dir, tmp_path, *COMPILED, "--trainer.max_epochs", "1", config="cnn.yaml")
    finally:
        lightning_log.removeHandler(caplog.handler)
    assert cli.model._compiled is None
    assert "compiled_steps=5: the network has dropout" in caplog.text and "training eager" in caplog.text
    assert "Gradients by autograd: the network has a Conv2d layer" in caplog.text  # nor written out, and why


def test_compiled_steps_must_fit_in_a_call() -> None:
    with pytest.raises(MnistLitError, match="compiled_steps must be from 0"):
        FastClassifier(steps_per_call=5, compiled_steps=10)
