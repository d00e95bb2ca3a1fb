"""Training logic around a network that is passed in: the loss, the optimizer, and what each stage logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim import Optimizer

from mnist_lit.data.registry import dataset_info
from mnist_lit.errors import ArgumentError, MnistLitError
from mnist_lit.metrics import LossAndAccuracy
from mnist_lit.nets import Standardize
from mnist_lit.nets.spec import NetFactory, build_net, legacy_state_dict, net_spec, same_net

# checkpoints written since the network is passed in; earlier ones hold the MLP's layers one index lower
CHECKPOINT_FORMAT = 2
# what earlier versions standardised every dataset with, when asked to (MNIST's mean and std)
LEGACY_MEAN_STD = (0.1307, 0.3081)


class Classifier(L.LightningModule):
    """An image classifier trained with Adam on cross-entropy: the textbook's training, any network.

    The defaults are the textbook's recipe; ``optimizer``, ``weight_decay``, ``lr_schedule`` and
    ``label_smoothing`` change only how the network is trained (``configs/*_tuned.yaml``). The configs train
    it through :class:`mnist_lit.FastClassifier`, which makes the same updates faster.

    Args:
        net: The network: a class (or ``functools.partial`` of one) that takes one image's shape and the
            number of classes, then its own arguments: :class:`mnist_lit.nets.MLP` (the textbook's),
            :class:`mnist_lit.nets.LeNet5`, or your own. A config chooses it by ``class_path`` under
            ``model.init_args.net``. Left out, an MLP of ``hidden_sizes``.
        lr: The learning rate (with ``lr_schedule: one_cycle``, the peak).
        input_shape: One image's shape, ``(channels, height, width)``; the CLI fills it in from the dataset.
        num_classes: Number of classes (10 digits); the CLI fills it in from the dataset.
        class_names: What to call each class in reports; the CLI fills it in from the dataset, and the
            checkpoint keeps it. ``None`` numbers them.
        normalize: Standardise the [0, 1] pixels with the dataset's mean and std before the network. They
            are buffers of the model, so a checkpoint always carries the preprocessing it was trained with.
        dataset: Whose mean and std ``normalize`` uses (the CLI fills it in from ``--data.dataset``).
        compile: Compile the network with ``torch.compile`` (in place, so checkpoints keep their keys).
        optimizer: ``adam`` (the textbook's), ``adamw`` (Adam with decoupled weight decay) or ``sgd`` (with
            momentum 0.9).
        weight_decay: AdamW's decoupled weight decay (Adam's and SGD's: an L2 penalty).
        lr_schedule: ``constant`` (the textbook's), ``one_cycle`` (warm up to ``lr`` over the first 30% of
            the steps, then anneal to near zero) or ``cosine`` (from ``lr`` down to zero), stepped every batch.
        label_smoothing: Train towards ``1 - label_smoothing`` on the true class and the rest spread over the
            others, so the network stops pushing its logits apart once it is right; evaluation is unchanged.
        teacher: A checkpoint of a trained model (of the same dataset) to distil from (Hinton, Vinyals & Dean,
            2015): training also pulls this network's softened probabilities towards the teacher's on each
            training batch. Read when `fit` starts; the trained network needs it no more.
        temperature: The softening of both networks' probabilities for distillation (logits / temperature).
        distill_weight: The share of the distillation term in the training loss; the rest is cross-entropy
            with the labels.
        hidden_sizes: The MLP's hidden widths when ``net`` is left out (``[64]`` or ``[64, 1024]``): how
            configs and checkpoints of earlier versions chose the network.
        input_size: Pixels per image, as earlier versions' checkpoints recorded it; kept so they load.
    """

    def __init__(
        self,
        net: NetFactory | None = None,
        lr: float = 1e-3,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        class_names: list[str] | None = None,
        normalize: bool = False,
        dataset: str = "mnist",
        compile: bool = False,
        optimizer: Literal["adam", "adamw", "sgd"] = "adam",
        weight_decay: float = 0.0,
        lr_schedule: Literal["constant", "one_cycle", "cosine"] = "constant",
        label_smoothing: float = 0.0,
        teacher: str | None = None,
        temperature: float = 4.0,
        distill_weight: float = 0.9,
        hidden_sizes: Sequence[int] | None = None,
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        if class_names is not None and len(class_names) != num_classes:
            raise ArgumentError(
                f"{{name}} names {len(class_names)} classes but num_classes is {num_classes}. Leave it out, or name "
                "every class once.",
                "class_names",
                "--model.class_names",
            )
        if lr <= 0:
            raise ArgumentError(f"{{name}} must be positive, got {lr}. The textbook uses 0.001.", "lr", "--model.lr")
        if weight_decay < 0:
            raise ArgumentError(
                f"{{name}} must be at least 0, got {weight_decay}. Typical: 0.05 (0 is the textbook's).",
                "weight_decay",
                "--model.weight_decay",
            )
        if not 0 <= label_smoothing < 1:
            raise ArgumentError(
                f"{{name}} must be from 0 to below 1, got {label_smoothing}. Typical: 0.1 (0 is the textbook's).",
                "label_smoothing",
                "--model.label_smoothing",
            )
        if temperature <= 0:
            raise ArgumentError(
                f"{{name}} must be positive, got {temperature}. Typical: 4.", "temperature", "--model.temperature"
            )
        if not 0 <= distill_weight <= 1:
            raise ArgumentError(
                f"{{name}} must be from 0 to 1, got {distill_weight}. Typical: 0.9.",
                "distill_weight",
                "--model.distill_weight",
            )
        if input_size is not None and input_size != torch.Size(input_shape).numel():
            input_shape = (input_size,)  # an earlier version's checkpoint of another dataset: the MLP flattens
        self.save_hyperparameters()
        # plain data (a config's or a checkpoint's spec as it is), so the checkpoint loads with weights_only
        self.hparams.net = net_spec(self.hparams.net, hidden_sizes)
        legacy_mlp = net_spec(None, hidden_sizes)
        if net is not None and hidden_sizes is not None and not same_net(self.hparams.net, legacy_mlp):
            raise ArgumentError(
                f"{{name}}={list(hidden_sizes)} chooses an MLP, but the network is chosen already (net). Give the "
                "MLP's widths as --model.net.init_args.hidden_sizes on the command line, or as net: {class_path: "
                "mnist_lit.nets.MLP, init_args: {hidden_sizes: [...]}} in a config.",
                "hidden_sizes",
                "--model.hidden_sizes",
            )
        self.net = build_net(self.hparams.net, input_shape, num_classes)
        info = dataset_info(dataset)
        self.standardize = Standardize(info.mean, info.std) if normalize else nn.Identity()
        if compile:
            self.net.compile()
        # the teacher is read when `fit` starts (on_fit_start), and kept out of this model's parameters and
        # checkpoint: a trained student is used without it
        self.__dict__["teacher_model"] = None
        # one metric object per stage, so their states never mix
        self.train_metrics = LossAndAccuracy()
        self.val_metrics = LossAndAccuracy()
        self.test_metrics = LossAndAccuracy()

    @property
    def class_names(self) -> list[str]:
        """The name of each class: the dataset's, or the class numbers."""
        return list(self.hparams.class_names or [str(c) for c in range(self.hparams.num_classes)])

    def forward(self, images: Tensor) -> Tensor:
        """Logits for images ``[N, channels, height, width]`` with pixels in [0, 1]."""
        return self.net(self.standardize(images))

    def shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        """The batch's loss and logits; the stage's loss and accuracy accumulate for the epoch."""
        images, labels = batch
        logits = self(images)
        loss_sum = self.loss_sum(logits, labels, stage, images)
        getattr(self, f"{stage}_metrics").update(loss_sum, logits, labels)
        return self.batch_mean(loss_sum, len(labels)), logits

    def loss_sum(self, logits: Tensor, labels: Tensor, stage: str, images: Tensor) -> Tensor:
        """The batch's summed cross-entropy; label smoothing and distillation, when asked for, apply to
        training alone."""
        smoothing = self.hparams.label_smoothing if stage == "train" else 0.0
        loss_sum = F.cross_entropy(logits, labels, reduction="sum", label_smoothing=smoothing)
        if stage != "train" or self.teacher_model is None:
            return loss_sum
        weight = self.hparams.distill_weight
        return (1 - weight) * loss_sum + weight * self.distillation_sum(logits, images)

    def distillation_sum(self, logits: Tensor, images: Tensor) -> Tensor:
        """Hinton et al.'s soft-target loss, summed over the batch: the KL divergence from the teacher's
        softened probabilities to this network's, times the temperature squared (so that its gradients keep
        their scale whatever the temperature)."""
        temperature = self.hparams.temperature
        with torch.no_grad():
            targets = F.log_softmax(self.teacher_model(images) / temperature, dim=1)
        student = F.log_softmax(logits / temperature, dim=1)
        return F.kl_div(student, targets, reduction="sum", log_target=True) * temperature**2

    def on_fit_start(self) -> None:
        if self.hparams.teacher is not None:
            from mnist_lit.distill import load_teacher  # reads a checkpoint like the CLI's `test`

            self.__dict__["teacher_model"] = load_teacher(self.hparams.teacher, self)

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

    def optimizer_steps(self) -> int | float:
        """The optimizer steps of the whole fit, which the learning-rate schedules span."""
        return self.trainer.estimated_stepping_batches

    def optimizer_class(self) -> type[Optimizer]:
        """The optimizer ``optimizer`` names."""
        return OPTIMIZERS[self.hparams.optimizer]

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig | Optimizer:
        optimizer_class, options = self.optimizer_class(), {"weight_decay": self.hparams.weight_decay}
        if self.hparams.optimizer == "sgd":
            options["momentum"] = 0.9
        if self.device.type in ("cpu", "cuda"):
            options["fused"] = True  # torch's one-kernel implementation of the whole update
        optimizer = optimizer_class(self.parameters(), lr=self.hparams.lr, **options)
        if self.hparams.lr_schedule == "constant":
            return optimizer
        steps = self.optimizer_steps()
        if self.hparams.lr_schedule == "one_cycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.hparams.lr, total_steps=steps)
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["mnist_lit_format"] = CHECKPOINT_FORMAT

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("mnist_lit_format", 1) >= CHECKPOINT_FORMAT:
            return
        state = legacy_state_dict(checkpoint["state_dict"])
        if self.hparams.normalize:  # earlier versions standardised every dataset with MNIST's statistics
            mean, std = LEGACY_MEAN_STD
            state |= {"standardize.mean": torch.full_like(self.standardize.mean, mean),
                      "standardize.std": torch.full_like(self.standardize.std, std)}  # fmt: skip
        checkpoint["state_dict"] = state


OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}

# the name of earlier versions, whose class built its MLP itself
MLPClassifier = Classifier
