"""The corruption suite, the `robustness` report, and distillation from a teacher's checkpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from mnist_lit.checkpoint import load_classifier, model_card, read_checkpoint
from mnist_lit.cli import cli_main
from mnist_lit.corruptions import CORRUPTIONS, SUITE_VERSION, corrupt
from mnist_lit.onnx_model import JSON_KEYS, card_as_metadata
from mnist_lit.plots import read_scalars
from mnist_lit.robustness import record_path
from tests.helpers import cli_args, fails, learnable_digits


def test_the_suite_has_at_least_twelve_kinds_each_the_same_on_every_build() -> None:
    images = torch.from_numpy(learnable_digits(50, seed=5)[0]).float().div(255).unsqueeze(1)
    assert len(CORRUPTIONS) >= 12
    for kind in CORRUPTIONS:
        corrupted = corrupt(images, kind)
        assert corrupted.shape == images.shape and corrupted.min() >= 0 and corrupted.max() <= 1, kind
        assert not torch.equal(corrupted, images), kind
        assert torch.equal(corrupted, corrupt(images.clone(), kind)), kind  # seeded by the kind alone


def test_robustness_writes_its_reports_and_logs_them(trained, tmp_path: Path, capsys) -> None:
    data_dir, log_dir, checkpoint = trained
    cli = cli_main(cli_args("robustness", data_dir, log_dir, "--ckpt_path", str(checkpoint), "--images", "100"))
    folder = Path(cli.trainer.log_dir) / "robustness"
    rows = list(csv.reader((folder / "robustness.csv").open()))
    assert rows[0] == ["kind", "accuracy", "errors", "images"]
    assert [row[0] for row in rows[1:]] == ["clean", *CORRUPTIONS, "mean"]
    assert all(row[3] == "100" for row in rows[1:])
    kinds = [float(row[1]) for row in rows[2:-1]]
    assert float(rows[-1][1]) == pytest.approx(sum(kinds) / len(kinds), abs=1e-4)
    for row in rows[1:-1]:  # errors and accuracy agree
        assert int(row[2]) == round((1 - float(row[1])) * 100)
    for picture in ("robustness.png", "robustness_examples.png"):
        assert (folder / picture).stat().st_size > 10_000
    scalars = read_scalars(cli.trainer.log_dir)
    assert scalars["robustness/mean"][0] == pytest.approx(float(rows[-1][1]), abs=1e-4)
    assert len([tag for tag in scalars if tag.startswith("robustness/")]) == len(CORRUPTIONS) + 2
    # a part of the test set is a quick look: nothing kept for the model card
    assert not record_path(checkpoint).exists()
    assert "mean" in capsys.readouterr().out


def test_a_whole_suite_puts_its_mean_in_the_model_card_of_that_checkpoint_only(trained, tmp_path: Path) -> None:
    data_dir, log_dir, checkpoint = trained
    cli_main(cli_args("robustness", data_dir, log_dir, "--ckpt_path", str(checkpoint), "--examples", "2"))
    card = model_card(load_classifier(checkpoint), "mnist", checkpoint)
    summary = card["robustness"]
    assert summary["suite"] == SUITE_VERSION and summary["images"] == 200  # the generated test set
    assert 0 <= summary["worst"]["accuracy"] <= summary["mean"] <= 1 and summary["worst"]["kind"] in CORRUPTIONS
    assert "robustness" in JSON_KEYS and json.loads(card_as_metadata(card)["robustness"]) == summary
    # another checkpoint under the same name (trained again) has no score until it is scored
    state = read_checkpoint(checkpoint)
    state["state_dict"] = {key: value + 0.01 for key, value in state["state_dict"].items()}
    torch.save(state, checkpoint)
    assert "robustness" not in model_card(load_classifier(checkpoint), "mnist", checkpoint)


def test_a_distilled_fit_trains_the_same_network_and_needs_no_teacher_afterwards(trained, tmp_path: Path) -> None:
    data_dir, _, teacher = trained
    log_dir = tmp_path / "distilled"
    args = cli_args("fit", data_dir, log_dir, "--model.teacher", str(teacher), "--trainer.max_epochs", "1",
                    "--trainer.limit_train_batches", "1", config="one_hidden_distilled.yaml")  # fmt: skip
    cli = cli_main(args)
    student_path = Path(cli.trainer.checkpoint_callback.last_model_path)
    state = read_checkpoint(student_path)
    assert all(key.startswith(("net.", "standardize.")) for key in state["state_dict"])  # no teacher inside
    assert state["hyper_parameters"]["net"]["init_args"]["hidden_sizes"] == [64]
    teacher.unlink()  # the trained student is used without its teacher
    student = load_classifier(student_path)
    assert student.teacher_model is None and student(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_the_distillation_term_is_zero_for_a_teacher_that_agrees(trained) -> None:
    _, _, checkpoint = trained
    model = load_classifier(checkpoint)
    model.hparams.distill_weight = 1.0
    model.__dict__["teacher_model"] = load_classifier(checkpoint)
    images, labels = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    assert model.loss_sum(model(images), labels, "train", images).item() == pytest.approx(0.0, abs=1e-4)
    other = load_classifier(checkpoint)
    with torch.no_grad():
        next(other.net.parameters()).mul_(-1)
    model.__dict__["teacher_model"] = other
    assert model.loss_sum(model(images), labels, "train", images).item() > 0.01
    assert model.loss_sum(model(images), labels, "test", images) == torch.nn.functional.cross_entropy(
        model(images), labels, reduction="sum"
    )  # evaluation is plain cross-entropy


def test_a_missing_teacher_is_one_paragraph_naming_the_flag(fake_data_dir, tmp_path: Path, capsys) -> None:
    args = cli_args("fit", fake_data_dir, tmp_path, "--model.teacher", str(tmp_path / "none.ckpt"),
                    config="one_hidden_distilled.yaml")  # fmt: skip
    err = fails(args, capsys)
    assert "--model.teacher" in err and "configs/cnn_robust.yaml" in err
