"""Reduction primitives: sum and the extrema; mean, var, logsumexp ... are composites.

``dim`` is an int, a tuple of ints or None (all dimensions); ``keepdim`` keeps
reduced dimensions with size 1, as in PyTorch.
"""

from __future__ import annotations

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.ops.elementwise import where


def normalize_dims(name: str, dim, ndim: int) -> tuple:
    """``dim`` (None, int or sequence) -> a sorted tuple of non-negative axes, or a clear error."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, int):
            raise TypeError(f"{name}: dim must be an int or a tuple of ints (got {dim!r})")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ShapeError(
                f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions "
                f"(allowed {-max(ndim, 1)}..{max(ndim, 1) - 1})"
            )
        out.append(d % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dim {dim} repeats a dimension")
    return tuple(sorted(out)) if ndim else ()


def _expand_back(dy: Tensor, ctx) -> Tensor:
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    if not ctx.keepdim and ctx.dims:
        shape = list(ctx.in_shape)
        for d in ctx.dims:
            shape[d] = 1
        dy = dy.reshape(tuple(shape))
    return dy


class Sum(Function):
    """y = sum of x over dims.   dx = dy broadcast back to x's shape"""

    @staticmethod
    def forward(ctx, x, dims=(), keepdim=False):
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, x.shape
        return x.sum(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, dy):
        return _expand_back(dy, ctx).expand(ctx.in_shape)


class Amax(Function):
    """y = max of x over dims.   dx = dy * [x == y] / (number of maxima)  (ties share the gradient)"""

    @staticmethod
    def forward(ctx, x, dims=(), keepdim=False):
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, x.shape
        ctx.save_inputs(0)
        ctx.save_outputs()
        return x.max(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, dy):
        return _extremum_backward(ctx, dy)


class Amin(Function):
    """y = min of x over dims.   dx = dy * [x == y] / (number of minima)  (ties share the gradient)"""

    @staticmethod
    def forward(ctx, x, dims=(), keepdim=False):
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, x.shape
        ctx.save_inputs(0)
        ctx.save_outputs()
        return x.min(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, dy):
        return _extremum_backward(ctx, dy)


def _extremum_backward(ctx, dy: Tensor) -> Tensor:
    (x,) = ctx.saved_inputs
    (y,) = ctx.saved_outputs
    hits = (x == _expand_back(y, ctx)).to(dy.dtype)
    count = hits.sum(dim=ctx.dims, keepdim=True)
    return hits * (_expand_back(dy, ctx) / count)


def sum(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dimensions when None)."""
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "bu" or (x._data.dtype.kind == "i" and x._data.dtype.itemsize < 8):
        x = x.to("int64")  # PyTorch sums bools and small ints as int64
    return Sum.apply(x, dims=normalize_dims("sum", dim, x._data.ndim), keepdim=keepdim)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (gradient shared among ties)."""
    _check_nonempty("amax", x, dim)
    return Amax.apply(x, dims=normalize_dims("amax", dim, x._data.ndim), keepdim=keepdim)


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim`` (gradient shared among ties)."""
    _check_nonempty("amin", x, dim)
    return Amin.apply(x, dims=normalize_dims("amin", dim, x._data.ndim), keepdim=keepdim)


def _check_nonempty(name, x, dim):
    if x._data.size == 0:
        raise ShapeError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")


class Prod(Function):
    """y = product of x over dims.   dx = dy * (product of the other elements), exact when x has zeros"""

    @staticmethod
    def forward(ctx, x, dims=(), keepdim=False):
        ctx.dims, ctx.keepdim, ctx.in_shape = dims, keepdim, x.shape
        ctx.save_inputs(0)
        ctx.save_outputs()
        # y / x is the product of the others only where x != 0; remember whether the slow,
        # exact path is needed so the common case stays one division.
        ctx.has_zero = bool((x == 0).any())
        return x.prod(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        (y,) = ctx.saved_outputs
        dy, y = _expand_back(dy, ctx), _expand_back(y, ctx)
        if not ctx.has_zero:
            return dy * y / x
        zero = x == 0
        safe = where(zero, 1.0, x)
        # A slice with exactly one zero: that element gets the product of the others, the rest 0.
        # Two or more zeros: every gradient is 0. No zeros: y / x.
        others = Prod.apply(safe, dims=ctx.dims, keepdim=True)
        count = zero.sum(dim=ctx.dims, keepdim=True)
        return dy * where(zero, others * (count == 1), y / safe)


class Cumsum(Function):
    """y_i = x_0 + ... + x_i along dim.   dx = dy summed from the end: flip(cumsum(flip(dy)))"""

    @staticmethod
    def forward(ctx, x, dim=0):
        ctx.dim = dim
        return ctx.xp.cumsum(x, axis=dim)

    @staticmethod
    def backward(ctx, dy):
        index = (slice(None),) * ctx.dim + (slice(None, None, -1),)
        return Cumsum.apply(dy[index], dim=ctx.dim)[index]


class All(Function):
    """y = every element of x over dims is true (nonzero).   (no gradient)"""

    differentiable = False

    @staticmethod
    def forward(ctx, x, dims=(), keepdim=False):
        return x.all(axis=dims, keepdims=keepdim)


class Any(Function):
    """y = some element of x over dims is true (nonzero).   (no gradient)"""

    differentiable = False

    @staticmethod
    def forward(ctx, x, dims=(), keepdim=False):
        return x.any(axis=dims, keepdims=keepdim)


def prod(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Product over ``dim`` (all dimensions when None); the gradient is exact where x has zeros.

    Example:
        >>> import deepgrad as dg
        >>> dg.tensor([[1.0, 2.0], [3.0, 0.0]]).prod(dim=1)
        tensor([2., 0.])
    """
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "bu" or (x._data.dtype.kind == "i" and x._data.dtype.itemsize < 8):
        x = x.to("int64")  # like PyTorch
    return Prod.apply(x, dims=normalize_dims("prod", dim, x._data.ndim), keepdim=keepdim)


def cumsum(x: Tensor, dim: int, dtype=None) -> Tensor:
    """Running sum along ``dim``: y_i = x_0 + ... + x_i.

    Example:
        >>> import deepgrad as dg
        >>> dg.tensor([1, 2, 3]).cumsum(0)
        tensor([1, 3, 6])
    """
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "bu" or (x._data.dtype.kind == "i" and x._data.dtype.itemsize < 8):
        x = x.to("int64")
    if x._data.ndim == 0:
        normalize_dims("cumsum", dim, 0)
        return Cumsum.apply(x.reshape(1), dim=0).reshape(())
    (d,) = normalize_dims("cumsum", dim, x._data.ndim)
    return Cumsum.apply(x, dim=d)


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where every element over ``dim`` is nonzero (bool result, no gradient)."""
    return All.apply(x, dims=normalize_dims("all", dim, x._data.ndim), keepdim=keepdim)


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where some element over ``dim`` is nonzero (bool result, no gradient)."""
    return Any.apply(x, dims=normalize_dims("any", dim, x._data.ndim), keepdim=keepdim)
