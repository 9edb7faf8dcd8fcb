"""Loss functions: regression (mse, l1, huber, smooth l1, Gaussian NLL), binary and multi-class
cross-entropy, negative log-likelihood and KL divergence.

Every loss takes ``reduction`` = 'mean' | 'sum' | 'none' as PyTorch (kl_div also 'batchmean').
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError, ShapeError, amp_state
from deepgrad.backend.validation import non_negative_float, one_of, positive_float, probability
from deepgrad.nn.functional._utils import (
    _REDUCTIONS,
    _check_same_device,
    _check_same_shape,
    _check_tensor,
    _reduce,
    _softplus,
)
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import shape as sh
from deepgrad.ops.autocast import FLOAT32, autocast_inputs
from deepgrad.ops.creation import full_like
from deepgrad.ops.fused import LogSoftmax, SoftmaxCrossEntropy, log_softmax

__all__ = [
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "kl_div",
    "gaussian_nll_loss",
]


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """loss = (x - y)^2 per element, then reduced ('mean' | 'sum' | 'none').

    Example:
        >>> import deepgrad as dg
        >>> mse_loss(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 4.0]))
        tensor(2.)
    """
    one_of(reduction, _REDUCTIONS, "reduction", "mse_loss")
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """loss = |x - y| per element, then reduced."""
    one_of(reduction, _REDUCTIONS, "reduction", "l1_loss")
    _check_same_shape("l1_loss", input, target)
    return _reduce(ew.abs(input - target), reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    """loss = 0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), d = x - y (Huber, 1964)."""
    one_of(reduction, _REDUCTIONS, "reduction", "huber_loss")
    _check_same_shape("huber_loss", input, target)
    delta = positive_float(delta, "delta", "huber_loss")
    diff = input - target
    size = ew.abs(diff)
    loss = ew.where(size < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """loss = 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, d = x - y (Girshick, 2015).

    Huber loss divided by beta; beta = 0 gives the L1 loss.
    """
    one_of(reduction, _REDUCTIONS, "reduction", "smooth_l1_loss")
    _check_same_shape("smooth_l1_loss", input, target)
    beta = non_negative_float(beta, "beta", "smooth_l1_loss", fix="beta = 0 is the L1 loss")
    diff = input - target
    size = ew.abs(diff)
    if beta == 0:
        return _reduce(size, reduction)
    loss = ew.where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction)


def _clamped_log(p: Tensor) -> Tensor:
    # PyTorch clamps log(p) at -100 so that p = 0 gives a finite loss. The log is taken of 1 where
    # p = 0, so the unused branch (and its gradient 1/p) stays finite: the gradient there is 0.
    positive = p > 0
    return ew.clamp(ew.where(positive, ew.log(ew.where(positive, p, 1.0)), -100.0), min=-100.0)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """loss = -w * (y log p + (1 - y) log(1 - p)) per element, logs clamped to >= -100 (as PyTorch).

    Args:
        input: probabilities p in [0, 1] (after a sigmoid), any shape.
        target: y in [0, 1], the same shape.
        weight: a rescaling weight broadcast to the input's shape, or None.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Example:
        >>> import deepgrad as dg
        >>> binary_cross_entropy(dg.tensor([0.0, 1.0]), dg.tensor([1.0, 1.0]))
        tensor(50.)
    """
    name = "binary_cross_entropy"
    one_of(reduction, _REDUCTIONS, "reduction", name)
    _check_same_shape(name, input, target)
    data = input._data
    # One reduction read back, so a GPU waits once per call; nan fails both comparisons.
    if data.size and not bool(((data >= 0.0) & (data <= 1.0)).all()):
        raise ValueError(
            f"{name}: input must hold probabilities in [0, 1] (got min {float(data.min())}, max "
            f"{float(data.max())}); apply sigmoid first, or use binary_cross_entropy_with_logits "
            "on the raw scores."
        )
    loss = -(target * _clamped_log(input) + (1.0 - target) * _clamped_log(1.0 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """loss = -w * (pw * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) per element, on logits x.

    Computed as (1 - y) x + (1 + (pw - 1) y) softplus(-x), which is exact for logits of any size
    (a sigmoid followed by binary_cross_entropy saturates at |x| ~ 17 in float32).

    Args:
        input: logits, any shape.
        target: y in [0, 1], the same shape.
        weight: a rescaling weight broadcast to the input's shape, or None.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        pos_weight: weight of the positive term, broadcast along the last dimension (one per class).

    Example:
        >>> import deepgrad as dg
        >>> x, y = dg.tensor([1000.0, -1000.0]), dg.tensor([1.0, 1.0])
        >>> binary_cross_entropy_with_logits(x, y, reduction="none")
        tensor([   0., 1000.])
    """
    name = "binary_cross_entropy_with_logits"
    one_of(reduction, _REDUCTIONS, "reduction", name)
    _check_same_shape(name, input, target)
    softplus_neg = _softplus(-input)
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        loss = (1.0 - target) * input + ((pos_weight - 1.0) * target + 1.0) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_targets(name: str, input: Tensor, target: Tensor, ignore_index: int) -> tuple:
    """Rows of scores (M, C) with the classes last, the class indices (M,), and the batch shape."""
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    if input.ndim == 0:
        raise ShapeError(f"{name}: input needs a class dimension (got a 0-d tensor).")
    if amp_state.active():
        (input,) = autocast_inputs(FLOAT32, input)
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    batch_shape = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != batch_shape:
        raise ShapeError(
            f"{name}: target of shape {target.shape} does not match input of shape {input.shape}; "
            f"class-index targets need shape {batch_shape} (the input without its class dimension "
            f"{class_dim})."
        )
    _check_same_device(name, input, target, "target")
    t = target._data
    if t.dtype.kind not in "iu":
        raise DTypeError(
            f"{name}: class-index targets must be integers (got {target.dtype}); use target.long()."
        )
    rows = (
        cp.movedim(input, class_dim, -1).reshape(-1, classes)
        if input.ndim > 2
        else input.reshape(-1, classes)
    )
    t = t.reshape(-1)
    valid = t != ignore_index
    # One reduction read back, so a GPU waits once per call (not for a masked copy, a min, a max).
    if t.size and bool((valid & ((t < 0) | (t >= classes))).any()):
        picked = t[valid]
        raise ValueError(
            f"{name}: target class indices must lie in [0, {classes}) for {classes} classes (got "
            f"min {int(picked.min())}, max {int(picked.max())}; ignore_index={ignore_index})."
        )
    return rows, t, valid, batch_shape, classes


def _class_weights(name: str, weight: Tensor | None, classes: int, t, valid, dtype):
    """Per-row weights: weight[t] (or 1), 0 where the target is ignored, as an array."""
    if weight is None:
        return valid.astype(dtype)
    if weight.shape != (classes,):
        raise ShapeError(
            f"{name}: weight must have shape ({classes},), one per class (got {weight.shape})."
        )
    xp = weight.xp
    return xp.where(valid, weight._data[xp.where(valid, t, 0)], 0).astype(dtype)


def _weighted_reduce(loss: Tensor, row_weights, reduction: str, batch_shape: tuple) -> Tensor:
    """PyTorch's weighted mean sum(w_n * loss_n) / sum(w_n); ``loss`` holds w_n * loss_n."""
    if reduction == "none":
        return loss.reshape(batch_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / Tensor._make(row_weights.sum(keepdims=True).reshape(()), None)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """loss_n = -w[t_n] * x[n, t_n] on log-probabilities x; the mean divides by sum_n w[t_n].

    Args:
        input: log-probabilities, (N, C), (N, C, d1, ...) or (C,).
        target: class indices, (N,), (N, d1, ...) or ().
        weight: one weight per class (C,), or None.
        ignore_index: a target value that contributes neither loss nor weight. Default: -100.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.

    Example:
        >>> import deepgrad as dg
        >>> nll_loss(dg.tensor([[-1.0, -2.0], [-3.0, -4.0]]), dg.tensor([1, 0]))
        tensor(2.5)
    """
    one_of(reduction, _REDUCTIONS, "reduction", "nll_loss")
    return _nll_loss_indices(input, target, weight, ignore_index, reduction)


def _nll_loss_indices(
    input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str
) -> Tensor:
    """nll_loss after its argument checks: the class indices are read on the host here, so
    ``deepgrad.compile`` runs this function as one eager node (deepgrad/compile/patches.py)."""
    name = "nll_loss"
    rows, t, valid, batch_shape, classes = _class_targets(name, input, target, ignore_index)
    xp = rows.xp
    row_weights = _class_weights(name, weight, classes, t, valid, rows.dtype)
    picked = sh.Index.apply(rows, index=(xp.arange(t.size), xp.where(valid, t, 0)))
    loss = -picked * Tensor._make(row_weights, None)
    return _weighted_reduce(loss, row_weights, reduction, batch_shape)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """loss_n = -w[t_n] * log softmax(x_n)[t_n]: softmax and negative log-likelihood in one step.

    With class indices t the mean divides by sum_n w[t_n] over non-ignored n (PyTorch's weighted
    mean). With class probabilities (a float target of the input's shape) the loss is
    -sum_c w_c y_c log softmax(x)_c and the mean divides by the number of rows. Label smoothing
    eps mixes the target with the uniform distribution: (1 - eps) * target + eps / C.

    Args:
        input: logits, (N, C), (N, C, d1, ...) or (C,). Stable for logits of +-1000.
        target: class indices (N,), (N, d1, ...) or (), or class probabilities of the input's shape.
        weight: one weight per class (C,), or None.
        ignore_index: a class index that contributes neither loss nor weight. Default: -100.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
        label_smoothing: eps in [0, 1]. Default: 0.

    Example:
        >>> import deepgrad as dg
        >>> cross_entropy(dg.tensor([[1000.0, -1000.0], [0.0, 0.0]]), dg.tensor([0, 1]))
        tensor(0.3466)
    """
    name = "cross_entropy"
    one_of(reduction, _REDUCTIONS, "reduction", name)
    probability(label_smoothing, "label_smoothing", name, closed=True)
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    if target.dtype.kind in "fV":
        return _cross_entropy_probabilities(
            input, target, weight, ignore_index, reduction, label_smoothing
        )
    return _cross_entropy_indices(input, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy_indices(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """cross_entropy with class-index targets: the fused softmax cross-entropy, or with label
    smoothing eps, (1 - eps) * nll + eps / C * sum_c -w_c log p_c."""
    name = "cross_entropy"
    rows, t, valid, batch_shape, classes = _class_targets(name, input, target, ignore_index)
    xp = rows.xp
    row_weights = _class_weights(name, weight, classes, t, valid, rows.dtype)
    safe_t = xp.where(valid, t, 0)
    if label_smoothing == 0:
        loss = SoftmaxCrossEntropy.apply(rows, target=safe_t)
        if weight is not None or not valid.all():
            loss = loss * Tensor._make(row_weights, None)
        return _weighted_reduce(loss, row_weights, reduction, batch_shape)
    # PyTorch's label smoothing with class indices: both terms reduced with the same weighted mean.
    log_probs = LogSoftmax.apply(rows, dim=1)
    nll = -sh.Index.apply(log_probs, index=(xp.arange(t.size), safe_t))
    smooth = log_probs if weight is None else log_probs * weight.detach()
    smooth = -smooth.sum(dim=1)
    loss = nll * Tensor._make(row_weights * (1.0 - label_smoothing), None) + smooth * Tensor._make(
        valid.astype(rows.dtype) * (label_smoothing / classes), None
    )
    return _weighted_reduce(loss, row_weights, reduction, batch_shape)


def _cross_entropy_probabilities(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """cross_entropy with class-probability targets: -sum_c w_c y_c log softmax(x)_c per row."""
    name = "cross_entropy"
    if target.shape != input.shape:
        raise ShapeError(
            f"{name}: probability targets must have the input's shape (got input {input.shape}, "
            f"target {target.shape}); for class indices pass an integer target."
        )
    if ignore_index != -100:
        raise ValueError(
            f"{name}: ignore_index (got {ignore_index}) applies only to class-index targets, not "
            "to class probabilities; give ignored rows zero probability instead."
        )
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    log_probs = log_softmax(input, dim=class_dim)
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    terms = log_probs * target
    if weight is not None:
        if weight.shape != (classes,):
            raise ShapeError(
                f"{name}: weight must have shape ({classes},), one per class (got {weight.shape})."
            )
        terms = terms * weight.reshape((classes,) + (1,) * (input.ndim - class_dim - 1))
    loss = -terms.sum(dim=class_dim)
    return _reduce(loss, reduction)


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """loss = y * (log y - x) per element, x = log q the input's log-probabilities, y the target
    probabilities (0 where y = 0); with ``log_target`` the target is log y: exp(log y) (log y - x).

    ``reduction='batchmean'`` divides the sum by the batch size, which is the KL divergence
    KL(y || q) per sample; 'mean' divides by the number of elements (as PyTorch).

    Example:
        >>> import deepgrad as dg
        >>> kl_div(dg.tensor([0.0, -1000.0]), dg.tensor([1.0, 0.0]), reduction="sum")
        tensor(0.)
    """
    name = "kl_div"
    one_of(reduction, _REDUCTIONS + ("batchmean",), "reduction", name)
    _check_same_shape(name, input, target)
    if log_target:
        loss = ew.exp(target) * (target - input)
    else:
        positive = target > 0
        loss = (
            ew.where(positive, target * ew.log(ew.where(positive, target, 1.0)), 0.0)
            - target * input
        )
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """loss = 0.5 * (log max(var, eps) + (x - y)^2 / max(var, eps)) [+ 0.5 log(2 pi) when full].

    The negative log-likelihood of y under N(x, var). The clamp to eps changes the value, not
    the gradient (as PyTorch).

    Args:
        input: the predicted means, any shape.
        target: the same shape.
        var: the predicted variances (>= 0): the input's shape, the input's shape with the last
            dimension 1 or dropped (one variance shared across it), or a number.
        full: add the constant 0.5 log(2 pi). Default: False.
        eps: the smallest variance used. Default: 1e-6.
        reduction: 'mean' | 'sum' | 'none'. Default: 'mean'.
    """
    name = "gaussian_nll_loss"
    one_of(reduction, _REDUCTIONS, "reduction", name)
    _check_same_shape(name, input, target)
    if not isinstance(var, Tensor):
        var = full_like(input, float(var))
    if var.shape != input.shape:
        if input.ndim and var.shape == input.shape[:-1]:
            var = cp.unsqueeze(var, -1)
        elif not (input.ndim and var.shape == input.shape[:-1] + (1,)):
            raise ShapeError(
                f"{name}: var of shape {var.shape} does not fit input of shape {input.shape}; use "
                "the input's shape, or the input's shape with the last dimension 1 or dropped."
            )
    if var._data.size and float(var._data.min()) < 0:
        raise ValueError(f"{name}: var must be >= 0 (got min {float(var._data.min())}).")
    var = var + (ew.clamp(var, min=eps) - var).detach()
    diff = input - target
    loss = (ew.log(var) + diff * diff / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2.0 * math.pi)
    return _reduce(loss, reduction)
