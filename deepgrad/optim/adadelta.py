"""Adadelta: per-coordinate steps scaled by running averages of past steps and gradients."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.backend import get_array_module
from deepgrad.optim.optimizer import Optimizer, check_bool, check_fraction, check_nonnegative


class Adadelta(Optimizer):
    """Adadelta: steps scaled by RMS(past steps) / RMS(past gradients), with no global rate to tune.

    One step for each parameter p with gradient g (v: mean square of gradients, u: mean square
    of steps; both start at 0)::

        g ← -g if maximize;   g ← g + weight_decay·p
        v ← rho·v + (1 - rho)·g²
        Δ = sqrt(u + eps) / sqrt(v + eps) · g
        u ← rho·u + (1 - rho)·Δ²
        p ← p - lr·Δ

    Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method". The ratio of the two RMS values
    gives Δ the units of p (the paper's "correct units" argument), so the paper has no learning
    rate (``lr=1``); ``lr`` scales the step as in PyTorch, whose variant this is (eps inside
    both square roots). State: ``square_avg`` (v) and ``acc_delta`` (u), as PyTorch names them.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: factor applied to Δ before it is subtracted. Default: 1.0.
        rho: decay rate of both running averages. Default: 0.9.
        eps: added inside both square roots; it also sets the size of the first steps
            (sqrt(eps) / sqrt(v + eps)), so larger eps starts faster. Default: 1e-6.
        weight_decay: L2 penalty coefficient, added to the gradient. Default: 0.
        maximize: ascend the objective instead of descending it. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> w = dg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adadelta([w], lr=1.0, eps=1e-2)
        >>> (w * w).sum().backward()
        >>> opt.step()          # Δ = sqrt(eps) / sqrt(0.1·g² + eps) · g ≈ 0.31·sign(g) here
        >>> w
        tensor([ 0.6877, -1.6848], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ):
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        for option in ("lr", "eps", "weight_decay"):
            check_nonnegative("Adadelta", option, options[option])
        # rho = 1 would freeze both averages at their initial zeros: every step would be 0.
        check_fraction("Adadelta", "rho", options["rho"])
        check_bool("Adadelta", "maximize", options["maximize"])

    def _init_state(self, param, group: dict) -> dict:
        return {
            "step": 0,
            "square_avg": self._zeros_state(param),
            "acc_delta": self._zeros_state(param),
        }

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        g = self._regularized_grad(param, grad, group["weight_decay"], group["maximize"])
        square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
        std = self._scratch(param, 0)
        delta = self._scratch(param, 2)
        xp.multiply(g, g, out=std)
        std *= 1.0 - rho
        square_avg *= rho
        square_avg += std
        xp.add(square_avg, eps, out=std)
        xp.sqrt(std, out=std)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        xp.multiply(delta, delta, out=std)
        std *= 1.0 - rho
        acc_delta *= rho
        acc_delta += std
        delta *= -group["lr"]
        param += delta
