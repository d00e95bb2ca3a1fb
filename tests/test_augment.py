"""Augmentation of training batches: what each kind does, and the same draws for the same seed, under any
number of processes and after a resume."""

from __future__ import annotations

import pytest
import torch

from mnist_lit.data.augment import Augment, Chance, _max_3x3, change_thickness, invert_rectangles
from mnist_lit.data.loader import TensorBatchLoader
from mnist_lit.errors import MnistLitError
from tests.helpers import cli_args, fails, learnable_digits

EVERY_KIND = Augment(**{kind: Chance(0.5, 1.0) for kind in Augment.__dataclass_fields__})


def digits(count: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = learnable_digits(count, seed=3)
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels).long()


def epoch_batches(loader: TensorBatchLoader, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    loader.sampler.set_epoch(epoch)
    return list(loader)


def test_the_same_seed_draws_the_same_batches_and_another_epoch_other_ones() -> None:
    images, labels = digits()
    first, second = (TensorBatchLoader(images, labels, 32, shuffle_seed=7, augment=EVERY_KIND) for _ in range(2))
    for (a, a_labels), (b, b_labels) in zip(epoch_batches(first, 1), epoch_batches(second, 1), strict=True):
        assert torch.equal(a, b) and torch.equal(a_labels, b_labels)
    assert not torch.equal(epoch_batches(first, 2)[0][0], epoch_batches(first, 1)[0][0])
    augmented = torch.cat([batch for batch, _ in epoch_batches(first, 1)])
    assert augmented.shape == images.shape and augmented.min() >= 0 and augmented.max() <= 1


def test_a_resumed_epoch_draws_what_it_would_have_drawn() -> None:
    # a resumed run starts at its epoch without drawing the epochs before it
    images, labels = digits()
    straight = TensorBatchLoader(images, labels, 32, shuffle_seed=7, augment=EVERY_KIND)
    for epoch in range(3):
        batches = epoch_batches(straight, epoch)
    resumed = TensorBatchLoader(images, labels, 32, shuffle_seed=7, augment=EVERY_KIND)
    for (a, _), (b, _) in zip(batches, epoch_batches(resumed, 2), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("world_size", [2, 3])
def test_the_processes_together_get_the_single_process_batches(world_size: int) -> None:
    images, labels = digits()
    single = epoch_batches(TensorBatchLoader(images, labels, 32, shuffle_seed=7, augment=EVERY_KIND), 0)
    shards = [
        epoch_batches(TensorBatchLoader(images, labels, 32, 7, rank, world_size, augment=EVERY_KIND), 0)
        for rank in range(world_size)
    ]
    for step, (batch, batch_labels) in enumerate(single):
        for rank in range(world_size):
            assert torch.equal(shards[rank][step][0], batch[rank::world_size])
            assert torch.equal(shards[rank][step][1], batch_labels[rank::world_size])


def test_each_kind_changes_the_digits_as_it_says() -> None:
    images, _ = digits(64)
    ink = images.sum((1, 2, 3))

    def augmented(kind: str, strength: float = 1.0) -> torch.Tensor:
        return Augment(**{kind: Chance(1.0, strength)})(images, generator=torch.Generator().manual_seed(0))

    for kind in Augment.__dataclass_fields__:
        assert not torch.equal(augmented(kind), images), kind
        assert torch.equal(augmented(kind, strength=0.0), images), kind  # no strength: unchanged
    assert torch.equal(Augment()(images, generator=torch.Generator()), images)
    thicker_or_thinner = augmented("thickness").sum((1, 2, 3)) - ink
    assert (thicker_or_thinner > 0).any() and (thicker_or_thinner < 0).any()
    assert (augmented("contrast").amin((1, 2, 3)) > 0).float().mean() > 0.9  # grey backgrounds
    assert (augmented("lines").sum((1, 2, 3)) >= ink).all()  # lines add ink
    blurred = augmented("blur")
    assert torch.allclose(blurred.sum((1, 2, 3)), ink, rtol=0.05)  # a blur spreads ink, keeps most of it


def test_a_thickness_above_one_dilates_more_than_once_and_erodes_once_at_most() -> None:
    images, _ = digits(16)
    once, twice = _max_3x3(images), _max_3x3(_max_3x3(images))
    assert torch.allclose(change_thickness(images, torch.full((16,), 2.0), dilations=3), twice, atol=1e-6)
    halfway = change_thickness(images, torch.full((16,), 1.5), dilations=2)
    assert torch.allclose(halfway, (once + twice) / 2, atol=1e-6)
    eroded = -_max_3x3(-images)
    assert torch.allclose(change_thickness(images, torch.full((16,), -1.0), dilations=3), eroded, atol=1e-6)
    thickest = Augment(thickness=Chance(1.0, 3.0))(images, generator=torch.Generator().manual_seed(0))
    assert (thickest.sum((1, 2, 3)) > once.sum((1, 2, 3)) + 1e-3).any()  # some images past one dilation
    with pytest.raises(MnistLitError, match="strength from 0 to 3"):
        Augment(thickness=Chance(0.5, 3.5))


def test_an_outline_keeps_only_the_edges_of_the_strokes() -> None:
    images, _ = digits(16)
    hollow = Augment(outline=Chance(1.0, 1.0))(images, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(hollow, _max_3x3(images) - images, atol=1e-6)
    half = Augment(outline=Chance(1.0, 0.5))(images, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(half, (images + hollow) / 2, atol=1e-6)


def test_invert_turns_one_rectangle_of_each_picture_negative() -> None:
    images, _ = digits(64)
    flipped = Augment(invert=Chance(1.0, 1.0))(images, generator=torch.Generator().manual_seed(0))
    sizes = []
    for before, after in zip(images[:, 0], flipped[:, 0], strict=True):
        changed = after != before  # no pixel of these digits is exactly 0.5
        rows, cols = changed.any(1), changed.any(0)
        assert torch.equal(changed, rows.view(-1, 1) & cols.view(1, -1))  # one rectangle
        for line in (rows, cols):  # each side unbroken
            where = line.nonzero().flatten()
            assert len(where) and torch.equal(where, torch.arange(where[0], where[-1] + 1))
        assert torch.allclose(after[changed], 1 - before[changed])
        sizes.append(int(rows.sum()) * int(cols.sum()))
    assert min(sizes) < 100 < max(sizes)  # sizes drawn, not fixed
    whole = invert_rectangles(images, torch.ones(64), torch.ones(64), torch.rand(64, 2))
    assert torch.equal(whole, 1 - images)
    assert torch.equal(invert_rectangles(images, torch.zeros(64), torch.ones(64), torch.rand(64, 2)), images)


def test_only_the_chosen_share_of_images_changes() -> None:
    images, _ = digits(300)
    changed = Augment(noise=Chance(0.3, 1.0))(images, generator=torch.Generator().manual_seed(1))
    share = (changed != images).flatten(1).any(1).float().mean().item()
    assert 0.2 < share < 0.4


def test_a_probability_out_of_range_is_refused_naming_the_flag(fake_data_dir, tmp_path, capsys) -> None:
    err = fails(cli_args("fit", fake_data_dir, tmp_path, "--data.augment.affine.p", "1.5"), capsys)
    assert "--data.augment.affine" in err and "p from 0 to 1" in err
