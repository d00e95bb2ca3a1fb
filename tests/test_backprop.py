"""The written-out gradients and the direct Adam update: autograd's and ``optimizer.step()``'s numbers, bit for bit."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mnist_lit import cli_main
from mnist_lit.backprop import MLPBackprop, why_not_written_out
from mnist_lit.cli import denormals_flushed
from mnist_lit.fast import CPUAdam, FusedAdamSteps, OptimizerSteps, line_runs
from mnist_lit.nets import MLP, LeNet5, Standardize
from tests.helpers import cli_args


@pytest.mark.parametrize("hidden", [(64,), (64, 1024), (5, 7, 9)])
@pytest.mark.parametrize("standardize", [nn.Identity(), Standardize([0.13], [0.31])])
def test_the_written_out_gradients_are_autograds(hidden: tuple[int, ...], standardize: nn.Module) -> None:
    torch.manual_seed(0)
    net = MLP((1, 28, 28), 10, hidden)
    images, labels = torch.rand(62, 1, 28, 28), torch.randint(0, 10, (62,))  # a batch of 32 and a short one of 30
    written = written_out(standardize, net, images, labels, 32)
    for start, (written_logits, log_probs, grads) in zip((0, 32), written):
        batch_images, batch_labels = images[start : start + 32], labels[start : start + 32]
        net.zero_grad()
        logits = net(standardize(batch_images))
        loss_sum = F.cross_entropy(logits, batch_labels, reduction="sum")
        (loss_sum / len(batch_labels)).backward()
        assert torch.equal(written_logits, logits)
        assert torch.equal(F.nll_loss(log_probs, batch_labels, reduction="sum"), loss_sum)
        for (name, param), grad in zip(net.named_parameters(), grads):
            assert torch.equal(grad, param.grad), name


def written_out(
    standardize: nn.Module, net: nn.Module, images: torch.Tensor, labels: torch.Tensor, size: int
) -> list[tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]]:
    """Each batch's logits, log-probabilities and gradients of its mean loss, as :class:`MLPBackprop` writes
    them out for batches of ``size`` (the last may be shorter), their loss gradients made in one call."""
    backprop, params = MLPBackprop(standardize, net), [param.detach() for param in net.parameters()]
    counts = [len(batch) for batch in labels.split(size)]
    loss_grads = backprop.loss_grads(labels, torch.cat([(torch.ones(()) / count).expand(count) for count in counts]))
    written = []
    for rows, loss_grad in zip(backprop.rows(images).split(size), loss_grads.split(size)):
        grads = [torch.full_like(param, float("nan")) for param in params]  # every element must be written
        written.append((*backprop.step(params, grads)(rows, loss_grad), grads))
    return written


def test_a_dead_unit_gets_the_gradient_autograd_gives_it() -> None:
    """ReLU's gradient where its output is zero, through a layer whose units are all dead for some rows."""
    torch.manual_seed(1)
    net = MLP((1, 4, 4), 3, (6, 5))
    with torch.no_grad():
        net[1].bias[:3] = -100.0  # three units never fire
    images, labels = torch.rand(8, 1, 4, 4), torch.randint(0, 3, (8,))
    (F.cross_entropy(net(images), labels, reduction="sum") / 8).backward()
    ((_, _, grads),) = written_out(nn.Identity(), net, images, labels, 8)
    assert not grads[0][:3].any()
    assert all(torch.equal(grad, param.grad) for grad, param in zip(grads, net.parameters()))


@pytest.mark.parametrize(
    ("net", "reason"),
    [
        (LeNet5((1, 28, 28), 10), "has a Conv2d layer"),
        (nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2)), "Dropout"),
        (nn.Sequential(nn.Linear(4, 2)), "does not start by flattening"),
        (nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Linear(4, 2)), "Linear → Linear"),
        (nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)), "Tanh"),
        (nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False)), "no bias"),
        (nn.Linear(4, 2), "not an nn.Sequential"),
    ],
)
def test_a_network_it_cannot_take_is_named_with_the_reason(net: nn.Module, reason: str) -> None:
    assert reason in why_not_written_out(net)
    with pytest.raises(ValueError, match="Cannot write out this network's gradients"):
        MLPBackprop(nn.Identity(), net)


def test_identity_and_dropout_that_drops_nothing_are_taken() -> None:
    net = nn.Sequential(nn.Identity(), nn.Flatten(), nn.Dropout(0.0), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert why_not_written_out(net) is None and why_not_written_out(MLP((1, 2, 2), 2, (3,))) is None


def adam_run(make: type, steps: type[FusedAdamSteps] | None, **options: object) -> list[torch.Tensor]:
    """Four Adam steps on an MLP with the learning rate and momentum changing between them (as one-cycle
    changes them), by ``optimizer.step()`` or by one ``steps`` object over two calls of two steps each, the state
    loaded between the calls as resuming loads it (new tensors); the parameters and state after them. The MLP's
    parameters (96, 6, 18 and 3 numbers) make three flat tensors (``line_runs``)."""
    torch.manual_seed(0)
    net = MLP((1, 4, 4), 3, (6,))
    optimizer = make(net.parameters(), lr=0.01, fused=True, **options)
    update = None if steps is None else steps(optimizer)
    for call in range(2):
        if call:
            optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        if update is not None:
            update.start(2)
        for step in range(2 * call, 2 * call + 2):
            grads = [torch.randn(p.shape, generator=torch.Generator().manual_seed(step)) for p in net.parameters()]
            optimizer.param_groups[0]["lr"] = 0.01 / (step + 1)
            optimizer.param_groups[0]["betas"] = (0.9 - 0.01 * step, 0.999)
            if update is None:
                for param, grad in zip(net.parameters(), grads):
                    param.grad = grad
                optimizer.step()
            else:
                for buffer, grad in zip(update.grads, grads):
                    buffer.copy_(grad)
                update()
        if update is not None:
            update.finish()
    state = optimizer.state_dict()["state"]
    return [*net.parameters(), *(value for entry in state.values() for value in entry.values())]


@pytest.mark.parametrize(
    ("make", "options"),
    [(torch.optim.Adam, {}), (CPUAdam, {"weight_decay": 0.1}), (torch.optim.AdamW, {"weight_decay": 0.1})],
)
def test_the_direct_update_is_the_optimizers_step(make: type, options: dict) -> None:
    expected, direct = adam_run(make, None, **options), adam_run(make, FusedAdamSteps, **options)
    assert len(expected) == len(direct) == 4 * 4  # four parameters, each with step, exp_avg and exp_avg_sq
    for got, want in zip(direct, expected):
        assert torch.equal(got, want)


def test_parameters_share_a_flat_tensor_only_after_whole_cache_lines() -> None:
    assert line_runs([50176, 64, 640, 10]) == [[0, 1, 2, 3]]  # the textbook's one-hidden MLP: one tensor
    assert line_runs([96, 6, 18, 3]) == [[0, 1], [2], [3]]
    assert line_runs([16, 32]) == [[0, 1]] and line_runs([24, 16]) == [[0], [1]]


def test_the_direct_update_takes_only_what_it_reproduces() -> None:
    params = list(MLP((1, 2, 2), 2, (3,)).parameters())
    assert FusedAdamSteps.applies(torch.optim.Adam(params, fused=True))
    assert not FusedAdamSteps.applies(torch.optim.Adam(params))  # torch's other implementations
    assert not FusedAdamSteps.applies(torch.optim.Adam(params, fused=True, amsgrad=True))
    assert not FusedAdamSteps.applies(torch.optim.SGD(params, lr=0.1))
    before = [param.detach().clone() for param in params]
    update = OptimizerSteps(torch.optim.SGD(params, lr=0.1))  # any other: its own step()
    update.start(1)
    for grad in update.grads:
        grad.fill_(1.0)
    update()
    assert all(torch.equal(param, old - 0.1) for param, old in zip(params, before))


def test_a_state_made_in_the_written_out_steps_is_an_ordinary_tensor() -> None:
    """The steps run in inference mode; the state a generic optimizer makes at its first step must not be an
    inference tensor, which any later step outside inference mode could not update."""
    params = list(MLP((1, 2, 2), 2, (3,)).parameters())
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    update = OptimizerSteps(optimizer)
    update.start(1)
    for grad in update.grads:
        grad.fill_(1.0)
    with torch.inference_mode():  # as FastClassifier runs a call's steps
        update()
    assert not any(state["momentum_buffer"].is_inference() for state in optimizer.state.values())
    optimizer.step()  # outside inference mode, updating that state in place
    assert all(torch.equal(state["momentum_buffer"], torch.full_like(state["momentum_buffer"], 1.9))
               for state in optimizer.state.values())  # fmt: skip


class RecordsFlushing(L.Callback):
    """Whether denormal floats read as zero while training."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.flushing = denormals_flushed()


def test_the_cli_flushes_denormal_floats_while_it_runs_unless_told_not_to(fake_data_dir: Path, tmp_path) -> None:
    for flush, expected in (("true", True), ("false", False)):
        args = cli_args("fit", fake_data_dir, tmp_path / flush, "--trainer.fast_dev_run", "1")
        cli = cli_main([*args, "--flush_denormals", flush, "--trainer.callbacks+=tests.test_backprop.RecordsFlushing"])
        (recorder,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, RecordsFlushing)]
        assert recorder.flushing is expected
        assert not denormals_flushed()  # the caller's setting afterwards
    torch.set_flush_denormal(True)
    try:
        cli_main([*cli_args("fit", fake_data_dir, tmp_path / "kept", "--trainer.fast_dev_run", "1"),
                  "--flush_denormals", "false"])  # fmt: skip
        assert denormals_flushed()  # a caller who flushes keeps flushing
        assert (torch.tensor([1e-39]) * 2).item() == 0.0
    finally:
        torch.set_flush_denormal(False)
