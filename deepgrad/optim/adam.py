"""Adam: adaptive moment estimation (with L2 weight decay folded into the gradient)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from deepgrad.backend import get_array_module
from deepgrad.backend.cuda_kernels import adam_update_
from deepgrad.backend.validation import boolean, non_negative_float
from deepgrad.optim.optimizer import Optimizer, check_betas, lerp_


class Adam(Optimizer):
    """Adam: steps from bias-corrected running averages of the gradient and its square.

    One step t = 1, 2, ... for each parameter p with gradient g::

        g ← -g if maximize;   g ← g + weight_decay·p        (L2 penalty: see the note below)
        m ← β1·m + (1 - β1)·g
        v ← β2·v + (1 - β2)·g²;   v_max ← max(v_max, v) and use v_max for v   (amsgrad)
        m̂ = m / (1 - β1^t);   v̂ = v / (1 - β2^t)
        p ← p - lr·m̂ / (sqrt(v̂) + eps)

    Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization"; amsgrad is Reddi, Kale &
    Kumar, 2018, "On the Convergence of Adam and Beyond". eps is added after the square root
    of the bias-corrected v (PyTorch's variant).

    Note: ``weight_decay`` here is an L2 penalty added to the *gradient*, so it is rescaled by
    sqrt(v̂) like any gradient and weights with large gradients barely decay. That is not the
    decoupled weight decay of AdamW (``p ← p - lr·weight_decay·p`` outside the adaptive step),
    which usually regularizes better: use :class:`AdamW` for it.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Default: 1e-3.
        betas: decay rates (β1, β2) of the first and second moment averages. Default: (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty coefficient, added to the gradient. Default: 0.
        amsgrad: use the running maximum of v (AMSGrad). Default: False.
        maximize: ascend the objective instead of descending it. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> w = dg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()          # the first step moves every coordinate by about lr
        >>> w
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        name = type(self).__name__
        for option in ("lr", "eps", "weight_decay"):
            non_negative_float(options[option], option, name)
        check_betas(name, options["betas"])
        boolean(options["amsgrad"], "amsgrad", name)
        boolean(options["maximize"], "maximize", name)

    def _init_state(self, param, group: dict) -> dict:
        state = {
            "step": 0,
            "exp_avg": self._zeros_state(param),
            "exp_avg_sq": self._zeros_state(param),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = self._zeros_state(param)
        return state

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        state["step"] += 1
        step = state["step"]
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        if self._decoupled_weight_decay:
            if weight_decay != 0:
                param *= 1.0 - lr * weight_decay
            g = self._regularized_grad(param, grad, 0.0, group["maximize"])
        else:
            g = self._regularized_grad(param, grad, weight_decay, group["maximize"])
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        if (
            group["amsgrad"] and "max_exp_avg_sq" not in state
        ):  # amsgrad switched on after the first step
            state["max_exp_avg_sq"] = self._zeros_state(param)
        max_sq = state["max_exp_avg_sq"]._data if group["amsgrad"] else None
        # On a GPU the whole update below is one kernel, generated from cuda_kernels.adam_lines;
        # tests/cuda/test_cuda_kernels.py checks that it computes what the NumPy body below does.
        if adam_update_(
            xp,
            param,
            g,
            exp_avg,
            exp_avg_sq,
            max_sq,
            beta1=beta1,
            beta2=beta2,
            lr=lr,
            step=step,
            eps=group["eps"],
        ):
            return
        scratch = self._scratch(param, 0)
        lerp_(xp, exp_avg, g, 1.0 - beta1, scratch)
        xp.multiply(g, g, out=scratch)
        scratch *= 1.0 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += scratch
        if max_sq is not None:
            second_moment = max_sq
            xp.maximum(second_moment, exp_avg_sq, out=second_moment)
        else:
            second_moment = exp_avg_sq
        step_size = lr / (1.0 - beta1**step)
        xp.sqrt(second_moment, out=scratch)
        scratch /= math.sqrt(1.0 - beta2**step)
        scratch += group["eps"]
        xp.divide(exp_avg, scratch, out=scratch)
        scratch *= -step_size
        param += scratch
