from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import torch

from mnist_lit import Classifier, MisclassifiedDigits


def run_callback(
    callback: MisclassifiedDigits,
    log_dir: Path,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    image_shape: tuple[int, ...] = (28, 28),
) -> Path:
    """Feed (logits, labels) batches through the callback's test hooks, as a Trainer would."""
    trainer = SimpleNamespace(log_dir=str(log_dir), default_root_dir=str(log_dir), is_global_zero=True, loggers=[],
                              datamodule=SimpleNamespace(image_shape=image_shape))  # fmt: skip
    input_shape = (1, *image_shape) if len(image_shape) == 2 else image_shape
    module = Classifier(input_shape=input_shape)  # the titles use its class names
    callback.on_test_epoch_start(trainer, module)
    for batch_idx, (logits, labels) in enumerate(batches):
        images = torch.rand(len(labels), *input_shape)
        callback.on_test_batch_end(trainer, module, {"logits": logits}, (images, labels), batch_idx)
    callback.on_test_epoch_end(trainer, module)
    return log_dir / "misclassified"


def one_hot_logits(preds: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(preds, 10).float() * 5


def test_rows_hold_dataset_indices_across_batches(tmp_path: Path) -> None:
    labels = torch.tensor([1, 2, 3, 4])
    preds = torch.tensor([1, 7, 3, 4])  # index 1 wrong in the first batch
    out = run_callback(
        MisclassifiedDigits(), tmp_path, [(one_hot_logits(preds), labels), (one_hot_logits(labels.flip(0)), labels)]
    )
    rows = list(csv.DictReader((out / "misclassified.csv").open()))
    assert [(r["index"], r["true"], r["pred"]) for r in rows] == [
        ("1", "2", "7"),
        ("4", "1", "4"),
        ("5", "2", "3"),
        ("6", "3", "2"),
        ("7", "4", "1"),
    ]


def test_no_errors_gives_a_header_only_table(tmp_path: Path) -> None:
    labels = torch.arange(10)
    out = run_callback(MisclassifiedDigits(), tmp_path, [(one_hot_logits(labels), labels)])
    assert (out / "misclassified.csv").read_text().splitlines() == ["index,true,pred,confidence"]
    assert (out / "misclassified.png").is_file()


def test_colour_images_are_shown_in_the_datamodules_shape(tmp_path: Path) -> None:
    labels = torch.arange(10)
    callback = MisclassifiedDigits()
    out = run_callback(callback, tmp_path, [(one_hot_logits(labels.roll(1)), labels)], image_shape=(3, 32, 32))
    assert [tuple(image.shape) for image in callback._images] == [(3, 32, 32)] * 10
    assert len((out / "misclassified.csv").read_text().splitlines()) == 11 and (out / "misclassified.png").is_file()


def test_many_errors_keep_every_row_but_cap_the_picture(tmp_path: Path) -> None:
    labels = torch.zeros(3000, dtype=torch.long)
    callback = MisclassifiedDigits(max_images=25)
    out = run_callback(callback, tmp_path, [(one_hot_logits(torch.ones(1000, dtype=torch.long)), labels[:1000])] * 3)
    assert len((out / "misclassified.csv").read_text().splitlines()) == 3001
    assert len(callback._images) == 25
