"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.backend import get_array_module
from deepgrad.backend.validation import boolean, non_negative_float
from deepgrad.optim.optimizer import Optimizer, lerp_


class RMSprop(Optimizer):
    """RMSprop: steps scaled by an exponential average of squared gradients.

    One step for each parameter p with gradient g (v: mean square, ḡ: mean gradient, b: buffer)::

        g ← -g if maximize;   g ← g + weight_decay·p
        v ← alpha·v + (1 - alpha)·g²
        d = sqrt(v - ḡ²) + eps  with  ḡ ← alpha·ḡ + (1 - alpha)·g   (centered),  else  d = sqrt(v) + eps
        b ← momentum·b + g / d;   p ← p - lr·b                      (momentum > 0)
        p ← p - lr·g / d                                             (momentum = 0)

    Tieleman & Hinton, 2012, Lecture 6.5 of "Neural Networks for Machine Learning"; the
    centered form is Graves, 2013, "Generating Sequences With Recurrent Neural Networks".
    eps is added outside the square root (PyTorch's variant; TensorFlow adds it inside).

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Default: 1e-2.
        alpha: smoothing constant of the averages. Default: 0.99.
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty coefficient, added to the gradient. Default: 0.
        momentum: momentum factor. Default: 0.
        centered: normalize by the estimated variance instead of the second moment. Default: False.
        maximize: ascend the objective instead of descending it. Default: False.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        for option in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            non_negative_float(options[option], option, "RMSprop")
        boolean(options["centered"], "centered", "RMSprop")
        boolean(options["maximize"], "maximize", "RMSprop")

    def _init_state(self, param, group: dict) -> dict:
        state = {"step": 0, "square_avg": self._zeros_state(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = self._zeros_state(param)
        if group["centered"]:
            state["grad_avg"] = self._zeros_state(param)
        return state

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        state["step"] += 1
        alpha, lr = group["alpha"], group["lr"]
        g = self._regularized_grad(param, grad, group["weight_decay"], group["maximize"])
        square_avg = state["square_avg"]._data
        denom = self._scratch(param, 0)
        xp.multiply(g, g, out=denom)
        denom *= 1.0 - alpha
        square_avg *= alpha
        square_avg += denom
        if group["centered"]:
            if "grad_avg" not in state:  # centered switched on after the first step
                state["grad_avg"] = self._zeros_state(param)
            grad_avg = state["grad_avg"]._data
            lerp_(xp, grad_avg, g, 1.0 - alpha, denom)
            xp.multiply(grad_avg, grad_avg, out=denom)
            xp.subtract(square_avg, denom, out=denom)
            xp.sqrt(denom, out=denom)
        else:
            xp.sqrt(square_avg, out=denom)
        denom += group["eps"]
        if group["momentum"] > 0:
            if "momentum_buffer" not in state:  # momentum switched on after the first step
                state["momentum_buffer"] = self._zeros_state(param)
            buffer = state["momentum_buffer"]._data
            buffer *= group["momentum"]
            xp.divide(g, denom, out=denom)
            buffer += denom
            xp.multiply(buffer, -lr, out=denom)
        else:
            xp.divide(g, denom, out=denom)
            denom *= -lr
        param += denom
