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
from deepgrad.ops import creation as cr
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
        tensor([2.5])
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


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """round(x) to the nearest integer, ties to even (as PyTorch and NumPy); zero gradient.

    With ``decimals`` d: round(x * 10^d) / 10^d. Exact: f = floor(x), r = x - f (exact in
    floating point), and f + 1 when r > 1/2 or (r == 1/2 and f is odd).
    """
    if not input.is_floating_point():
        return input
    if decimals:
        scale = 10.0**decimals
        return round(input * scale) / scale
    x = input.detach()
    low = floor(x)
    rest = ew.where(ew.isfinite(x), x - ew.where(ew.isfinite(low), low, 0.0), 0.0)
    odd = ew.remainder(ew.where(ew.isfinite(low), low, 0.0), 2.0) == 1.0
    up = ew.logical_or(rest > 0.5, ew.logical_and(rest == 0.5, odd))
    out = low + ew.to_dtype(up, x.dtype)
    out = ew.where(
        out == 0, ew.where(ew.isfinite(x), x, 1.0) * 0.0, out
    )  # -0.5 rounds to -0.0, as in PyTorch
    return ew.where(ew.isfinite(input), out, input)


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by k * 90 degrees in the plane of ``dims``, from the first axis toward the second.

    k = 1: flip(dims[1]) then swap dims; k = 2: flip both; k = 3: flip(dims[0]) then swap.
    """
    if len(dims) != 2 or input.ndim < 2:
        raise ShapeError(
            f"rot90: needs 2 dims and a tensor of at least 2 dimensions (got dims {list(dims)}, "
            f"shape {input.shape}); pass dims=(0, 1) or similar."
        )
    d0, d1 = (d % input.ndim for d in dims)
    if d0 == d1:
        raise ShapeError(f"rot90: the two dims must differ (got {list(dims)}).")
    k %= 4
    if k == 1:
        return sh.transpose(cp.flip(input, d1), d0, d1)
    if k == 2:
        return cp.flip(input, (d0, d1))
    if k == 3:
        return sh.transpose(cp.flip(input, d0), d0, d1)
    return input


def take(input: Tensor, index: Tensor) -> Tensor:
    """out[i...] = x.flatten()[index[i...]]: the shape of ``index``; negative indices count back."""
    return sh.getitem(sh.reshape(input, -1), ix._index_array("take", index, input))


def tensordot(a: Tensor, b: Tensor, dims: int | tuple[Sequence[int], Sequence[int]] = 2) -> Tensor:
    """out[i..., j...] = sum_k a[i..., k...] b[k..., j...] over the dims paired by ``dims``.

    Args:
        dims: an int n pairs the last n dims of ``a`` with the first n of ``b``; a pair of
            lists pairs ``dims[0][i]`` of ``a`` with ``dims[1][i]`` of ``b``.
    """
    if isinstance(dims, int):
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da = [d % a.ndim for d in dims[0]]
        db = [d % b.ndim for d in dims[1]]
    if [a.shape[i] for i in da] != [b.shape[i] for i in db]:
        raise ShapeError(
            f"tensordot: the contracted sizes differ (got {[a.shape[i] for i in da]} and "
            f"{[b.shape[i] for i in db]}); check dims."
        )
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[i] for i in da)
    left = sh.reshape(sh.permute(a, free_a + da), -1, k)
    right = sh.reshape(sh.permute(b, db + free_b), k, -1)
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return sh.reshape(la.matmul(left, right), out_shape)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the non-zero elements, in row-major order (no gradient).

    Returns:
        an int64 tensor of shape (count, ndim); or, with ``as_tuple``, one 1-D tensor per dim.
    """
    xp = input.xp
    found = xp.nonzero(input._data if input.ndim else input._data.reshape(1))
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64), None) for i in found)
    if input.ndim == 0:  # one row of no coordinates when the scalar is non-zero
        return Tensor._make(xp.zeros((len(found[0]), 0), dtype=np.int64), None)
    return Tensor._make(xp.stack(found, axis=1).astype(np.int64), None)


def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero elements as a (count, ndim) int64 tensor: nonzero(x)."""
    out = nonzero(input)
    assert isinstance(out, Tensor)
    return out


def repeat_interleave(input: Tensor, repeats: int | Tensor, dim: int | None = None) -> Tensor:
    """Repeat each element (or slice along ``dim``) ``repeats`` times, next to itself.

    out = x[0] x[0] ... x[1] x[1] ...; ``repeats`` is an int or a 1-D tensor with one count per
    element. With ``dim`` None the input is flattened first.
    """
    if dim is None:
        input, dim = sh.reshape(input, -1), 0
    (d,) = rd.normalize_dims("repeat_interleave", dim, input.ndim)
    counts = repeats._data if isinstance(repeats, Tensor) else repeats
    if isinstance(repeats, Tensor) and repeats.numel() not in (1, input.shape[d]):
        raise ShapeError(
            f"repeat_interleave: repeats must have one count per slice along dim {d} "
            f"(got {repeats.numel()} counts for size {input.shape[d]}); pass an int or fix repeats."
        )
    index = input.xp.repeat(input.xp.arange(input.shape[d]), counts)
    return ix.index_select(input, d, Tensor._make(index, None))


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: np.dtype | str | None = None,
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """base ** linspace(start, end, steps): ``steps`` values spaced evenly on a log scale."""
    exponents = cr.linspace(start, end, steps, dtype=np.dtype("float64"), device=device)
    out = ew.to_dtype(ew.pow(base, exponents), np.dtype(dtype or "float32"))
    return out.requires_grad_(True) if requires_grad else out
