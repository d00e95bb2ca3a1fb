"""Training logic around the MLP: loss, optimizer, metrics and what each stage logs."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from itertools import islice
from typing import Literal

import lightning as L
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor
from torch.nn import functional as F
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from mnist_lit.errors import MnistLitError
from mnist_lit.metrics import LossAndAccuracy
from mnist_lit.network import MLP

# `training_step(dataloader_iter)` is how Lightning lets a step take several batches (see `training_step`).
# Lightning warns that it is experimental, that the hooks' `batch_idx` is then the last batch's, and that
# it does not suit gradient accumulation: tests/test_steps_per_call.py checks the training against one
# batch per call, the project's hooks do not use `batch_idx`, and manual optimization accumulates nothing.
warnings.filterwarnings("ignore", message="Found `dataloader_iter` argument in the `training_step`")
warnings.filterwarnings("ignore", message="You are using the `dataloader_iter` step flavor")

# mean and standard deviation of MNIST's 60,000 training images, pixels scaled to [0, 1]
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _no_graph_capture_check() -> None:
    """Stands in for Adam's per-step check for a CUDA graph being captured, on an optimizer of CPU parameters.

    Only accelerator work can be captured into a graph. But on a CUDA build of torch the check first asks
    whether a GPU exists, and with Lightning imported (it sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``) that
    answer comes from loading NVML afresh on each step while CUDA is not in use: about 130 µs per step on
    the development machine, more than Adam's own update of the textbook MLP. A named function, not a
    lambda, so the optimizer still pickles.
    """


class MLPClassifier(L.LightningModule):
    """An MLP digit classifier trained with Adam on cross-entropy.

    The defaults are the textbook's recipe; ``optimizer``, ``weight_decay``, ``lr_schedule`` and
    ``label_smoothing`` change only how the same network is trained (``configs/*_tuned.yaml``).

    Args:
        hidden_sizes: Widths of the hidden layers: ``[64]`` or ``[64, 1024]`` in the textbook.
        lr: Adam's learning rate (with ``lr_schedule: one_cycle``, the peak).
        input_size: Pixels per image (784 for 28×28).
        num_classes: Number of classes (10 digits).
        class_names: What to call each class in reports; the CLI fills it in from the dataset, and the
            checkpoint keeps it. ``None`` numbers them.
        normalize: Standardise the [0, 1] pixels with MNIST's mean and std before the network. It is part of
            the model, so a checkpoint always gets the preprocessing it was trained with.
        compile: Compile the inner network with ``torch.compile`` (in place, so checkpoints keep their keys).
        optimizer: ``adam`` (the textbook's) or ``adamw`` (Adam with decoupled weight decay).
        weight_decay: AdamW's decoupled weight decay (Adam's would be an L2 penalty).
        lr_schedule: ``constant`` (the textbook's), ``one_cycle`` (warm up to ``lr`` over the first 30% of
            the steps, then anneal to near zero) or ``cosine`` (from ``lr`` down to zero), stepped every batch.
        label_smoothing: Train towards ``1 - label_smoothing`` on the true class and the rest spread over the
            others, so the network stops pushing its logits apart once it is right; evaluation is unchanged.
        steps_per_call: Training batches each ``training_step`` call takes, with one optimizer step per batch:
            the same updates as one batch per call, while Lightning's per-call overhead (more than this
            network's whole step) is paid once for all of them. Under DDP a call takes one batch.
    """

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (64,),
        lr: float = 1e-3,
        input_size: int = 784,
        num_classes: int = 10,
        class_names: list[str] | None = None,
        normalize: bool = False,
        compile: bool = False,
        optimizer: Literal["adam", "adamw"] = "adam",
        weight_decay: float = 0.0,
        lr_schedule: Literal["constant", "one_cycle", "cosine"] = "constant",
        label_smoothing: float = 0.0,
        steps_per_call: int = 1,
    ) -> None:
        super().__init__()
        if not hidden_sizes or min(hidden_sizes) <= 0:
            raise MnistLitError(
                f"--model.hidden_sizes must list one or more positive layer widths, got {list(hidden_sizes)}. "
                "Use for example [64] or [64, 1024]."
            )
        if class_names is not None and len(class_names) != num_classes:
            raise MnistLitError(
                f"--model.class_names names {len(class_names)} classes but num_classes is {num_classes}. "
                "Leave class_names out, or name every class once."
            )
        if lr <= 0:
            raise MnistLitError(f"--model.lr must be positive, got {lr}. The textbook uses 0.001.")
        if steps_per_call < 1:
            raise MnistLitError(
                f"--model.steps_per_call must be at least 1, got {steps_per_call}. 1 runs one batch per "
                "training_step call; the configs use 25."
            )
        if weight_decay < 0 or not 0 <= label_smoothing < 1:
            raise MnistLitError(
                f"--model.weight_decay must be at least 0 and --model.label_smoothing from 0 to below 1, got "
                f"{weight_decay} and {label_smoothing}. Typical values: 0.05 and 0.1 (0 and 0 are the textbook's)."
            )
        self.save_hyperparameters()
        self.net = MLP(input_size, hidden_sizes, num_classes)
        if compile:
            self.net.compile()
        # one metric object per stage, so their states never mix
        self.train_metrics = LossAndAccuracy()
        self.val_metrics = LossAndAccuracy()
        self.test_metrics = LossAndAccuracy()
        # the optimizer is stepped by hand: Lightning's automatic closure costs more than this net's step
        self.automatic_optimization = False

    @property
    def class_names(self) -> list[str]:
        """The name of each class: the dataset's, or the class numbers."""
        return list(self.hparams.class_names or [str(c) for c in range(self.hparams.num_classes)])

    def forward(self, images: Tensor) -> Tensor:
        """Logits for flattened images with pixels in [0, 1]."""
        if self.hparams.normalize:
            images = (images - MNIST_MEAN) / MNIST_STD
        return self.net(images)

    def _evaluation_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        """Logits of a batch, its loss and accuracy accumulated into the stage's metrics."""
        images, labels = batch
        logits = self(images)
        getattr(self, f"{stage}_metrics").update(F.cross_entropy(logits, labels, reduction="sum"), logits, labels)
        return logits

    def _log_epoch(self, stage: str) -> None:
        """Log the stage's epoch means as ``stage/loss`` and ``stage/acc``, then start afresh."""
        metrics = getattr(self, f"{stage}_metrics")
        values = metrics.compute()  # already summed across processes
        if stage == "train" and not torch.isfinite(values["loss"]):
            # raised before the checkpoint callback runs, so no NaN weights are saved
            raise MnistLitError(
                f"Training diverged: the mean loss of epoch {self.current_epoch} is {values['loss'].item()}. "
                f"Lower the learning rate (--model.lr, now {self.hparams.lr}) and train again."
            )
        # the values are already the same on every process; "max" of equal values keeps them exact, and
        # sync_dist tells Lightning they are meant for all processes; one value per epoch has no batch size
        # to weigh it by (Lightning asks for one when training_step takes the iterator)
        log = {"sync_dist": True, "reduce_fx": "max", "batch_size": 1}
        self.log(f"{stage}/loss", values["loss"], **log)
        self.log(f"{stage}/acc", values["acc"], prog_bar=stage != "train", **log)
        metrics.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def training_step(self, dataloader_iter: Iterator[tuple[tuple[Tensor, Tensor], int, int]]) -> None:
        """One optimizer step on each of the next ``steps_per_call`` batches from Lightning's iterator.

        Naming the argument ``dataloader_iter`` tells Lightning to hand over its iterator instead of one
        batch. Under DDP every backward pass needs its own forward through the DDP wrapper (which Lightning
        runs once per call) to have its gradients averaged, so there a call takes one batch.
        """
        trainer = self.trainer
        steps = self.hparams.steps_per_call if trainer.world_size == 1 else 1
        if trainer.max_steps >= 0:  # Lightning checks `max_steps` between calls; stop on it within one too
            steps = min(steps, trainer.max_steps - trainer.global_step)
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        outputs = []
        for batch, _, _ in islice(dataloader_iter, steps):
            # Lightning leaves placing the batch to a step that takes the iterator; the splits already live
            # on the device, so this moves nothing for the project's own data
            images, labels = trainer.precision_plugin.convert_input(batch)
            outputs.append(self._optimizer_step(images.to(self.device), labels.to(self.device), optimizer, scheduler))
        if outputs:  # one metric update for the whole call
            loss_sums, logits, targets = zip(*outputs)
            self.train_metrics.update(torch.stack(loss_sums).sum(), torch.cat(logits), torch.cat(targets))

    def _optimizer_step(
        self, images: Tensor, labels: Tensor, optimizer: Optimizer, scheduler: LRScheduler | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Step on one batch; returns this process's loss sum, the logits and the labels for the metrics."""
        logits = self(images)
        loss, loss_sum = self._batch_loss(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return loss_sum.detach(), logits.detach(), labels

    def _batch_loss(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The loss to step on, the mean over the whole batch, and this process's sum for the metrics.

        DDP averages the processes' gradients, which would weigh each process's digits by one over its
        share of the batch; scaling each share's sum by ``world_size / batch size`` gives every digit the
        weight it has in a single process, also when the batch does not split evenly.
        """
        world_size, smoothing = self.trainer.world_size, self.hparams.label_smoothing
        if world_size == 1:
            loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
            return loss, loss * len(labels)
        loss_sum = F.cross_entropy(logits, labels, reduction="sum", label_smoothing=smoothing)
        count = self.trainer.strategy.reduce(torch.tensor(float(len(labels)), device=logits.device), reduce_op="sum")
        return loss_sum * world_size / count, loss_sum

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluation_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return {"logits": self._evaluation_step(batch, "test")}

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Class probabilities of ``(images, positions)``; the positions say which inputs they answer."""
        images, positions = batch
        return {"positions": positions, "probs": self(images).softmax(dim=1)}

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig | torch.optim.Optimizer:
        # the fused kernel does the whole Adam update in one pass: on a net this small it is most of the step
        fused = self.device.type in ("cpu", "cuda")
        optimizer_class = torch.optim.AdamW if self.hparams.optimizer == "adamw" else torch.optim.Adam
        optimizer = optimizer_class(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay, fused=fused
        )
        if self.device.type == "cpu":
            optimizer._accelerator_graph_capture_health_check = _no_graph_capture_check
        if self.hparams.lr_schedule == "constant":
            return optimizer
        steps = self.trainer.estimated_stepping_batches
        if self.hparams.lr_schedule == "one_cycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.hparams.lr, total_steps=steps)
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
