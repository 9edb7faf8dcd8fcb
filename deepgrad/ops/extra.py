"""More PyTorch functions (issue 11), each written with existing ops so gradients come for free.

Nothing here has a backward of its own (STYLE.md 3.2): every function is a composite of
primitives from elementwise, reduce, shape, index and linalg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import index as ix
from deepgrad.ops import linalg as la
from deepgrad.ops import reduce as rd
from deepgrad.ops import shape as sh

Number = int | float
Dims = int | Sequence[int] | None

# -- elementwise --------------------------------------------------------------------------------


def tan(input: Tensor) -> Tensor:
    """tan(x) = sin(x) / cos(x).

    Example:
        >>> import deepgrad as dg
        >>> dg.tan(dg.tensor([0.0]))
        tensor([0.])
    """
    return ew.sin(input) / ew.cos(input)


def sinh(input: Tensor) -> Tensor:
    """sinh(x) = (exp(x) - exp(-x)) / 2.

    Example:
        >>> import deepgrad as dg
        >>> dg.sinh(dg.tensor([0.0]))
        tensor([0.])
    """
    return (ew.exp(input) - ew.exp(-input)) * 0.5


def cosh(input: Tensor) -> Tensor:
    """cosh(x) = (exp(x) + exp(-x)) / 2.

    Example:
        >>> import deepgrad as dg
        >>> dg.cosh(dg.tensor([0.0]))
        tensor([1.])
    """
    return (ew.exp(input) + ew.exp(-input)) * 0.5


def log10(input: Tensor) -> Tensor:
    """log10(x) = ln(x) / ln(10).

    Example:
        >>> import deepgrad as dg
        >>> dg.log10(dg.tensor([100.0]))
        tensor([2.])
    """
    return ew.log(input) * (1.0 / math.log(10.0))


def exp2(input: Tensor) -> Tensor:
    """exp2(x) = 2^x = exp(x ln 2).

    Example:
        >>> import deepgrad as dg
        >>> dg.exp2(dg.tensor([3.0]))
        tensor([8.])
    """
    return ew.exp(input * math.log(2.0))


def logaddexp(input: Tensor, other: Tensor | Number) -> Tensor:
    """logaddexp(a, b) = log(exp(a) + exp(b)) = max(a, b) + log1p(exp(-|a - b|)), which never overflows.

    Args:
        input, other: broadcastable tensors (``other`` may be a number).

    Example:
        >>> import deepgrad as dg
        >>> dg.logaddexp(dg.tensor([0.0]), dg.tensor([0.0]))
        tensor([0.6931])
    """
    a, b = ew.binary("logaddexp", input, other)
    return ew.maximum(a, b) + ew.log1p(ew.exp(-ew.abs(a - b)))


def hypot(input: Tensor, other: Tensor | Number) -> Tensor:
    """hypot(a, b) = sqrt(a^2 + b^2), elementwise with broadcasting.

    Example:
        >>> import deepgrad as dg
        >>> dg.hypot(dg.tensor([3.0]), dg.tensor([4.0]))
        tensor([5.])
    """
    a, b = ew.binary("hypot", input, other)
    return ew.sqrt(a * a + b * b)


def lerp(input: Tensor, end: Tensor, weight: Tensor | Number) -> Tensor:
    """lerp(start, end, w) = start + w * (end - start), elementwise with broadcasting.

    Example:
        >>> import deepgrad as dg
        >>> dg.lerp(dg.tensor([0.0]), dg.tensor([10.0]), 0.25)
        tensor([2.5000])
    """
    return input + (end - input) * weight


# -- queries ------------------------------------------------------------------------------------


def numel(input: Tensor) -> int:
    """The number of elements: the product of the shape."""
    return input.numel()


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a deepgrad Tensor (or a subclass, such as Parameter)."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    """Whether the dtype is a floating-point one (float16, float32, float64)."""
    return input.is_floating_point()


def get_default_dtype() -> np.dtype:
    """The dtype of floating-point tensors made from Python floats: always ``deepgrad.float32``.

    deepgrad has no ``set_default_dtype``; pass ``dtype=`` where float64 is wanted.
    """
    return np.dtype("float32")


# -- linear algebra -----------------------------------------------------------------------------


def _check_1d(name: str, a: Tensor, b: Tensor) -> None:
    if a.ndim != 1 or b.ndim != 1 or a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"{name}: needs two 1-D tensors of the same length (got shapes {a.shape} and "
            f"{b.shape}); use matmul or inner for other shapes."
        )


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """dot(a, b) = sum_i a_i b_i, for two 1-D tensors of the same length.

    Example:
        >>> import deepgrad as dg
        >>> dg.dot(dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0]))
        tensor(11.)
    """
    _check_1d("dot", input, tensor)
    return rd.sum(input * tensor)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """outer(a, b)_ij = a_i b_j, for two 1-D tensors.

    Shape:
        (n,), (m,) -> (n, m).
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(
            f"outer: needs two 1-D tensors (got shapes {input.shape} and {vec2.shape}); "
            "flatten them first."
        )
    return sh.reshape(input, -1, 1) * sh.reshape(vec2, 1, -1)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """inner(a, b)[i..., j...] = sum_k a[i..., k] b[j..., k]; a 0-d operand multiplies.

    Shape:
        (*A, k), (*B, k) -> (*A, *B).
    """
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    k = input.shape[-1]
    if other.shape[-1] != k:
        raise ShapeError(
            f"inner: the last dimensions must match (got shapes {input.shape} and "
            f"{other.shape}); transpose one operand so they do."
        )
    out = la.matmul(sh.reshape(input, -1, k), sh.transpose(sh.reshape(other, -1, k), 0, 1))
    return sh.reshape(out, tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


def trace(input: Tensor) -> Tensor:
    """trace(A) = sum_i A_ii, for a 2-D tensor (not necessarily square)."""
    if input.ndim != 2:
        raise ShapeError(f"trace: needs a 2-D tensor (got shape {input.shape}); use diagonal.")
    return rd.sum(ix.diagonal(input))


# -- shape --------------------------------------------------------------------------------------


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """Swap two dimensions: the NumPy name for ``transpose``."""
    return sh.transpose(input, axis0, axis1)


def t(input: Tensor) -> Tensor:
    """The transpose of a 2-d tensor; a 0-d or 1-d tensor is returned as it is."""
    if input.ndim > 2:
        raise ShapeError(
            f"t: needs a tensor of at most 2 dimensions (got shape {input.shape}); "
            "use transpose or mT."
        )
    return input.t()


def fliplr(input: Tensor) -> Tensor:
    """Reverse dimension 1 (left/right): out[i, j] = x[i, n - 1 - j]."""
    if input.ndim < 2:
        raise ShapeError(f"fliplr: needs at least 2 dimensions (got shape {input.shape}).")
    return cp.flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    """Reverse dimension 0 (up/down): out[i] = x[n - 1 - i]."""
    if input.ndim < 1:
        raise ShapeError(f"flipud: needs at least 1 dimension (got shape {input.shape}).")
    return cp.flip(input, 0)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dimension 1, or along 0 when the inputs are 1-D (0-d ones become 1-D)."""
    parts = [sh.reshape(x, 1) if x.ndim == 0 else x for x in tensors]
    return sh.cat(parts, 0 if parts and parts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dimension 0 after making every input at least 2-D ((n,) -> (1, n))."""
    parts = [sh.reshape(x, 1, -1) if x.ndim < 2 else x for x in tensors]
    return sh.cat(parts, 0)


# -- reductions that skip NaN -------------------------------------------------------------------


def nansum(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """nansum(x) = sum of x over ``dim``, treating NaN as 0 (NaNs get a zero gradient)."""
    return rd.sum(ew.where(ew.isnan(input), 0.0, input), dim, keepdim=keepdim)


def nanmean(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """nanmean(x) = nansum(x) / (number of non-NaN elements) over ``dim``."""
    if not input.is_floating_point():
        raise TypeError(
            f"nanmean: needs a floating-point tensor (got {input.dtype}); use x.float()."
        )
    valid = ew.logical_not(ew.isnan(input))
    count = rd.sum(ew.to_dtype(valid, input.dtype), dim, keepdim=keepdim)
    return nansum(input, dim, keepdim=keepdim) / count


# -- rounding (zero gradient, like PyTorch) -----------------------------------------------------


def floor(input: Tensor) -> Tensor:
    """floor(x) = the largest integer <= x; ±inf and NaN pass through.

    The gradient is zero for finite x (as in PyTorch); integer tensors are returned unchanged.
    """
    if not input.is_floating_point():
        return input
    finite = ew.isfinite(input)
    floored = ew.floor_divide(ew.where(finite, input.detach(), 0.0), 1.0)
    return ew.where(finite, floored, input)


def ceil(input: Tensor) -> Tensor:
    """ceil(x) = -floor(-x), the smallest integer >= x (zero gradient for finite x)."""
    return -floor(-input) if input.is_floating_point() else input


def trunc(input: Tensor) -> Tensor:
    """trunc(x) = floor(x) for x >= 0, ceil(x) for x < 0: rounds toward zero (zero gradient)."""
    if not input.is_floating_point():
        return input
    return ew.where(input < 0, ceil(input), floor(input))


def frac(input: Tensor) -> Tensor:
    """frac(x) = x - trunc(x), the fractional part with the sign of x (gradient 1)."""
    if not input.is_floating_point():
        raise TypeError(f"frac: needs a floating-point tensor (got {input.dtype}); use x.float().")
    return input - trunc(input).detach()


# -- more shapes and reductions -----------------------------------------------------------------


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dimension 2 after making every input at least 3-D.

    (n,) becomes (1, n, 1) and (m, n) becomes (m, n, 1), as in PyTorch.
    """
    parts = []
    for x in tensors:
        if x.ndim == 0:
            x = sh.reshape(x, 1, 1, 1)
        elif x.ndim == 1:
            x = sh.reshape(x, 1, -1, 1)
        elif x.ndim == 2:
            x = cp.unsqueeze(x, 2)
        parts.append(x)
    return sh.cat(parts, 2)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product: out[i * m + k, ...] = a[i, ...] * b[k, ...], dimension by dimension.

    Shape:
        (a_0, ..., a_n), (b_0, ..., b_n) -> (a_0 b_0, ..., a_n b_n); the operand with fewer
        dimensions is padded with leading 1s.
    """
    nd = max(input.ndim, other.ndim)
    a = sh.reshape(input, (1,) * (nd - input.ndim) + tuple(input.shape))
    b = sh.reshape(other, (1,) * (nd - other.ndim) + tuple(other.shape))
    # interleave: a as (a_0, 1, a_1, 1, ...), b as (1, b_0, 1, b_1, ...), multiply, merge pairs
    a_shape = tuple(s for d in a.shape for s in (d, 1))
    b_shape = tuple(s for d in b.shape for s in (1, d))
    out = sh.reshape(a, a_shape) * sh.reshape(b, b_shape)
    return sh.reshape(out, tuple(p * q for p, q in zip(a.shape, b.shape, strict=True)))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where the boolean ``mask`` is True, as a 1-D tensor.

    ``input`` and ``mask`` broadcast together; the order is row-major.
    """
    if mask.dtype != np.dtype(bool):
        raise TypeError(
            f"masked_select: mask must be a bool tensor (got {mask.dtype}); use mask.bool()."
        )
    shape = np.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    return sh.getitem(sh.expand(input, shape), sh.expand(mask, shape))


def count_nonzero(input: Tensor, dim: Dims = None) -> Tensor:
    """The number of elements != 0 over ``dim`` (all of them when None), as int64 (no gradient)."""
    return rd.sum(input.detach() != 0, dim)


def var_mean(
    input: Tensor, dim: Dims = None, *, correction: int = 1, keepdim: bool = False
) -> tuple[Tensor, Tensor]:
    """(var(x), mean(x)) over ``dim``: var = sum((x - mean)^2) / (n - correction)."""
    return (
        cp.var(input, dim, correction=correction, keepdim=keepdim),
        cp.mean(input, dim, keepdim=keepdim),
    )


def std_mean(
    input: Tensor, dim: Dims = None, *, correction: int = 1, keepdim: bool = False
) -> tuple[Tensor, Tensor]:
    """(std(x), mean(x)) over ``dim``: std = sqrt(sum((x - mean)^2) / (n - correction))."""
    return (
        cp.std(input, dim, correction=correction, keepdim=keepdim),
        cp.mean(input, dim, keepdim=keepdim),
    )
