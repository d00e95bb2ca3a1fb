"""The speed machinery, in one place: :class:`FastMLPClassifier` trains exactly what :class:`MLPClassifier` trains.

An epoch of the textbook's model is 1,875 steps of well under a millisecond each, so the time goes to the
work around each step, not to arithmetic. What this class does about it, and what each part changes, is
in its docstring; the measured figures, with their commands, are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor
from torch.optim import Optimizer

from mnist_lit.errors import MnistLitError
from mnist_lit.model import MLPClassifier

# the hooks Lightning's wrappers around backward and the optimizer step exist to call
PER_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_before_zero_grad")


class SkipGraphCaptureCheck:
    """Optimizer mixin for CPU parameters: no per-step check for a CUDA graph being captured.

    Only accelerator work can be captured into a graph, but torch's Adam asks on every step whether an
    accelerator is capturing one, and with Lightning imported (it sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``)
    a CUDA build of torch answers by loading NVML afresh each time CUDA is not in use: more than Adam's own
    update of this network. This overrides a private method of ``torch.optim.Optimizer``;
    ``tests/test_fast.py`` fails when torch renames it or stops calling it.
    """

    def _accelerator_graph_capture_health_check(self) -> None:
        return None


class CPUAdam(SkipGraphCaptureCheck, torch.optim.Adam):
    """Adam for CPU parameters, without the per-step graph-capture check."""


class CPUAdamW(SkipGraphCaptureCheck, torch.optim.AdamW):
    """AdamW for CPU parameters, without the per-step graph-capture check."""


def quiet_dataloader_iter_warnings() -> None:
    """Filter Lightning's warnings about ``training_step(dataloader_iter)``, which do not apply here.

    Lightning warns that the flavour is experimental, that the hooks' ``batch_idx`` is then the last
    batch's, and that it does not suit gradient accumulation: ``tests/test_fast.py`` checks the training
    against one batch per call, the project's hooks do not use ``batch_idx``, and nothing is accumulated.
    """
    warnings.filterwarnings("ignore", message="Found `dataloader_iter` argument in the `training_step`")
    warnings.filterwarnings("ignore", message="You are using the `dataloader_iter` step flavor")


class FastMLPClassifier(MLPClassifier):
    """:class:`MLPClassifier` with the same updates, made fast for a network this small (the configs use it).

    - **Several optimizer steps per call.** ``training_step`` takes Lightning's ``dataloader_iter`` and runs
      one optimizer step (manual optimization) on each of the next ``steps_per_call`` batches, so
      Lightning's loop around a call, which costs about half this network's step, is paid once for all of
      them. ``trainer.max_steps`` is honoured within a call.
    - **No per-batch wrappers when nothing needs them.** With one process, 32-bit precision and no
      callback or hook on backward or the optimizer step, it calls ``loss.backward()`` and the optimizer
      directly, and counts the step as Lightning's wrapper would; otherwise it goes through them.
    - **On the CPU, Adam without torch's per-step graph-capture check** (:class:`SkipGraphCaptureCheck`).

    What it buys: a step of the one-hidden model at batch 32 in 0.29 ms against 0.77 ms for
    ``MLPClassifier`` on the 2-core development CPU, as fast as a plain PyTorch loop with default Adam
    (``docs/benchmarks.md`` has the command and the other rows).

    What changes: what Lightning runs between calls runs every ``steps_per_call`` batches: the
    ``on_train_batch_start``/``on_train_batch_end`` hooks, ``val_check_interval`` (which then counts calls)
    and ``every_n_train_steps`` checkpoints (checked at the end of a call). The training metrics are
    updated once per call. Under DDP a call takes one batch: DDP averages a backward pass's gradients only
    after a forward through its wrapper, which Lightning runs once per call.

    Args:
        steps_per_call: Training batches each ``training_step`` call takes, one optimizer step each.
        **kwargs: :class:`MLPClassifier`'s arguments.
    """

    def __init__(self, steps_per_call: int = 25, **kwargs: Any) -> None:
        if steps_per_call < 1:
            raise MnistLitError(
                f"--model.steps_per_call must be at least 1, got {steps_per_call}. 1 runs one batch per "
                "training_step call; the configs use 25."
            )
        super().__init__(**kwargs)
        self.automatic_optimization = False
        quiet_dataloader_iter_warnings()

    def optimizer_class(self) -> type[Optimizer]:
        """On the CPU, the same optimizer without the per-step graph-capture check."""
        if self.device.type != "cpu":
            return super().optimizer_class()
        return CPUAdamW if self.hparams.optimizer == "adamw" else CPUAdam

    def training_step(self, dataloader_iter: Iterator[tuple[tuple[Tensor, Tensor], int, int]]) -> None:
        """One optimizer step on each of the next ``steps_per_call`` batches from Lightning's iterator.

        Naming the argument ``dataloader_iter`` tells Lightning to hand over its iterator instead of a batch.
        """
        trainer = self.trainer
        steps = self.hparams.steps_per_call if trainer.world_size == 1 else 1
        if trainer.max_steps >= 0:  # Lightning checks `max_steps` between calls; stop on it within one too
            steps = min(steps, trainer.max_steps - trainer.global_step)
        step = self._bare_step() if self._wrappers_idle() else self._wrapped_step
        scheduler, device, convert_input = self.lr_schedulers(), self.device, trainer.precision_plugin.convert_input
        loss_sums, all_logits, all_labels = [], [], []
        for batch, _, _ in islice(dataloader_iter, steps):
            # a step that takes the iterator places its batches itself; the splits already live on the device,
            # so this moves nothing for the project's own data
            images, labels = convert_input(batch)
            images, labels = images.to(device), labels.to(device)
            logits = self(images)
            loss_sum = self.loss_sum(logits, labels, "train")
            step(self.batch_mean(loss_sum, len(labels)))
            if scheduler is not None:
                scheduler.step()
            loss_sums.append(loss_sum.detach())
            all_logits.append(logits.detach())
            all_labels.append(labels)
        if loss_sums:  # one metric update for the whole call
            self.train_metrics.update(torch.stack(loss_sums).sum(), torch.cat(all_logits), torch.cat(all_labels))

    def _wrappers_idle(self) -> bool:
        """Whether Lightning's per-batch wrappers would do nothing but call the hooks, and no hook is there."""
        trainer = self.trainer
        if trainer.world_size != 1 or trainer.precision != "32-true":
            return False
        return not any(is_overridden(hook, self, LightningModule) for hook in PER_STEP_HOOKS) and not any(
            is_overridden(hook, callback, Callback) for callback in trainer.callbacks for hook in PER_STEP_HOOKS
        )

    def _wrapped_step(self, loss: Tensor) -> None:
        """Backward and step through Lightning: precision plugin, strategy and the per-step hooks."""
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def _bare_step(self) -> Callable[[Tensor], None]:
        """Backward and step directly, counted in ``trainer.global_step`` as Lightning's wrapper counts it.

        The count goes to the manual-optimization loop's step progress, where ``global_step`` reads it;
        ``tests/test_fast.py`` fails if Lightning counts elsewhere (the step count and the checkpoint's).
        """
        optimizer = self.trainer.optimizers[0]
        progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress

        def step(loss: Tensor) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.increment_ready()
            progress.increment_completed()

        return step
