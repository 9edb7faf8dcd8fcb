"""Composite operations: written with primitives, so their gradients come for free.

Nothing here has a backward of its own (STYLE.md 3.2).
"""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd
from deepgrad.ops import shape as sh


def mean(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``: sum(x) / n."""
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fV":
        raise TypeError(f"mean: needs a floating-point tensor (got {x.dtype}); use x.float().mean()")
    dims = rd.normalize_dims("mean", dim, x._data.ndim)
    count = math.prod(x._data.shape[d] for d in dims)
    return rd.Sum.apply(x, dims=dims, keepdim=keepdim) * (1.0 / count if count else float("nan"))


def var(x: Tensor, dim=None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Variance: sum((x - mean)^2) / (n - correction)."""
    dims = rd.normalize_dims("var", dim, x._data.ndim)
    count = math.prod(x._data.shape[d] for d in dims)
    centered = x - mean(x, dims, keepdim=True)
    denom = max(count - correction, 0)
    return rd.Sum.apply(centered * centered, dims=dims, keepdim=keepdim) * (
        1.0 / denom if denom else float("nan")
    )


def std(x: Tensor, dim=None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Standard deviation: sqrt(var(x))."""
    return var(x, dim, correction=correction, keepdim=keepdim).sqrt()


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, shifted by the max so that large inputs do not overflow."""
    dims = rd.normalize_dims("logsumexp", dim, x._data.ndim)
    shift = rd.Amax.apply(x, dims=dims, keepdim=True).detach()
    shift = ew.where(ew.isfinite(shift), shift, 0.0)
    out = ew.exp(x - shift).sum(dim=dims, keepdim=True).log() + shift
    return out if keepdim else squeeze(out, dims)


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1)."""
    shape = x._data.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = rd.normalize_dims("squeeze", dim, x._data.ndim)
        new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
    return sh.reshape(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim``."""
    ndim = x._data.ndim
    if not -ndim - 1 <= dim <= ndim:
        raise ShapeError(f"unsqueeze: dim {dim} out of range for shape {x.shape} (allowed {-ndim - 1}..{ndim})")
    dim %= ndim + 1
    shape = x._data.shape
    return sh.reshape(x, shape[:dim] + (1,) + shape[dim:])


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one."""
    ndim = x._data.ndim
    if ndim == 0:
        return sh.reshape(x, (1,))
    start, end = start_dim % ndim, end_dim % ndim
    shape = x._data.shape
    return sh.reshape(x, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise ShapeError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {shape}; all must match")
    return sh.cat([unsqueeze(t, dim) for t in tensors], dim=dim)
