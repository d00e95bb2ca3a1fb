"""The tuned recipe's options (configs/*_tuned.yaml): batch shifts, AdamW, one-cycle, label smoothing, best.ckpt."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from mnist_lit import Classifier, MNISTDataModule, MnistLitError, cli_main
from mnist_lit.data.augment import random_shift
from tests.helpers import REPO, cli_args, import_script

TUNED = ("--data.val_size", "100", "--trainer.max_epochs", "3")  # the generated training split has 600 images


def test_shifts_move_each_image_by_whole_pixels_within_the_limit() -> None:
    torch.manual_seed(0)
    dot = torch.zeros(400, 28, 28)
    dot[:, 10, 20] = 1.0  # one lit pixel per image, so each image's shift can be read off
    shifted = random_shift(dot.unsqueeze(1), (28, 28), max_shift=2).view(400, 28, 28)
    assert torch.equal(shifted.flatten(1).sum(1), torch.ones(400))  # moved, not blurred or lost
    rows, cols = shifted.flatten(1).argmax(1).div(28, rounding_mode="floor"), shifted.flatten(1).argmax(1) % 28
    offsets = set(zip((rows - 10).tolist(), (cols - 20).tolist()))
    assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}  # each of the 25, none beyond


def test_colour_images_shift_all_channels_together() -> None:
    image = torch.rand(1, 3, 32, 32)
    image[..., :2, :] = image[..., -2:, :] = image[..., :, :2] = image[..., :, -2:] = 0  # nothing pushed off
    shifted = random_shift(image.repeat(50, 1, 1, 1), (3, 32, 32), max_shift=2)
    assert shifted.shape == (50, 3, 32, 32)
    for one in shifted:
        moves = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
        assert sum(torch.equal(one, image[0].roll(move, (1, 2))) for move in moves) == 1


def test_the_textbook_configs_train_on_the_images_as_they_are(fake_data_dir: Path) -> None:
    data = MNISTDataModule(str(fake_data_dir), download=False)
    data.prepare_data()
    data.setup("fit")
    images, _ = next(iter(data.train_dataloader()))
    train_images = data.splits["train"][0]
    assert all(any(torch.equal(image, row) for row in train_images) for image in images[:4])
    with pytest.raises(MnistLitError, match="shift_pixels must be from 0"):
        MNISTDataModule(str(fake_data_dir), shift_pixels=28)


def test_label_smoothing_changes_the_training_loss_only() -> None:
    model = Classifier(label_smoothing=0.1)
    model.trainer = type("FakeTrainer", (), {"world_size": 1})()
    images, labels = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    loss, logits = model.shared_step((images, labels), "train")
    assert torch.isclose(loss, F.cross_entropy(logits, labels, label_smoothing=0.1))
    assert not torch.isclose(loss, F.cross_entropy(logits, labels))
    model.shared_step((images, labels), "val")  # evaluation scores plain cross-entropy
    plain = F.cross_entropy(model(images), labels, reduction="sum")
    assert torch.isclose(model.val_metrics.compute()["loss"] * 8, plain)


@pytest.mark.parametrize(
    ("name", "optimizer_class", "weight_decay"),
    [("one_hidden_tuned.yaml", torch.optim.Adam, 0.0), ("two_hidden_tuned.yaml", torch.optim.AdamW, 0.05)],
)
def test_tuned_config_keeps_the_best_epoch_by_validation_and_tests_it(
    name: str, optimizer_class: type, weight_decay: float, fake_data_dir: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    fit = cli_main(cli_args("fit", fake_data_dir, logs, *TUNED, config=name))
    optimizer = fit.model.optimizers().optimizer
    # the fast path's CPU subclass of the very optimizer (AdamW is itself an Adam: check it is not one)
    assert isinstance(optimizer, optimizer_class) and isinstance(optimizer, torch.optim.AdamW) == (weight_decay > 0)
    assert optimizer.param_groups[0]["weight_decay"] == weight_decay
    assert optimizer.param_groups[0]["lr"] < 1e-4  # one cycle ends near zero after the planned steps
    saver = fit.trainer.checkpoint_callback
    assert Path(saver.best_model_path).name == "best.ckpt" and Path(saver.last_model_path).name == "last.ckpt"
    scores = {}
    for which in ("best", "last"):
        validated = cli_main(cli_args("validate", fake_data_dir, logs, "--ckpt_path", which, *TUNED, config=name))
        scores[which] = float(validated.trainer.callback_metrics["val/acc"])
    assert scores["best"] == pytest.approx(float(saver.best_model_score)) and scores["best"] >= scores["last"]
    test = cli_main(cli_args("test", fake_data_dir, logs, "--ckpt_path", "best", *TUNED, config=name))
    assert test.config.test.ckpt_path == saver.best_model_path
    assert float(test.trainer.callback_metrics["test/acc"]) > 0.5


def test_best_without_such_a_checkpoint_names_the_configs_that_keep_one(trained, capsys) -> None:
    data_dir, log_dir, _ = trained
    with pytest.raises(SystemExit):
        cli_main(cli_args("test", data_dir, log_dir, "--ckpt_path", "best"))
    assert "found no best.ckpt" in capsys.readouterr().err


def test_seed_sweep_reports_validation_accuracy_without_testing(fake_data_dir: Path, tmp_path: Path) -> None:
    seed_sweep = import_script("seed_sweep")
    out = tmp_path / "sweep.json"
    args = ["--config", str(REPO / "configs" / "one_hidden_tuned.yaml"), "--seeds", "0", "1", "--checkpoint", "best",
            "--validation-only", "--log-dir", str(tmp_path / "logs"), "--json", str(out),
            "--data.data_dir", str(fake_data_dir), "--data.download", "false", *TUNED]  # fmt: skip
    sys.argv = ["seed_sweep.py", *args]
    seed_sweep.main()
    summary = json.loads(out.read_text())
    assert [run["seed"] for run in summary["runs"]] == [0, 1] and "test_acc_mean" not in summary
    assert summary["val_acc_min"] <= summary["val_acc_mean"] <= summary["val_acc_max"] and summary["val_acc_max"] > 0.5
    assert not list((tmp_path / "logs").glob("*/version_2"))  # two fits, no test runs


@pytest.mark.parametrize("schedule", ["one_cycle", "cosine"])
def test_schedules_peak_at_lr_and_end_near_zero(schedule: str) -> None:
    model = Classifier(lr=0.01, lr_schedule=schedule)
    model.trainer = type("FakeTrainer", (), {"estimated_stepping_batches": 30})()
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(30):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = rates.index(max(rates))
    assert max(rates) == pytest.approx(0.01) and rates[-1] < 0.001
    assert (0 < peak < 10) if schedule == "one_cycle" else peak == 0  # one cycle warms up over 30% of the steps


def test_the_textbook_recipe_is_plain_adam_at_a_constant_rate() -> None:
    optimizer = Classifier().configure_optimizers()
    assert type(optimizer) is torch.optim.Adam and optimizer.param_groups[0]["weight_decay"] == 0
