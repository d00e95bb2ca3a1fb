"""Training logic around the MLP: the loss, the optimizer, and what each stage logs."""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor
from torch.nn import functional as F
from torch.optim import Optimizer

from mnist_lit.errors import MnistLitError
from mnist_lit.metrics import LossAndAccuracy
from mnist_lit.network import MLP

# mean and standard deviation of MNIST's 60,000 training images, pixels scaled to [0, 1]
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MLPClassifier(L.LightningModule):
    """An MLP digit classifier trained with Adam on cross-entropy.

    The defaults are the textbook's recipe; ``optimizer``, ``weight_decay``, ``lr_schedule`` and
    ``label_smoothing`` change only how the same network is trained (``configs/*_tuned.yaml``). The
    configs train it through :class:`mnist_lit.FastMLPClassifier`, which makes the same updates faster.

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

    @property
    def class_names(self) -> list[str]:
        """The name of each class: the dataset's, or the class numbers."""
        return list(self.hparams.class_names or [str(c) for c in range(self.hparams.num_classes)])

    def forward(self, images: Tensor) -> Tensor:
        """Logits for flattened images with pixels in [0, 1]."""
        if self.hparams.normalize:
            images = (images - MNIST_MEAN) / MNIST_STD
        return self.net(images)

    def shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        """The batch's loss and logits; the stage's loss and accuracy accumulate for the epoch."""
        images, labels = batch
        logits = self(images)
        loss_sum = self.loss_sum(logits, labels, stage)
        getattr(self, f"{stage}_metrics").update(loss_sum, logits, labels)
        return self.batch_mean(loss_sum, len(labels)), logits

    def loss_sum(self, logits: Tensor, labels: Tensor, stage: str) -> Tensor:
        """The batch's summed cross-entropy; label smoothing, when asked for, applies to training alone."""
        smoothing = self.hparams.label_smoothing if stage == "train" else 0.0
        return F.cross_entropy(logits, labels, reduction="sum", label_smoothing=smoothing)

    def batch_mean(self, loss_sum: Tensor, count: int) -> Tensor:
        """The mean loss over the whole batch, with every digit weighted as it is in one process.

        Under DDP each process holds a share of the batch (11, 11 and 10 of 32 for three processes) and DDP
        averages their gradients, which would weigh a digit by one over its process's share; scaling each
        share's sum by ``world_size / batch size`` gives every digit the weight it has in a single process.
        """
        world_size = self.trainer.world_size
        if world_size == 1:
            return loss_sum / count
        total = self.trainer.strategy.reduce(torch.tensor(float(count), device=loss_sum.device), reduce_op="sum")
        return loss_sum * world_size / total

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.shared_step(batch, "train")[0]

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        # the callbacks read each batch's logits: the misclassified digits, the confusion matrix
        return {"logits": self.shared_step(batch, "test")[1]}

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Class probabilities of ``(images, positions)``; the positions say which inputs they answer."""
        images, positions = batch
        return {"positions": positions, "probs": self(images).softmax(dim=1)}

    def on_train_epoch_end(self) -> None:
        self.log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test")

    def log_epoch(self, stage: str) -> None:
        """Log the stage's epoch means as ``stage/loss`` and ``stage/acc``, then start afresh."""
        metrics = getattr(self, f"{stage}_metrics")
        values = metrics.compute()  # already summed across processes
        if stage == "train" and not torch.isfinite(values["loss"]):
            # raised before the checkpoint callback runs, so no NaN weights are saved
            raise MnistLitError(
                f"Training diverged: the mean loss of epoch {self.current_epoch} is {values['loss'].item()}. "
                f"Lower the learning rate (--model.lr, now {self.hparams.lr}) and train again."
            )
        # the values are already the same on every process: "max" of equal values keeps them exact, and
        # sync_dist says they are meant for all processes; one value per epoch has no batch size to weigh it by
        log = {"sync_dist": True, "reduce_fx": "max", "batch_size": 1}
        self.log(f"{stage}/loss", values["loss"], **log)
        self.log(f"{stage}/acc", values["acc"], prog_bar=stage != "train", **log)
        metrics.reset()

    def optimizer_class(self) -> type[Optimizer]:
        """Adam, or AdamW with decoupled weight decay."""
        return torch.optim.AdamW if self.hparams.optimizer == "adamw" else torch.optim.Adam

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig | Optimizer:
        # fused: torch's one-kernel implementation of the whole update, where it has one
        optimizer = self.optimizer_class()(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=self.device.type in ("cpu", "cuda"),
        )
        if self.hparams.lr_schedule == "constant":
            return optimizer
        steps = self.trainer.estimated_stepping_batches
        if self.hparams.lr_schedule == "one_cycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.hparams.lr, total_steps=steps)
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
