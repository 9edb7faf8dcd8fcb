"""Adagrad: per-coordinate learning rates scaled by the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.backend import get_array_module
from deepgrad.backend.validation import boolean, non_negative_float
from deepgrad.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step shrinks with the sum of its past squared gradients.

    One step t = 1, 2, ... for each parameter p with gradient g (s is the accumulator)::

        g ← -g if maximize;   g ← g + weight_decay·p
        lr_t = lr / (1 + (t - 1)·lr_decay)
        s ← s + g²
        p ← p - lr_t·g / (sqrt(s) + eps)

    Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization" (the diagonal variant, with PyTorch's ``lr_decay``).
    Rarely-updated coordinates keep large steps; the effective rate only ever decreases.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Default: 1e-2.
        lr_decay: learning-rate decay per step. Default: 0.
        weight_decay: L2 penalty coefficient, added to the gradient. Default: 0.
        initial_accumulator_value: starting value of s. Default: 0.
        eps: added to the denominator for numerical stability. Default: 1e-10.
        maximize: ascend the objective instead of descending it. Default: False.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        for option in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            non_negative_float(options[option], option, "Adagrad")
        boolean(options["maximize"], "maximize", "Adagrad")

    def _init_state(self, param, group: dict) -> dict:
        return {"step": 0, "sum": self._zeros_state(param, group["initial_accumulator_value"])}

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        state["step"] += 1
        g = self._regularized_grad(param, grad, group["weight_decay"], group["maximize"])
        lr_t = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]._data
        scratch = self._scratch(param, 0)
        xp.multiply(g, g, out=scratch)
        total += scratch
        xp.sqrt(total, out=scratch)
        scratch += group["eps"]
        xp.divide(g, scratch, out=scratch)
        scratch *= -lr_t
        param += scratch
