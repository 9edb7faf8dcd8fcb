"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.backend import get_array_module
from deepgrad.backend.validation import boolean, non_negative_float
from deepgrad.optim.optimizer import Optimizer, check_betas, lerp_


class Adamax(Optimizer):
    """Adamax: Adam's first moment divided by an exponentially weighted infinity norm.

    One step t = 1, 2, ... for each parameter p with gradient g::

        g ← -g if maximize;   g ← g + weight_decay·p
        m ← β1·m + (1 - β1)·g
        u ← max(β2·u, |g| + eps)
        p ← p - lr / (1 - β1^t) · m / u

    Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", section 7.1. eps is added to
    |g| inside the maximum (PyTorch's variant), which keeps u > 0 from the first step.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Default: 2e-3.
        betas: decay rates (β1, β2) of the first moment and of the norm. Default: (0.9, 0.999).
        eps: added to |g| for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty coefficient, added to the gradient. Default: 0.
        maximize: ascend the objective instead of descending it. Default: False.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        for option in ("lr", "eps", "weight_decay"):
            non_negative_float(options[option], option, "Adamax")
        check_betas("Adamax", options["betas"])
        boolean(options["maximize"], "maximize", "Adamax")

    def _init_state(self, param, group: dict) -> dict:
        return {"step": 0, "exp_avg": self._zeros_state(param), "exp_inf": self._zeros_state(param)}

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        g = self._regularized_grad(param, grad, group["weight_decay"], group["maximize"])
        exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
        scratch = self._scratch(param, 0)
        lerp_(xp, exp_avg, g, 1.0 - beta1, scratch)
        exp_inf *= beta2
        xp.abs(g, out=scratch)
        scratch += group["eps"]
        xp.maximum(exp_inf, scratch, out=exp_inf)
        step_size = group["lr"] / (1.0 - beta1 ** state["step"])
        xp.divide(exp_avg, exp_inf, out=scratch)
        scratch *= -step_size
        param += scratch
