"""Helpers on parameters: gradient clipping, weight penalties, flat-vector views.

Example:
    >>> import deepgrad as dg
    >>> from deepgrad.nn import Linear
    >>> layer = Linear(3, 2)
    >>> layer(dg.ones(4, 3)).sum().backward()
    >>> norm = clip_grad_norm_(layer.parameters(), max_norm=1.0)   # gradients now have norm <= 1
    >>> float(parameters_to_vector(p.grad for p in layer.parameters()).pow(2).sum().sqrt()) <= 1.0 + 1e-5
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.ops.creation import tensor
from deepgrad.ops.shape import cat

Parameters = Tensor | Iterable[Tensor]


def _as_list(parameters: Parameters, name: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"{name}: item {i} is not a Tensor (got {type(p).__name__}); pass model.parameters()."
            )
    return params


def _grad_norm(arrays: list, xp, norm_type: float):
    """||g||_p of all gradients taken together, as a 0-d array (float64 accumulation)."""
    if norm_type == math.inf:
        return max(xp.abs(g).max() for g in arrays).astype("float64")
    if norm_type == 2.0:
        return xp.sqrt(sum(xp.vdot(g.ravel(), g.ravel()).astype("float64") for g in arrays))
    total = sum((xp.abs(g).astype("float64") ** norm_type).sum() for g in arrays)
    return total ** (1.0 / norm_type)


def clip_grad_norm_(
    parameters: Parameters,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Rescale gradients in place so that their joint norm is at most ``max_norm``.

    total = ||(g_1, ..., g_n)||_p;   if total > max_norm:  g_i <- g_i * max_norm / (total + 1e-6).

    Args:
        parameters: a tensor or an iterable of tensors (``model.parameters()``); those without
            a gradient are skipped.
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm (``float('inf')`` for the max norm). Default: 2.
        error_if_nonfinite: raise if the total norm is nan or inf. Default: False.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).
    """
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0 (got {max_norm})")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf (got {norm_type})")
    grads = [p.grad for p in _as_list(parameters, "clip_grad_norm_") if p.grad is not None]
    arrays = [g._data for g in grads if g._data.size]
    if not arrays:
        return tensor(0.0)
    xp = grads[0].xp
    total = _grad_norm(arrays, xp, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}; "
            "the loss probably diverged (lower the learning rate) or pass error_if_nonfinite=False."
        )
    coefficient = float(max_norm) / (float(total) + 1e-6)
    if coefficient < 1.0:
        with no_grad():
            for g in grads:
                g._data *= g._data.dtype.type(coefficient)
                g._version += 1
    return Tensor._make(xp.asarray(total, dtype=grads[0].dtype), None)


def clip_grad_value_(parameters: Parameters, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0 (got {clip_value})")
    for p in _as_list(parameters, "clip_grad_value_"):
        if p.grad is not None:
            p.xp.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)
            p.grad._version += 1


def l1_penalty(parameters: Parameters) -> Tensor:
    """Omega(theta) = sum_i sum |w_i|  (differentiable; add lambda * l1_penalty(...) to the loss).

    Pass the weights you want to regularize, e.g. ``[m.weight for m in model.modules() if
    isinstance(m, nn.Linear)]`` (biases are usually left out).
    """
    params = _as_list(parameters, "l1_penalty")
    if not params:
        raise ValueError(
            "l1_penalty: got no parameters; pass model.parameters() or a list of weights."
        )
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(parameters: Parameters) -> Tensor:
    """Omega(theta) = sum_i sum w_i^2  (differentiable; no 1/2 factor).

    ``loss + lambda * l2_penalty(ws)`` adds 2 * lambda * w to each gradient: SGD weight decay
    with decay 2 * lambda.
    """
    params = _as_list(parameters, "l2_penalty")
    if not params:
        raise ValueError(
            "l2_penalty: got no parameters; pass model.parameters() or a list of weights."
        )
    total = (params[0] * params[0]).sum()
    for p in params[1:]:
        total = total + (p * p).sum()
    return total


def parameters_to_vector(parameters: Parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    params = _as_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in params], dim=0)


def vector_to_parameters(vec: Tensor, parameters: Parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place (no graph)."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(
            f"vector_to_parameters: vec must be a 1-D Tensor (got {getattr(vec, 'shape', type(vec))})"
        )
    params = _as_list(parameters, "vector_to_parameters")
    needed = sum(p.numel() for p in params)
    if vec.numel() != needed:
        raise ShapeError(
            f"vector_to_parameters: vec has {vec.numel()} elements but the parameters hold {needed}; "
            "use the vector made by parameters_to_vector on the same parameters."
        )
    offset = 0
    data = vec._data
    for p in params:
        n = p.numel()
        if type(data) is not type(p._data):
            raise TypeError(
                f"vector_to_parameters: vec is on {vec.device} but a parameter is on {p.device}"
            )
        p._data[...] = data[offset : offset + n].reshape(p.shape)
        p._version += 1
        offset += n
