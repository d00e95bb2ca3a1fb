from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_lit import MNISTDataModule, MnistLitError
from mnist_lit.data import TensorBatchLoader


def test_loader_keeps_the_last_short_batch_in_order() -> None:
    images, labels = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    batches = list(TensorBatchLoader(images, labels, batch_size=4))
    assert len(TensorBatchLoader(images, labels, batch_size=4)) == 3
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in batches]), labels)


def test_shuffled_loader_covers_every_item_and_follows_seed_and_epoch() -> None:
    images, labels = torch.arange(100).float().unsqueeze(1), torch.arange(100)
    loader = TensorBatchLoader(images, labels, batch_size=32, shuffle_seed=7)
    first = torch.cat([y for _, y in loader])
    assert sorted(first.tolist()) == list(range(100))
    assert all(torch.equal(x.squeeze(1).long(), y) for x, y in loader)  # images stay paired with labels
    assert torch.equal(first, torch.cat([y for _, y in loader]))  # same epoch, same order
    loader.sampler.set_epoch(1)
    second = torch.cat([y for _, y in loader])
    assert not torch.equal(first, second)
    again = TensorBatchLoader(images, labels, batch_size=32, shuffle_seed=7)
    again.sampler.set_epoch(1)
    assert torch.equal(second, torch.cat([y for _, y in again]))  # a resumed run gets the same epoch order


def test_a_loader_of_several_batches_an_item_hands_out_the_same_batches_joined() -> None:
    images, labels = torch.arange(100).float().unsqueeze(1), torch.arange(100)
    single = [y for _, y in TensorBatchLoader(images, labels, batch_size=8, shuffle_seed=7)]
    joined = TensorBatchLoader(images, labels, batch_size=8, shuffle_seed=7, batches_per_item=5)
    items = list(joined)
    assert len(joined) == len(items) == 3 and joined.batches == len(single) == 13  # 5 + 5 + 3 batches
    assert [len(y) for _, y in items] == [40, 40, 20]
    assert torch.equal(torch.cat([y for _, y in items]), torch.cat(single))  # the same order, in one tensor each
    with pytest.raises(ValueError, match="batches_per_item"):  # DDP takes its share of each batch: one a call
        TensorBatchLoader(images, labels, batch_size=8, shuffle_seed=7, world_size=2, batches_per_item=5)


def test_datamodule_serves_images_in_their_shape_in_the_unit_range(fake_data_dir: Path) -> None:
    dm = MNISTDataModule(str(fake_data_dir), batch_size=32, download=False)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert images.min() == 0.0 and images.max() == 1.0  # the textbook's scaling
    assert sum(len(y) for _, y in dm.test_dataloader()) == 200  # nothing dropped from evaluation
    assert dm.val_dataloader() == []  # the textbook trains on every training image


def test_validation_split_is_seeded_and_disjoint(fake_data_dir: Path) -> None:
    def split(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        dm = MNISTDataModule(str(fake_data_dir), val_size=100, split_seed=seed, download=False)
        dm.setup("fit")
        return dm.splits["train"][0], dm.splits["val"][0]

    train, val = split(0)
    assert len(train) == 500 and len(val) == 100
    train, val = train.flatten(1), val.flatten(1)
    train_rows = {tuple(row.tolist()) for row in train}
    assert len(train_rows) == 500  # the generated images are all different, so rows stand for images
    assert not any(tuple(row.tolist()) in train_rows for row in val)  # no validation image is trained on
    assert torch.equal(split(0)[1].flatten(1), val)
    assert not torch.equal(split(1)[1].flatten(1), val)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"batch_size": 0}, "batch_size=0"), ({"val_size": -1}, "val_size"), ({"val_size": 60000}, "val_size")],
)
def test_bad_settings_are_refused_with_the_flag_named(kwargs: dict, words: str) -> None:
    with pytest.raises(MnistLitError, match=words):
        MNISTDataModule(**kwargs)
