"""MNIST (or Fashion-MNIST, KMNIST, CIFAR-10) as a LightningDataModule: torchvision's files, held in
memory as float tensors ``[N, channels, height, width]``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from mnist_lit.data.augment import Augment, random_shift
from mnist_lit.data.datasets import DatasetInfo, dataset_info, ensure_files, load_split
from mnist_lit.data.digit_inputs import DigitInputs, read_digits
from mnist_lit.data.loader import TensorBatchLoader
from mnist_lit.data.pictures import DEFAULT_MAX_MEGAPIXELS
from mnist_lit.data.preprocess import MNIST_SIDE
from mnist_lit.errors import MnistLitError


def to_model_input(images: Tensor) -> Tensor:
    """uint8 images to floats in [0, 1] (the textbook's scaling), ``[N, channels, height, width]``."""
    grayscale = images.ndim == 3  # [N, height, width]; colour images come as [N, channels, height, width]
    return (images.unsqueeze(1) if grayscale else images).float().div_(255)


def _in_turn(steps: list[Callable[..., Tensor]], images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    for step in steps:
        images = step(images, generator=generator)
    return images


class MNISTDataModule(L.LightningDataModule):
    """The dataset's official training/test split (60,000/10,000 for MNIST), transformed once and served from memory.

    ``input_shape``, ``num_classes`` and ``class_names`` describe the dataset; the CLI links them, and the
    dataset's name (whose mean and std ``normalize`` uses), to the model's arguments of the same names.

    Args:
        data_dir: Folder holding ``MNIST/raw/`` (see ``scripts/prepare_data.py``); downloaded there if absent.
        dataset: ``mnist`` (handwritten digits), ``fashion_mnist`` (Zalando's clothing), ``kmnist`` (cursive
            Japanese characters), all 28×28 grayscale, or ``cifar10`` (32×32 colour photos, 3,072 inputs).
        batch_size: Training batch size (the textbook uses 32).
        eval_batch_size: Batch size for validation, test and predict; large, since no gradients are kept.
        val_size: Training images held out for validation (0 trains on all of them, as the textbook does).
        split_seed: Seed of the random choice of the validation images.
        shift_pixels: Augment training batches by moving each image a random 0 to N pixels along each axis
            (0, the textbook's recipe, trains on the images as they are).
        augment: Random affine changes, elastic distortion, stroke thickness, hollow strokes, stray lines,
            blur, grey backgrounds, inverted patches and noise, each with a probability and a strength
            (:class:`mnist_lit.data.augment.Augment`), after the shifts; drawn
            per epoch from the seed, so a run is repeatable and resumes with the same draws.
        download: Whether missing files may be downloaded; files already present are always verified.
        predict_path: What `predict` classifies: an image file, a folder of images, an ``.npy`` array or an
            IDX file (see :func:`mnist_lit.data.read_digits`); the test set when not given.
        max_megapixels: A picture of more megapixels gets an error row in predict's table instead of being
            decoded (decided from its header); a phone's photo passes the default.
    """

    def __init__(
        self,
        data_dir: str = "data",
        dataset: Literal["mnist", "fashion_mnist", "kmnist", "cifar10"] = "mnist",
        batch_size: int = 32,
        eval_batch_size: int = 1000,
        val_size: int = 0,
        split_seed: int = 42,
        shift_pixels: int = 0,
        augment: Augment | None = None,
        download: bool = True,
        predict_path: str | None = None,
        max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    ) -> None:
        super().__init__()
        if batch_size <= 0 or eval_batch_size <= 0:
            raise MnistLitError(
                f"Batch sizes must be positive, got batch_size={batch_size}, eval_batch_size={eval_batch_size}. "
                "Set --data.batch_size and --data.eval_batch_size to whole numbers of at least 1."
            )
        info = dataset_info(dataset)  # a clear error for a dataset that does not exist
        if not 0 <= shift_pixels < min(info.image_shape[-2:]):
            raise MnistLitError(
                f"--data.shift_pixels must be from 0 (no augmentation) to a few pixels, got {shift_pixels}; 1 or 2 "
                "moves MNIST's digits about as much as handwriting varies."
            )
        if not 0 <= val_size < info.train_size:
            raise MnistLitError(
                f"--data.val_size must be from 0 to {info.train_size - 1} (the validation images are taken from "
                f"the {info.train_size:,} training images), got {val_size}."
            )
        self.save_hyperparameters(ignore="augment")
        # plain data in the hyperparameters (and the checkpoint), so it loads with weights_only
        self.hparams.augment = asdict(augment) if augment else None
        self.splits: dict[str, tuple[Tensor, Tensor]] = {}
        self.predict_inputs: DigitInputs | None = None

    @property
    def info(self) -> DatasetInfo:
        """The dataset's title, image shape and class names."""
        return dataset_info(self.hparams.dataset)

    @property
    def dataset(self) -> str:
        """The dataset's name in the registry (``mnist``)."""
        return self.hparams.dataset

    @property
    def class_names(self) -> list[str]:
        return list(self.info.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_features(self) -> int:
        return self.info.num_features

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One image as the model takes it: ``(channels, height, width)``."""
        return self.info.input_shape

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.info.image_shape

    def prepare_data(self) -> None:
        predicting = self.trainer is not None and self.trainer.state.fn == TrainerFn.PREDICTING
        if not (predicting and self.hparams.predict_path):  # classifying the user's files needs no MNIST
            ensure_files(self.hparams.data_dir, download=self.hparams.download, dataset=self.hparams.dataset)

    def setup(self, stage: str) -> None:
        if stage in ("fit", "validate") and "train" not in self.splits:
            images, labels = load_split(self.hparams.data_dir, train=True, dataset=self.hparams.dataset)
            order = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.hparams.split_seed))
            val_idx, train_idx = order[: self.hparams.val_size], order[self.hparams.val_size :]
            # transformed once, here: every batch is then a slice
            self.splits["train"] = self._on_device(to_model_input(images[train_idx]), labels[train_idx])
            self.splits["val"] = self._on_device(to_model_input(images[val_idx]), labels[val_idx])
        if stage == "test" and "test" not in self.splits:
            images, labels = load_split(self.hparams.data_dir, train=False, dataset=self.hparams.dataset)
            self.splits["test"] = self._on_device(to_model_input(images), labels)
        if stage == "predict":
            self.predict_inputs = self._read_predict_inputs()

    def _read_predict_inputs(self) -> DigitInputs:
        if self.hparams.predict_path is None:
            images = load_split(self.hparams.data_dir, train=False, dataset=self.hparams.dataset)[0]
            names = [f"test[{i}]" for i in range(len(images))]
            return DigitInputs(names, images.numpy().astype(np.float32) / np.float32(255), np.arange(len(images)))
        if self.image_shape != (MNIST_SIDE, MNIST_SIDE):
            raise MnistLitError(
                f"--data.predict_path reads pictures and arrays as 28×28 grayscale images, but {self.info.title} "
                f"models take {'×'.join(map(str, self.image_shape))} inputs. Leave --data.predict_path out to "
                f"classify the {self.info.title} test set, or predict with a model of a 28×28 dataset."
            )
        inputs = read_digits(self.hparams.predict_path, self.hparams.max_megapixels)
        if inputs.skipped:
            shown = ", ".join(inputs.skipped[:5]) + (", ..." if len(inputs.skipped) > 5 else "")
            rank_zero_info(f"Skipped {len(inputs.skipped)} file(s) that are not images by their suffix: {shown}")
        if not len(inputs.images):
            reasons = "; ".join(f"{inputs.names[i]}: {error}" for i, error in list(inputs.errors.items())[:3])
            raise MnistLitError(
                f"None of the {len(inputs.names)} inputs in {self.hparams.predict_path} could be read, so nothing "
                f"was predicted ({reasons}). Pass pictures of digits (PNG, JPEG, BMP, ...), an .npy array or an "
                "IDX file."
            )
        return inputs

    def _on_device(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Move once: every batch is then a slice of a tensor already in place."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        return images.to(device), labels.to(device)

    def transfer_batch_to_device(
        self, batch: tuple[Tensor, Tensor], device: torch.device, dataloader_idx: int
    ) -> tuple[Tensor, Tensor]:
        # the splits already live on the device; Lightning's generic collection walk costs more than the step
        images, labels = batch
        return images.to(device), labels.to(device)

    def _processes(self) -> dict[str, int]:
        """This process's rank and the number of processes (DDP), as the loaders shard by them."""
        if self.trainer is None:
            return {"rank": 0, "world_size": 1}
        return {"rank": self.trainer.global_rank, "world_size": self.trainer.world_size}

    def train_dataloader(self) -> TensorBatchLoader:
        processes = self._processes()
        if self.hparams.batch_size < processes["world_size"]:
            raise MnistLitError(
                f"--data.batch_size {self.hparams.batch_size} is smaller than the {processes['world_size']} processes "
                "it is split across (the batch size is the global batch: each process takes its share of every "
                "batch). Use a batch size of at least the number of processes, or fewer devices or nodes."
            )
        # the seed `seed_everything` gave torch, however much randomness was drawn since (DDP re-seeds each
        # process after building the model), and rank zero's, so every process shards the same order
        shuffle_seed = self.trainer.strategy.broadcast(torch.initial_seed()) if self.trainer else torch.initial_seed()
        return TensorBatchLoader(
            *self.splits["train"],
            self.hparams.batch_size,
            shuffle_seed=shuffle_seed,
            augment=self._augmentation(),
            batches_per_item=self._batches_per_step(),
            **processes,
        )

    def _batches_per_step(self) -> int:
        """How many batches the model's ``training_step`` takes at once: ``batches_per_step`` where the model
        says (:class:`mnist_lit.FastClassifier`), one otherwise."""
        model = self.trainer.lightning_module if self.trainer else None
        return getattr(model, "batches_per_step", 1)

    def _augmentation(self) -> Callable[..., Tensor] | None:
        """The shifts, then the other augmentations, as one function of a batch and a generator (or None)."""
        steps = []
        if self.hparams.shift_pixels:
            steps.append(partial(random_shift, image_shape=self.image_shape, max_shift=self.hparams.shift_pixels))
        if augment := Augment.from_dict(self.hparams.augment):
            steps.append(augment)
        if not steps:
            return None
        return steps[0] if len(steps) == 1 else partial(_in_turn, steps)

    def _evaluation_loader(self, split: str) -> TensorBatchLoader:
        """A contiguous shard of the split per process: every digit scored exactly once, none padded in."""
        processes = self._processes()
        if len(self.splits[split][0]) < processes["world_size"]:
            raise MnistLitError(
                f"The {split} split has {len(self.splits[split][0])} images, fewer than the "
                f"{processes['world_size']} processes it would be shared by. Evaluate with fewer devices or nodes."
            )
        return TensorBatchLoader(*self.splits[split], self.hparams.eval_batch_size, **processes)

    def val_dataloader(self) -> TensorBatchLoader | list:
        if self.hparams.val_size > 0:
            return self._evaluation_loader("val")
        if self.trainer is not None and self.trainer.state.fn == TrainerFn.VALIDATING:
            raise MnistLitError(
                "There is no validation split to validate on: the config trains on all the training images. "
                "Hold some out with --data.val_size N (for example 5000), or evaluate with `test` instead."
            )
        return []  # fit without validation, as the textbook trains

    def test_dataloader(self) -> TensorBatchLoader:
        return self._evaluation_loader("test")

    def predict_dataloader(self) -> TensorBatchLoader:
        """Batches of ``(images, positions)``: which input each image is, for the prediction writer.

        Not sharded: under DDP every process classifies every input (it is cheap) and rank zero writes.
        """
        inputs = self.predict_inputs
        images, positions = self._on_device(torch.from_numpy(inputs.images), torch.from_numpy(inputs.positions))
        return TensorBatchLoader(images.reshape(-1, *self.input_shape), positions, self.hparams.eval_batch_size)
