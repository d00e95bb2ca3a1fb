"""The speed machinery, in one place: :class:`FastClassifier` trains exactly what :class:`Classifier` trains.

An epoch of the textbook's model is 1,875 steps of well under a millisecond each, so the time goes to the
work around each step, not to arithmetic. What this class does about it, and what each part changes, is
in its docstring; the measured figures, with their commands, are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value
from torch.nn import functional as F
from torch.optim import Optimizer

from mnist_lit.backprop import MLPBackprop, why_not_written_out
from mnist_lit.callbacks.progress import batches_per_call, training_batches
from mnist_lit.errors import ArgumentError
from mnist_lit.model import Classifier

# floats in a 64-byte cache line, the unit Adam's fused CPU kernel divides its work into (line_runs)
LINE = 16
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


class CPUSGD(SkipGraphCaptureCheck, torch.optim.SGD):
    """SGD for CPU parameters, without the per-step graph-capture check."""


# each optimizer the classifier builds, without the check; one not here is built as it is
WITHOUT_CAPTURE_CHECK: dict[type[Optimizer], type[Optimizer]] = {
    torch.optim.Adam: CPUAdam,
    torch.optim.AdamW: CPUAdamW,
    torch.optim.SGD: CPUSGD,
}
# what the compiled update implements (torch's Adam algorithm, with L2 or decoupled weight decay)
COMPILED_OPTIMIZERS = ("adam", "adamw")
# layers that draw random numbers in the forward pass: a compiled graph draws them from its own generator,
# so its training would not be the eager training of the same seed
RANDOM_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def quiet_fast_path_warnings() -> None:
    """Filter the warning about what this path does on purpose.

    torch warns when a learning-rate scheduler steps before the optimizer's ``step()`` was ever called: the
    compiled steps update the optimizer's state without calling it, and read each step's rate before
    stepping the scheduler, as eager training does.
    """
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`")


def adam_steps(model: nn.Module, steps: int, label_smoothing: float, decoupled: bool) -> Callable:
    """``steps`` Adam (or AdamW) steps on ``steps`` batches, as one pure function for ``torch.compile``.

    It takes the parameters, Adam's state and each step's hyperparameters as tensors, and returns the new
    parameters and state with each batch's summed loss and logits: the same update torch's Adam makes
    (``torch.optim.Adam``'s algorithm, without amsgrad), so the caller can copy the results into the
    module and the optimizer's own state, and checkpoints keep their usual format. The caller computes
    each step's bias corrections (:func:`step_hyperparameters`): computed in the graph, they would be
    computed again for every element of every parameter.
    """
    names = [name for name, _ in model.named_parameters()]

    def loss(params: list[Tensor], images: Tensor, labels: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        logits = functional_call(model, dict(zip(names, params)), (images,))
        loss_sum = F.cross_entropy(logits, labels, reduction="sum", label_smoothing=label_smoothing)
        return loss_sum / labels.shape[0], (loss_sum, logits)

    gradient = grad_and_value(loss, has_aux=True)

    def run(params, exp_avgs, exp_avg_sqs, step, images, labels, hyper):  # lists of tensors, tensors
        loss_sums, all_logits = [], []
        for i in range(steps):
            lr, beta1, beta2, eps, weight_decay, step_size, root = hyper[i]
            grads, (_, (loss_sum, logits)) = gradient(params, images[i], labels[i])
            step = step + 1
            if decoupled:
                params = [p * (1 - lr * weight_decay) for p in params]
            else:
                grads = [g + weight_decay * p for g, p in zip(grads, params)]
            exp_avgs = [m.lerp(g, 1 - beta1) for m, g in zip(exp_avgs, grads)]
            exp_avg_sqs = [v * beta2 + (1 - beta2) * g * g for v, g in zip(exp_avg_sqs, grads)]
            params = [p - step_size * m / (v.sqrt() / root + eps) for p, m, v in zip(params, exp_avgs, exp_avg_sqs)]
            loss_sums.append(loss_sum)
            all_logits.append(logits)
        return params, exp_avgs, exp_avg_sqs, step, torch.stack(loss_sums), torch.cat(all_logits)

    return run


def step_hyperparameters(settings: list[list[float]], first_step: int) -> Tensor:
    """The rows of :func:`adam_steps`' hyperparameters for consecutive steps from ``first_step`` (counted
    from 1), given each step's ``[lr, beta1, beta2, eps, weight_decay]``: with Adam's step size and the
    root of its second bias correction, computed in 32 bits as ``torch.optim.Adam`` computes them."""
    lr, beta1, beta2, eps, weight_decay = torch.tensor(settings, dtype=torch.float32).unbind(1)
    step = torch.arange(first_step, first_step + len(settings), dtype=torch.float32)
    step_size, root = lr / (1 - beta1**step), (1 - beta2**step).sqrt()
    return torch.stack([lr, beta1, beta2, eps, weight_decay, step_size, root], dim=1)


def adam_state(optimizer: Optimizer) -> list[dict[str, Tensor]]:
    """Each parameter's Adam state; where there is none yet, as torch's fused Adam lays it out on its first step."""
    params = optimizer.param_groups[0]["params"]
    for param in params:
        if not optimizer.state[param]:
            optimizer.state[param] = {
                "step": torch.zeros((), device=param.device),
                "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
            }
    return [optimizer.state[param] for param in params]


def line_runs(sizes: list[int]) -> list[list[int]]:
    """Groups of parameters (by index) that Adam's fused CPU kernel can update as one flat tensor each, with
    the numbers it gives them one by one: consecutive ones, each but the last a whole number of cache lines.

    The kernel divides a tensor among its threads in 64-byte cache lines (:data:`LINE` floats) and runs vector
    instructions over them, but computes the elements after the tensor's last whole vector one by one, which
    rounds differently: a parameter with such elements must end its flat tensor, so that they stay at an end.
    """
    runs, run = [], []
    for index, size in enumerate(sizes):
        run.append(index)
        if size % LINE:
            runs.append(run)
            run = []
    return [*runs, run] if run else runs


class FusedAdamSteps:
    """Updates exactly as ``optimizer.step()`` would, for torch's fused Adam or AdamW in one parameter group
    without amsgrad or maximize (the configs' optimizer): :meth:`applies` says when.

    Each call of training (:meth:`start`, then one call of this object a step, then :meth:`finish`) writes each
    step's gradients into :attr:`grads`, reading the parameters from :attr:`params`, and calls this object:
    it calls the fused kernel that ``step()`` ends in, without the Python around it (counters, hooks,
    grouping the tensors by device: more than the kernel itself at this size). On the CPU the parameters,
    their gradients and Adam's state live for the call in a few flat tensors (:func:`line_runs`), one kernel
    pass each: :meth:`start` copies them in from the module and the optimizer's state, and :meth:`finish`
    writes them back, the same numbers, in the same places, as ``step()`` leaves. It reads the learning rate
    and betas at each step, as a schedule changes them. The flat tensors are made once and reused.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.group = group = optimizer.param_groups[0]
        self.kernel = torch._fused_adamw_ if group["decoupled_weight_decay"] else torch._fused_adam_
        params = [param.detach() for param in group["params"]]
        flat = all(param.device.type == "cpu" and param.dtype == torch.float32 for param in params)
        self.runs = line_runs([param.numel() for param in params]) if flat else [[i] for i in range(len(params))]
        self.shapes = [param.shape for param in params]
        # the parameters, exp_avg and exp_avg_sq, and the gradients, each as a few flat tensors
        *self.flat, self.flat_grads = [
            [params[run[0]].new_empty(sum(params[i].numel() for i in run)) for run in self.runs] for _ in range(4)
        ]
        self.parts = [self.per_parameter(flat) for flat in self.flat]  # each parameter's part, as the targets
        self.params, self.grads = self.parts[0], self.per_parameter(self.flat_grads)
        self.counts: list[list[Tensor]] = []  # each step's count, once for each flat tensor
        self.taken = 0

    @staticmethod
    def applies(optimizer: Optimizer) -> bool:
        """Whether ``optimizer`` is one whose ``step()`` this reproduces."""
        group = optimizer.param_groups[0]
        return (
            isinstance(optimizer, torch.optim.Adam)
            and len(optimizer.param_groups) == 1
            and bool(group.get("fused"))
            and not group["amsgrad"]
            and not group["maximize"]
        )

    def per_parameter(self, flat: list[Tensor]) -> list[Tensor]:
        """Each parameter's part of the flat tensors, shaped as the parameter, in the parameters' order."""
        parts = {}
        for run, tensor in zip(self.runs, flat):
            for index, part in zip(run, tensor.split([self.shapes[i].numel() for i in run])):
                parts[index] = part.view(self.shapes[index])
        return [parts[index] for index in range(len(self.shapes))]

    def targets(self) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """Where ``step()`` keeps the parameters, exp_avg, exp_avg_sq and the step counts (read at each call:
        loading a checkpoint replaces the state's tensors)."""
        states = adam_state(self.optimizer)
        params = [param.detach() for param in self.group["params"]]
        return params, *([state[key] for state in states] for key in ("exp_avg", "exp_avg_sq", "step"))

    def start(self, steps: int) -> None:
        """Load the parameters and Adam's state into the flat tensors, for a call of up to ``steps`` steps."""
        self.group = self.optimizer.param_groups[0]  # loading a checkpoint replaces it too
        *targets, step_counts = self.targets()
        with torch.no_grad():
            for parts, tensors in zip(self.parts, targets):
                torch._foreach_copy_(parts, tensors)
        first = int(step_counts[0]) + 1  # the count each step's bias corrections read, as a tensor
        counts = torch.arange(first, first + steps, dtype=step_counts[0].dtype, device=step_counts[0].device)
        # made at once, a list for each step as the kernel takes them: indexing a tensor at each step costs more
        self.counts = [[count] * len(self.flat[0]) for count in counts.unbind()]
        self.taken = 0

    def __call__(self) -> None:
        """One step from the gradients in :attr:`grads`."""
        group, (beta1, beta2) = self.group, self.group["betas"]
        params, exp_avgs, exp_avg_sqs = self.flat
        self.kernel(params, self.flat_grads, exp_avgs, exp_avg_sqs, [], self.counts[self.taken], amsgrad=False,
                    lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                    maximize=False)  # fmt: skip
        self.taken += 1

    def finish(self) -> None:
        """The parameters, Adam's state and the step counts where ``step()`` keeps them."""
        if not self.taken:
            return
        *targets, step_counts = self.targets()
        with torch.no_grad():
            for tensors, parts in zip(targets, self.parts):
                torch._foreach_copy_(tensors, parts)
            for count in step_counts:
                count.copy_(self.counts[self.taken - 1][0])


class OptimizerSteps:
    """Updates by any optimizer's own ``step()``, from the gradients written into :attr:`grads`."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer, self.params = optimizer, [param.detach() for param in optimizer.param_groups[0]["params"]]
        self.grads = [torch.empty_like(param) for param in self.params]

    def start(self, steps: int) -> None:
        """Nothing to load: ``step()`` reads the module's parameters and counts its steps."""
        for param, grad in zip(self.optimizer.param_groups[0]["params"], self.grads):
            param.grad = grad

    def __call__(self) -> None:
        """One step from the gradients in :attr:`grads`, outside inference mode: the state ``step()`` makes at
        its first call must be an ordinary tensor, which any later step outside inference mode updates in place."""
        with torch.inference_mode(False):
            self.optimizer.step()

    def finish(self) -> None:
        """Nothing: ``step()`` kept the optimizer's state whole."""


class FastClassifier(Classifier):
    """:class:`Classifier` with the same updates, made fast for networks this small (the configs use it).

    - **Several optimizer steps per call, one gather.** Each ``training_step`` call gets ``steps_per_call``
      consecutive batches as one tensor (the training loader gathers them so, :attr:`batches_per_step`)
      and runs one optimizer step (manual optimization) on each, so Lightning's loop around a call, which
      costs several of this network's steps, is paid once for all of them. ``trainer.max_steps`` is
      honoured within a call.
    - **Gradients written out** (``write_out_gradients``): for an MLP (:mod:`mnist_lit.backprop`) each step
      calls the operations autograd's backward pass would call, in inference mode (nothing is differentiated,
      so none of autograd's bookkeeping), and Adam's fused kernel without ``optimizer.step()``'s Python, on
      flat copies of the parameters and their state that it writes back after the call
      (:class:`FusedAdamSteps`): the same numbers, bit for bit, in less than half the time at batch 32. Not
      with distillation, label smoothing, DDP or per-step hooks, nor for other networks: autograd then, with
      one line saying why.
    - **Compiled steps** (``compiled_steps``): a call's batches run through one graph that ``torch.compile``
      made of the forward pass, the backward pass and Adam's update (:func:`adam_steps`), in groups of
      ``compiled_steps`` steps a graph. The graph reads the batches where the gather left them.
    - **No per-batch wrappers when nothing needs them.** With one process, 32-bit precision and no
      callback or hook on backward or the optimizer step, it calls ``loss.backward()`` and the optimizer
      directly, and counts the step as Lightning's wrapper would; otherwise it goes through them.
    - **On the CPU, the same optimizer without torch's per-step graph-capture check**
      (:class:`SkipGraphCaptureCheck`).

    What each buys, measured with the commands in ``docs/benchmarks.md``.

    What changes: Lightning counts a call as one batch. What it runs between batches runs every
    ``steps_per_call`` batches: the ``on_train_batch_start``/``on_train_batch_end`` hooks, and the
    ``limit_train_batches`` and ``val_check_interval`` counts (calls); ``every_n_train_steps`` checkpoints
    are checked at the end of a call. The training metrics are updated once per call. Under DDP a call
    takes one batch: DDP averages a backward pass's gradients only after a forward through its wrapper,
    which Lightning runs once per call.

    Args:
        steps_per_call: Training batches each ``training_step`` call takes, one optimizer step each.
        compiled_steps: Optimizer steps in one compiled graph (:func:`adam_steps`: Adam and AdamW only;
            another optimizer trains eager); a call runs its batches through it in groups of this many.
            0 trains eager. 1 compiles fastest (``docs/speed.md``).
        write_out_gradients: Compute an MLP's gradients with the operations autograd would run, unrecorded
            (eager steps only); False leaves them to autograd.
        **kwargs: :class:`Classifier`'s arguments.
    """

    def __init__(
        self, steps_per_call: int = 75, compiled_steps: int = 0, write_out_gradients: bool = True, **kwargs: Any
    ) -> None:
        if steps_per_call < 1:
            raise ArgumentError(
                f"{{name}} must be at least 1, got {steps_per_call}. 1 runs one batch per training_step call; the "
                "configs use 75.",
                "steps_per_call",
                "--model.steps_per_call",
            )
        if not 0 <= compiled_steps <= steps_per_call:
            raise ArgumentError(
                f"{{name}} must be from 0 (eager) to steps_per_call ({steps_per_call}), got {compiled_steps}: a "
                "call's batches are compiled in groups of that many. Try 5 or 25.",
                "compiled_steps",
                "--model.compiled_steps",
            )
        super().__init__(**kwargs)
        self.automatic_optimization = False
        # chosen when `fit` starts: the callbacks and hooks do not change while it runs
        self._step: Callable[[Tensor], None] | None = None
        self._backprop: MLPBackprop | None = None  # gradients written out, when they can be
        self._update: FusedAdamSteps | OptimizerSteps | None = None  # the written-out steps' updates
        self._compiled: Callable | None = None  # when compiled_steps > 0
        self.compile_seconds: float | None = None  # how long compiling took, for scripts/benchmark.py
        quiet_fast_path_warnings()

    def on_train_start(self) -> None:
        self._step = self._bare_step() if self._wrappers_idle() else self._wrapped_step
        self._compiled = self._backprop = self._update = None
        if self.hparams.compiled_steps:
            if (reason := self._why_not_compiled()) is None:
                self._compiled = self._compile()
            else:
                rank_zero_info(f"compiled_steps={self.hparams.compiled_steps}: {reason}; training eager.")
        if self._compiled is None and self.hparams.write_out_gradients:
            if (reason := self._why_not_written_out()) is None:
                self._backprop = MLPBackprop(self.standardize, self.net)
            else:
                rank_zero_info(f"Gradients by autograd: {reason}.")

    def _why_not_written_out(self) -> str | None:
        """Why the gradients cannot be written out for this run (autograd computes them), or None."""
        if self.teacher_model is not None:
            return "the written-out gradients have no distillation term"
        if self.hparams.label_smoothing:
            return "the written-out gradients have no label smoothing"
        if self.trainer.world_size != 1:
            return "DDP averages the gradients in autograd's backward pass"
        if not self._wrappers_idle():
            return "a precision plugin, or a callback or hook on backward or the optimizer step, needs autograd"
        return why_not_written_out(self.net)

    def _why_not_compiled(self) -> str | None:
        """Why the compiled path cannot train this run (it falls back to eager), or None when it can."""
        trainer, loader = self.trainer, self.trainer.train_dataloader
        if self.hparams.optimizer not in COMPILED_OPTIMIZERS:
            return f"the compiled update implements Adam and AdamW, not {self.hparams.optimizer}"
        if self.teacher_model is not None:
            return "the compiled update has no distillation term"
        if any(isinstance(layer, RANDOM_LAYERS) and layer.p > 0 for layer in self.net.modules()):
            return "the network has dropout, whose masks a compiled graph would draw unlike the eager steps"
        if trainer.world_size != 1:
            return "DDP runs eager (DDP averages gradients in the backward pass the graph replaces)"
        if not self._wrappers_idle():
            return "a precision plugin, or a callback or hook on backward or the optimizer step, needs each step eager"
        if not isinstance(getattr(loader, "batch_size", None), int):
            return "the training loader does not say its batch size"
        return None

    def _compile(self) -> Callable | None:
        """The compiled function, compiled now on a batch of zeros so that a failure falls back to eager."""
        optimizer, k = self.trainer.optimizers[0], self.hparams.compiled_steps
        decoupled = optimizer.param_groups[0].get("decoupled_weight_decay", isinstance(optimizer, torch.optim.AdamW))
        # the standardisation (buffers, no parameters) and the network, as forward runs them
        run = adam_steps(nn.Sequential(self.standardize, self.net), k, self.hparams.label_smoothing, decoupled)
        # on a GPU, CUDA graphs replay the whole group without launching its kernels one by one
        mode = "reduce-overhead" if self.device.type == "cuda" else None
        compiled = torch.compile(run, dynamic=False, mode=mode)
        params = [p.detach() for p in self.net.parameters()]
        state = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]  # not aliased
        batch = self.trainer.train_dataloader.batch_size
        images = torch.zeros(k, batch, *self.hparams.input_shape, device=self.device)
        labels = torch.zeros(k, batch, dtype=torch.long, device=self.device)
        hyper = torch.full((k, 7), 0.5, device=self.device)
        started = time.perf_counter()
        try:
            compiled(params, *state, torch.zeros((), device=self.device), images, labels, hyper)
        except Exception as err:  # an op the compiler cannot take, a missing C++ compiler, ...
            rank_zero_info(
                f"compiled_steps={k}: cannot compile the steps ({type(err).__name__}: {err}); training eager."
            )
            return None
        self.compile_seconds = time.perf_counter() - started
        rank_zero_info(
            f"compiled_steps={k}: {k} optimizer steps compiled into one graph in {self.compile_seconds:.1f} s."
        )
        return compiled

    def optimizer_class(self) -> type[Optimizer]:
        """On the CPU, the optimizer :class:`Classifier` builds, without the per-step graph-capture check."""
        optimizer = super().optimizer_class()
        return WITHOUT_CAPTURE_CHECK.get(optimizer, optimizer) if self.device.type == "cpu" else optimizer

    @property
    def batches_per_step(self) -> int:
        """Batches the training loader hands each ``training_step`` call as one tensor: ``steps_per_call``
        in one process, one under DDP."""
        return self.hparams.steps_per_call if self.trainer.world_size == 1 else 1

    def optimizer_steps(self) -> int | float:
        """The optimizer steps of the whole fit: every batch of every call (Lightning counts calls)."""
        trainer, calls = self.trainer, self.trainer.estimated_stepping_batches  # this loads the training loader
        if batches_per_call(trainer) == 1 or calls == float("inf"):
            return calls
        steps = training_batches(trainer) * max(trainer.max_epochs, 1)
        return steps if trainer.max_steps == -1 else min(steps, trainer.max_steps)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """One optimizer step on each batch of the call's images and labels (``steps_per_call`` batches, one
        after another in one tensor)."""
        trainer, images, labels = self.trainer, *batch
        size = getattr(trainer.train_dataloader, "batch_size", None) or len(labels)
        steps = math.ceil(len(labels) / size)
        if trainer.max_steps >= 0:  # Lightning checks `max_steps` between calls; stop on it within one too
            steps = min(steps, trainer.max_steps - trainer.global_step)
        images, labels = images[: steps * size], labels[: steps * size]
        scheduler, k, compiled, outputs = self.lr_schedulers(), self.hparams.compiled_steps, 0, []
        if self._compiled is not None and (groups := len(labels) // (k * size)):  # whole groups of whole batches
            compiled, shape = groups * k, (groups, k, size)
            group_images = images[: compiled * size].view(*shape, *images.shape[1:])
            outputs.append(self._compiled_steps(group_images, labels[: compiled * size].view(shape), scheduler))
        if self._backprop is not None:  # the rest eager: gradients written out, or by autograd
            rest = slice(compiled * size, None)
            outputs.append(self._written_out_steps(images[rest], labels[rest], size, scheduler))
        else:
            for step in range(compiled, steps):
                start = step * size
                batch_images, batch_labels = images[start : start + size], labels[start : start + size]
                logits = self(batch_images)
                loss_sum = self.loss_sum(logits, batch_labels, "train", batch_images)
                self._step(self.batch_mean(loss_sum, len(batch_labels)))
                if scheduler is not None:
                    scheduler.step()
                outputs.append((loss_sum.detach()[None], logits.detach()))
        if outputs:  # one metric update for the whole call
            loss_sums, logits = zip(*outputs)
            self.train_metrics.update(torch.cat(loss_sums).sum(), torch.cat(logits), labels)

    def _written_out_steps(self, images: Tensor, labels: Tensor, size: int, scheduler: Any) -> tuple[Tensor, Tensor]:
        """An optimizer step on each batch of ``size`` images, its gradients written out (:class:`MLPBackprop`);
        the steps' summed loss and their logits."""
        backprop, update, optimizer = self._backprop, self._update, self.trainer.optimizers[0]
        if update is None or update.optimizer is not optimizer:  # made at the first call (or for a new optimizer)
            update = self._update = (FusedAdamSteps if FusedAdamSteps.applies(optimizer) else OptimizerSteps)(optimizer)
        # each row's share of its batch's loss (the gradient autograd gives the batch mean's division); only
        # the last batch can be short
        counts = [size] * (len(labels) // size) + ([len(labels) % size] if len(labels) % size else [])
        scales = {count: self.batch_mean(torch.ones((), device=self.device), count) for count in set(counts)}
        loss_grads = backprop.loss_grads(labels, torch.cat([scales[count].expand(count) for count in counts]))
        logits, log_probs = [], []
        update.start(len(counts))
        step = backprop.step(update.params, update.grads)
        try:
            # nothing here is differentiated: inference mode skips autograd's bookkeeping in every operation
            with torch.inference_mode():
                for batch_rows, batch_loss_grad in zip(backprop.rows(images).split(size), loss_grads.split(size)):
                    batch_logits, batch_log_probs = step(batch_rows, batch_loss_grad)
                    update()
                    if scheduler is not None:
                        scheduler.step()
                    logits.append(batch_logits)
                    log_probs.append(batch_log_probs)
        finally:  # the parameters and the optimizer's state whole, whatever stops the call
            update.finish()
        progress = self._step_progress()
        for _ in logits:  # counted as Lightning counts eager steps: global_step, checkpoints, max_steps
            progress.increment_ready()
            progress.increment_completed()
        # the steps' losses summed at once: the training loss is reported, not trained on
        loss_sum = F.nll_loss(torch.cat(log_probs), labels[: len(logits) * size], reduction="sum")
        return loss_sum[None], torch.cat(logits)

    def _compiled_steps(self, images: Tensor, labels: Tensor, scheduler: Any) -> tuple[Tensor, Tensor]:
        """The optimizer steps on batches ``[groups, compiled_steps, batch, ...]``, a group per compiled call,
        written back into the module and the optimizer after the last."""
        optimizer = self.trainer.optimizers[0]
        settings = optimizer.param_groups[0]
        params = list(self.net.parameters())
        states = adam_state(optimizer)
        settings_each_step = []
        for _ in range(labels.shape[0] * labels.shape[1]):  # the schedule's rate (and one-cycle's momentum) at
            # each step, as eager stepping sees it
            settings_each_step.append([settings["lr"], *settings["betas"], settings["eps"], settings["weight_decay"]])
            if scheduler is not None:
                scheduler.step()
        hyper = step_hyperparameters(settings_each_step, int(states[0]["step"]) + 1)
        carried = ([p.detach() for p in params], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                   states[0]["step"])  # fmt: skip
        loss_sums, logits = [], []
        for group_images, group_labels, group_hyper in zip(
            images, labels, hyper.to(self.device).view(*labels.shape[:2], -1)
        ):
            if self.device.type == "cuda":  # each call a new step of the CUDA graph's replays
                torch.compiler.cudagraph_mark_step_begin()
            *carried, group_loss_sums, group_logits = self._compiled(*carried, group_images, group_labels, group_hyper)
            loss_sums.append(group_loss_sums.clone())  # a CUDA graph's next replay overwrites its outputs
            logits.append(group_logits.clone())
        new_params, exp_avgs, exp_avg_sqs, new_step = carried
        with torch.no_grad():
            for param, state, new, exp_avg, exp_avg_sq in zip(params, states, new_params, exp_avgs, exp_avg_sqs):
                param.copy_(new)
                state["exp_avg"].copy_(exp_avg)
                state["exp_avg_sq"].copy_(exp_avg_sq)
                state["step"].copy_(new_step)
        progress = self._step_progress()
        for _ in settings_each_step:  # counted as Lightning counts eager steps: global_step, checkpoints, max_steps
            progress.increment_ready()
            progress.increment_completed()
        return torch.cat(loss_sums), torch.cat(logits)

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

    def _step_progress(self) -> Any:
        """Where ``trainer.global_step`` reads the steps of manual optimization, for the steps made without
        Lightning's wrapper; ``tests/test_fast.py`` fails if Lightning counts elsewhere (the step count and
        the checkpoint's)."""
        return self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress

    def _bare_step(self) -> Callable[[Tensor], None]:
        """Backward and step directly, counted in ``trainer.global_step`` as Lightning's wrapper counts it."""
        optimizer, progress = self.trainer.optimizers[0], self._step_progress()

        def step(loss: Tensor) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.increment_ready()
            progress.increment_completed()

        return step


# the name of earlier versions
FastMLPClassifier = FastClassifier
