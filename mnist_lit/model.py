"""Training logic around the MLP: loss, optimizer, metrics and what each stage logs."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.nn import functional as F

from mnist_lit.errors import MnistLitError
from mnist_lit.metrics import LossAndAccuracy
from mnist_lit.network import MLP

# mean and standard deviation of MNIST's 60,000 training images, pixels scaled to [0, 1]
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MLPClassifier(L.LightningModule):
    """An MLP digit classifier trained with Adam on cross-entropy.

    Args:
        hidden_sizes: Widths of the hidden layers: ``[64]`` or ``[64, 1024]`` in the textbook.
        lr: Adam's learning rate.
        input_size: Pixels per image (784 for 28×28).
        num_classes: Number of classes (10 digits).
        normalize: Standardise the [0, 1] pixels with MNIST's mean and std before the network. It is part of
            the model, so a checkpoint always gets the preprocessing it was trained with.
        compile: Compile the inner network with ``torch.compile`` (in place, so checkpoints keep their keys).
    """

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (64,),
        lr: float = 1e-3,
        input_size: int = 784,
        num_classes: int = 10,
        normalize: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if not hidden_sizes or min(hidden_sizes) <= 0:
            raise MnistLitError(
                f"--model.hidden_sizes must list one or more positive layer widths, got {list(hidden_sizes)}. "
                "Use for example [64] or [64, 1024]."
            )
        if lr <= 0:
            raise MnistLitError(f"--model.lr must be positive, got {lr}. The textbook uses 0.001.")
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

    def forward(self, images: Tensor) -> Tensor:
        """Logits for flattened images with pixels in [0, 1]."""
        if self.hparams.normalize:
            images = (images - MNIST_MEAN) / MNIST_STD
        return self.net(images)

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        """Loss and logits of a batch, accumulated into the stage's metrics."""
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        getattr(self, f"{stage}_metrics").update(loss, logits, labels)
        return loss, logits

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
        self.log(f"{stage}/loss", values["loss"])
        self.log(f"{stage}/acc", values["acc"], prog_bar=stage != "train")
        metrics.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._shared_step(batch, "train")[0]
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return {"logits": self._shared_step(batch, "test")[1]}

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Class probabilities of ``(images, positions)``; the positions say which inputs they answer."""
        images, positions = batch
        return {"positions": positions, "probs": self(images).softmax(dim=1)}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # the fused kernel does the whole Adam update in one pass: on a net this small it is most of the step
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, fused=fused)
