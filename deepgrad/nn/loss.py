"""Loss layers: Modules that hold a loss's settings and call ``deepgrad.nn.functional``.

Every loss takes ``reduction``: 'mean' (the default), 'sum', or 'none' (one loss per element or
sample). Settings are checked when the loss is made, not at its first call. Class weights and
``pos_weight`` are buffers, so ``loss.to(device)`` moves them with the model.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.validation import non_negative_float, one_of, positive_float, probability
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module

__all__ = [
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "SmoothL1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "KLDivLoss",
    "GaussianNLLLoss",
]


class _Loss(Module):
    _reductions = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        one_of(reduction, self._reductions, "reduction", type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _optional_tensor(layer: str, arg: str, value) -> Tensor | None:
    if value is not None and not isinstance(value, Tensor):
        raise TypeError(f"{layer}: {arg} must be a Tensor or None (got {type(value).__name__}).")
    return value


class MSELoss(_Loss):
    """loss = (x - y)^2 per element, then the mean (or sum, or none) over elements.

    Args:
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Shape:
        input, target: the same shape -> a scalar (or that shape with 'none').

    Example:
        >>> import deepgrad as dg
        >>> MSELoss()(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 4.0]))
        tensor(2.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """loss = |x - y| per element, then reduced.

    Example:
        >>> import deepgrad as dg
        >>> L1Loss()(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 4.0]))
        tensor(1.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """loss = 0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), d = x - y.

    Quadratic near the target, linear far from it: robust to outliers.

    Args:
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        delta: where the loss turns linear, > 0. Default: 1.

    Example:
        >>> import deepgrad as dg
        >>> HuberLoss(reduction="none")(dg.tensor([0.5, 3.0]), dg.tensor([0.0, 0.0]))
        tensor([0.125, 2.5  ])
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        positive_float(delta, "delta", "HuberLoss")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """loss = 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, d = x - y (Huber loss / beta).

    Args:
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        beta: where the loss turns linear, >= 0 (0 gives L1Loss). Default: 1.

    Example:
        >>> import deepgrad as dg
        >>> SmoothL1Loss(reduction="none", beta=0.5)(dg.tensor([0.25, 3.0]), dg.tensor([0.0, 0.0]))
        tensor([0.0625, 2.75  ])
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        non_negative_float(beta, "beta", "SmoothL1Loss")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class BCELoss(_Loss):
    """loss = -w * (y log p + (1 - y) log(1 - p)) on probabilities p, logs clamped to >= -100.

    For raw scores (before the sigmoid), BCEWithLogitsLoss is exact where this one saturates.

    Args:
        weight: a rescaling weight broadcast to the input's shape, or None.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Shape:
        input: probabilities in [0, 1], any shape; target: the same shape.

    Example:
        >>> import deepgrad as dg
        >>> BCELoss()(dg.tensor([0.5]), dg.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor("BCELoss", "weight", weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """loss = -w * (pw * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) on logits x, computed stably.

    Args:
        weight: a rescaling weight broadcast to the input's shape, or None.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        pos_weight: weight of the positive term, one per class (broadcast along the last dim), or None.

    Example:
        >>> import deepgrad as dg
        >>> BCEWithLogitsLoss()(dg.tensor([0.0]), dg.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor("BCEWithLogitsLoss", "weight", weight))
        self.register_buffer(
            "pos_weight", _optional_tensor("BCEWithLogitsLoss", "pos_weight", pos_weight)
        )

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """loss_n = -w[t_n] * log softmax(x_n)[t_n]: the negative log-likelihood of the target class under
    the softmax of the logits, computed in one stable step.

    The mean divides by the summed weights of the non-ignored targets (PyTorch's weighted mean).
    Targets may also be class probabilities (a float tensor of the input's shape).

    Args:
        weight: one weight per class (C,), or None.
        ignore_index: a class index that contributes neither loss nor weight. Default: -100.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        label_smoothing: eps in [0, 1]; the target becomes (1 - eps) * target + eps / C. Default: 0.

    Shape:
        input: (N, C), (N, C, d1, ...) or (C,) logits; target: (N,), (N, d1, ...) or () class
        indices in [0, C), or probabilities of the input's shape -> a scalar (or (N, d1, ...) with 'none').

    Example:
        >>> import deepgrad as dg
        >>> CrossEntropyLoss()(dg.tensor([[0.0, 0.0]]), dg.tensor([1]))
        tensor(0.6931)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        probability(label_smoothing, "label_smoothing", "CrossEntropyLoss", closed=True)
        self.register_buffer("weight", _optional_tensor("CrossEntropyLoss", "weight", weight))
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_Loss):
    """loss_n = -w[t_n] * x[n, t_n] on log-probabilities x (the output of LogSoftmax).

    Args:
        weight: one weight per class (C,), or None.
        ignore_index: a class index that contributes neither loss nor weight. Default: -100.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Shape:
        input: (N, C), (N, C, d1, ...) or (C,); target: (N,), (N, d1, ...) or ().

    Example:
        >>> import deepgrad as dg
        >>> NLLLoss()(dg.tensor([[-1.0, -2.0]]), dg.tensor([1]))
        tensor(2.)
    """

    def __init__(
        self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor("NLLLoss", "weight", weight))
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class KLDivLoss(_Loss):
    """loss = y * (log y - x) per element: x = log q the model's log-probabilities, y the target
    probabilities (or log y with ``log_target``). With reduction='batchmean', KL(y || q) per sample.

    Args:
        reduction: 'mean' (over elements) | 'batchmean' | 'sum' | 'none'. Default: 'mean'.
        log_target: the target is given as log-probabilities. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> target = dg.tensor([[0.5, 0.5]])
        >>> KLDivLoss(reduction="batchmean")(target.log(), target)
        tensor(0.)
    """

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)


class GaussianNLLLoss(_Loss):
    """loss = 0.5 * (log max(var, eps) + (x - y)^2 / max(var, eps)) [+ 0.5 log(2 pi) when full]:
    the negative log-likelihood of the target under N(input, var).

    Args:
        full: add the constant 0.5 log(2 pi). Default: False.
        eps: the smallest variance used. Default: 1e-6.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Shape:
        input, target: the same shape; var: that shape, or with the last dimension 1 or dropped.

    Example:
        >>> import deepgrad as dg
        >>> GaussianNLLLoss()(dg.tensor([0.0]), dg.tensor([2.0]), dg.tensor([1.0]))
        tensor(2.)
    """

    def __init__(self, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        positive_float(eps, "eps", "GaussianNLLLoss")
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
