"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.backend import get_array_module
from deepgrad.backend.validation import boolean, non_negative_float
from deepgrad.optim.optimizer import Optimizer, check_betas, lerp_


class NAdam(Optimizer):
    """NAdam: Adam whose step looks ahead with Nesterov momentum, under a warming momentum schedule.

    One step t = 1, 2, ... for each parameter p with gradient g (Π is the running product of μ)::

        g ← -g if maximize;   g ← g + weight_decay·p   (or p ← p - lr·weight_decay·p if decoupled)
        μ_t = β1·(1 - 0.5·0.96^(t·momentum_decay));   Π_t = Π_(t-1)·μ_t
        m ← β1·m + (1 - β1)·g;   v ← β2·v + (1 - β2)·g²
        d = sqrt(v / (1 - β2^t)) + eps
        p ← p - lr·(1 - μ_t)/(1 - Π_t) · g/d - lr·μ_(t+1)/(1 - Π_t·μ_(t+1)) · m/d

    Dozat, 2016, "Incorporating Nesterov Momentum into Adam", with the momentum schedule of that
    paper (PyTorch's variant, ``momentum_decay`` = 0.004).

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Default: 2e-3.
        betas: decay rates (β1, β2) of the moment averages. Default: (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: weight decay coefficient (L2 in the gradient, unless decoupled). Default: 0.
        momentum_decay: how fast μ_t warms up towards β1. Default: 4e-3.
        decoupled_weight_decay: decay the weights directly, as AdamW does. Default: False.
        maximize: ascend the objective instead of descending it. Default: False.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        for option in ("lr", "eps", "weight_decay", "momentum_decay"):
            non_negative_float(options[option], option, "NAdam")
        check_betas("NAdam", options["betas"])
        boolean(options["decoupled_weight_decay"], "decoupled_weight_decay", "NAdam")
        boolean(options["maximize"], "maximize", "NAdam")

    def _init_state(self, param, group: dict) -> dict:
        return {
            "step": 0,
            "mu_product": 1.0,
            "exp_avg": self._zeros_state(param),
            "exp_avg_sq": self._zeros_state(param),
        }

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        state["step"] += 1
        step = state["step"]
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        if group["decoupled_weight_decay"]:
            if weight_decay != 0:
                param *= 1.0 - lr * weight_decay
            g = self._regularized_grad(param, grad, 0.0, group["maximize"])
        else:
            g = self._regularized_grad(param, grad, weight_decay, group["maximize"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        denom, quotient = self._scratch(param, 0), self._scratch(param, 2)
        lerp_(xp, exp_avg, g, 1.0 - beta1, denom)
        xp.multiply(g, g, out=denom)
        denom *= 1.0 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += denom
        xp.divide(exp_avg_sq, 1.0 - beta2**step, out=denom)
        xp.sqrt(denom, out=denom)
        denom += group["eps"]
        xp.divide(g, denom, out=quotient)
        quotient *= -lr * (1.0 - mu) / (1.0 - mu_product)
        param += quotient
        xp.divide(exp_avg, denom, out=quotient)
        quotient *= -lr * mu_next / (1.0 - mu_product * mu_next)
        param += quotient
