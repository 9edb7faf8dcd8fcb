"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from collections.abc import Iterable

from deepgrad.optim.adam import Adam


class AdamW(Adam):
    """AdamW: Adam whose weight decay shrinks the weights directly, outside the adaptive step.

    One step t = 1, 2, ... for each parameter p with gradient g::

        p ← p - lr·weight_decay·p                     (decoupled weight decay)
        m ← β1·m + (1 - β1)·g;   v ← β2·v + (1 - β2)·g²   (v_max ← max(v_max, v) if amsgrad)
        m̂ = m / (1 - β1^t);   v̂ = v / (1 - β2^t)
        p ← p - lr·m̂ / (sqrt(v̂) + eps)

    Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization". The decay is scaled by
    the (scheduled) lr, as in PyTorch, not by a separate schedule multiplier. The moment
    updates are those of :class:`Adam`; the only difference is where weight decay enters.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate. Default: 1e-3.
        betas: decay rates (β1, β2) of the moment averages. Default: (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: decoupled weight decay coefficient. Default: 1e-2.
        amsgrad: use the running maximum of v (AMSGrad). Default: False.
        maximize: ascend the objective instead of descending it. Default: False.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
