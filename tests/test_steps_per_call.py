"""Several optimizer steps per `training_step` call (`--model.steps_per_call`): the same training, faster."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pytest
import torch

from mnist_lit import MLPClassifier, MnistLitError, cli_main
from tests.conftest import cli_args, import_script


def fit(data_dir: Path, log_dir: Path, steps_per_call: int, *extra: str, config: str = "one_hidden.yaml"):
    args = ["--trainer.max_epochs", "2", "--model.steps_per_call", str(steps_per_call), *extra]
    return cli_main(cli_args("fit", data_dir, log_dir, *args, config=config))


@pytest.mark.parametrize(
    ("config", "extra"),
    [
        ("one_hidden.yaml", ()),  # 600 images: 19 batches per epoch, so calls of 7, 7 and 5
        ("two_hidden_tuned.yaml", ("--data.val_size", "100")),  # one-cycle, AdamW, shifts; 16 batches: 7, 7, 2
    ],
)
def test_several_steps_per_call_train_exactly_what_one_per_call_trains(
    config: str, extra: tuple[str, ...], fake_data_dir: Path, tmp_path: Path
) -> None:
    one = fit(fake_data_dir, tmp_path / "one", 1, *extra, config=config)
    several = fit(fake_data_dir, tmp_path / "several", 7, *extra, config=config)
    assert several.trainer.global_step == one.trainer.global_step == 2 * len(one.datamodule.train_dataloader())
    for key, weights in one.model.state_dict().items():
        assert torch.equal(several.model.state_dict()[key], weights), key  # exactly, on CPU
    metrics, expected = several.trainer.callback_metrics, one.trainer.callback_metrics
    assert torch.equal(metrics["train/acc"], expected["train/acc"])
    # the loss sums are added a call at a time instead of a batch at a time: equal up to rounding
    torch.testing.assert_close(metrics["train/loss"], expected["train/loss"], rtol=1e-6, atol=0)
    bar = several.trainer.progress_bar_callback.train_progress_bar
    assert bar.n == bar.total == len(one.datamodule.train_dataloader())  # the bar counts batches, not calls


def test_max_steps_stops_within_a_call(fake_data_dir: Path, tmp_path: Path) -> None:
    cli = fit(fake_data_dir, tmp_path, 25, "--trainer.max_steps", "10")
    assert cli.trainer.global_step == 10


def test_steps_per_call_must_be_positive() -> None:
    with pytest.raises(MnistLitError, match="steps_per_call must be at least 1"):
        MLPClassifier(steps_per_call=0)


def test_cpu_optimizer_skips_the_per_step_gpu_query(monkeypatch: pytest.MonkeyPatch) -> None:
    model = MLPClassifier()
    queries = []
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *args, **kwargs: queries.append(args))
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    torch.optim.Adam(model.parameters()).step()
    assert len(queries) == 1  # torch's own Adam asks on every step whether a GPU is capturing a graph
    before = [parameter.clone() for parameter in model.parameters()]
    optimizer = model.configure_optimizers()
    optimizer.step()
    assert len(queries) == 1  # the model's CPU optimizer does not ask
    pickle.loads(pickle.dumps(optimizer))  # and still pickles whole, as torch's own does
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # and still updates


def test_benchmark_times_the_plain_loop_and_the_project_side_by_side(
    fake_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark = import_script("benchmark")
    out = tmp_path / "bench.json"
    args = ["--epochs", "2", "--rounds", "2", "--steps-per-call", "7",
            "--data-dir", str(fake_data_dir), "--json", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["benchmark.py", *args])
    benchmark.main()
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"plain (default Adam)", "plain (fused Adam)", "project"}
    for side in results.values():
        assert 0 < side["ms_per_step_min"] <= side["ms_per_step_median"]
        assert len(side["test_acc"]) == 2 and min(side["test_acc"]) > 0.5  # trained, on the generated digits
    assert results["plain (default Adam)"]["ratio_min"] == 1.0
    assert (
        results["project"]["ratio_min"]
        == results["project"]["ms_per_step_min"] / results["plain (default Adam)"]["ms_per_step_min"]
    )
