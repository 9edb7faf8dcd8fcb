"""SGD: stochastic gradient descent with momentum (heavy ball or Nesterov) and L2 weight decay."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import get_array_module
from deepgrad.backend.validation import boolean, non_negative_float
from deepgrad.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, Nesterov momentum and weight decay.

    One step, for each parameter p with gradient g (b is the momentum buffer)::

        g ← -g if maximize;   g ← g + weight_decay·p
        b ← g at the first step, else b ← momentum·b + (1 - dampening)·g     (momentum > 0)
        g ← g + momentum·b if nesterov, else g ← b                          (momentum > 0)
        p ← p - lr·g

    This is PyTorch's variant (Sutskever et al., 2013, "On the importance of initialization and
    momentum in deep learning", written with the learning rate outside the buffer), so the
    buffer holds a velocity in gradient units and changing ``lr`` mid-run takes effect at once.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Required: there is no rate that suits every problem.
        momentum: momentum factor. Default: 0 (plain SGD).
        dampening: dampening of the gradient added to the buffer. Default: 0.
        weight_decay: L2 penalty coefficient, added to the gradient. Default: 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0). Default: False.
        maximize: ascend the objective instead of descending it. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> w = dg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8, -1.6], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        for option in ("lr", "momentum", "dampening", "weight_decay"):
            non_negative_float(options[option], option, "SGD")
        boolean(options["nesterov"], "nesterov", "SGD")
        boolean(options["maximize"], "maximize", "SGD")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                "SGD: nesterov=True needs momentum > 0 and dampening = 0 "
                f"(got momentum={options['momentum']}, dampening={options['dampening']}); "
                "set momentum (e.g. 0.9) or turn nesterov off."
            )

    def _update(self, param, grad, state: dict, group: dict) -> None:
        xp = get_array_module(param)
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        g = self._regularized_grad(param, grad, group["weight_decay"], group["maximize"])
        scratch = self._scratch(param, 0)
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor._make(g.copy(), None)
                buffer = state["momentum_buffer"]._data
            else:
                buffer = state["momentum_buffer"]._data
                buffer *= momentum
                if dampening == 0:
                    buffer += g
                else:
                    xp.multiply(g, 1.0 - dampening, out=scratch)
                    buffer += scratch
            if group["nesterov"]:
                xp.multiply(buffer, momentum, out=scratch)
                g = xp.add(g, scratch, out=scratch)
            else:
                g = buffer
        xp.multiply(g, -lr, out=scratch)
        param += scratch
