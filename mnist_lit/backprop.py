"""An MLP's cross-entropy gradients written out: the operations autograd's backward pass runs, unrecorded.

At batch 32 recording the graph and walking it back costs more than the textbook network's arithmetic
(``docs/benchmarks.md``). Each step below calls the ATen operation that autograd's formula for that
operation calls (``tools/autograd/derivatives.yaml`` in torch's source), on the same operands, so the loss,
the logits and the gradients are autograd's bit for bit; ``tests/test_backprop.py`` compares them with
``torch.equal`` and fails if a torch release changes a formula.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

# nll_loss's reduction argument, as ATen numbers it: none, one loss per row
NONE = 0
# nll_loss's default: no class is ignored
IGNORE_INDEX = -100
# ReLU's backward, which torch exposes only as an ATen operation (its overload looked up once)
THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward.default


def why_not_written_out(net: nn.Module) -> str | None:
    """Why :class:`MLPBackprop` cannot compute ``net``'s gradients, or None when it can: it takes an
    ``nn.Sequential`` of a ``Flatten`` into rows, then ``Linear`` layers with a ``ReLU`` between each two."""
    if not isinstance(net, nn.Sequential):
        return f"the network is a {type(net).__name__}, not an nn.Sequential of Flatten, Linear and ReLU"
    layers = [layer for layer in net if not isinstance(layer, nn.Identity | nn.Dropout) or getattr(layer, "p", 0)]
    if other := next((layer for layer in layers if not isinstance(layer, nn.Flatten | nn.Linear | nn.ReLU)), None):
        return f"the network has a {type(other).__name__} layer, whose gradient is not written out here"
    if not layers or not isinstance(layers[0], nn.Flatten) or (layers[0].start_dim, layers[0].end_dim) != (1, -1):
        return "the network does not start by flattening each image into a row"
    kinds = [type(layer) for layer in layers[1:]]
    if kinds != [nn.Linear, nn.ReLU] * (len(kinds) // 2) + [nn.Linear]:
        names = " → ".join(kind.__name__ for kind in kinds)
        return f"after Flatten the network runs {names}, not Linear layers with a ReLU between each two"
    if any(layer.bias is None for layer in layers[1::2]):
        return "a Linear layer has no bias"
    return None


class MLPBackprop:
    """The gradients of a batch's mean cross-entropy, with its logits and log-probabilities, for an MLP that
    :func:`why_not_written_out` accepts.

    It holds no parameters: :meth:`step` reads them from the tensors it is given and writes the gradients
    into the buffers it is given, so the caller decides where both live (:class:`mnist_lit.fast.FusedAdamSteps`
    keeps them in flat tensors that Adam's kernel updates in one pass).

    Args:
        standardize: What the classifier applies to the images before the network (no parameters).
        net: The network, for its layers: the parameters are passed to :meth:`step`.
    """

    def __init__(self, standardize: nn.Module, net: nn.Module) -> None:
        if (reason := why_not_written_out(net)) is not None:
            raise ValueError(f"Cannot write out this network's gradients: {reason}.")
        self.standardize = standardize
        self.classes = [layer for layer in net if isinstance(layer, nn.Linear)][-1].out_features

    def rows(self, images: Tensor) -> Tensor:
        """The first layer's input: ``images`` standardised and flattened into rows (any number of batches)."""
        return self.standardize(images).flatten(1)

    def loss_grads(self, labels: Tensor, scales: Tensor) -> Tensor:
        """The gradient of each batch's loss with respect to its log-probabilities, for any number of batches
        at once: a row's ``scales`` entry is its batch's ``1 / count``, as a tensor.

        nll_loss's backward formula reads only the labels and the scale (minus the scale at the label, zero
        elsewhere), so the rows of many batches are made in one call, the same numbers as batch by batch.
        """
        shape = (len(labels), self.classes)
        return torch.ops.aten.nll_loss_backward(
            scales, scales.new_empty(shape), labels, None, NONE, IGNORE_INDEX, scales.new_empty(())
        )

    def step(self, params: list[Tensor], grads: list[Tensor]) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """A function of one batch's ``(rows, loss_grad)`` that writes the gradients of its loss into ``grads``
        and returns ``(logits, log_probs)``.

        ``loss_grad`` is the batch's rows of :meth:`loss_grads`. ``params`` and ``grads`` hold each
        parameter's values and gradient buffer in the order of ``net.parameters()``, and stay where they are
        while the function is used (the caller updates them in place): the weights are transposed for
        ``addmm`` once, here, as ``F.linear`` would at each call. The summed loss is
        ``F.nll_loss(log_probs, labels, reduction="sum")``, for this batch or several at once.
        """
        weights, biases, weight_grads, bias_grads = params[0::2], params[1::2], grads[0::2], grads[1::2]
        layers = list(zip(biases, [weight.t() for weight in weights]))  # F.linear: addmm(bias, input, weight.t())
        backward = [(i, weight_grads[i], bias_grads[i], weights[i]) for i in range(len(weights) - 1, -1, -1)]

        def run(rows: Tensor, loss_grad: Tensor) -> tuple[Tensor, Tensor]:
            inputs, out = [], rows  # inputs: each Linear layer's
            for bias, weight_t in layers:
                inputs.append(out.relu_() if inputs else out)  # in place: the layer's output is not read again
                out = torch.addmm(bias, inputs[-1], weight_t)
            # cross_entropy: nll_loss of log_softmax
            log_probs = torch.log_softmax(out, 1)
            grad = torch._log_softmax_backward_data(loss_grad, log_probs, 1, log_probs.dtype)
            for i, weight_grad, bias_grad, weight in backward:
                # addmm's formulas: the bias sums the rows; weight.t() is column-major, so its gradient is
                # grad.t().mm(input) (mm_mat2_backward), and the input's (mm_mat1_backward) grad.mm(weight)
                torch.sum(grad, 0, out=bias_grad)
                torch.mm(grad.t(), inputs[i], out=weight_grad)
                if i:
                    # ReLU's formula reads its output, the layer's input
                    grad = THRESHOLD_BACKWARD(grad.mm(weight), inputs[i], 0)
            return out, log_probs

        return run
