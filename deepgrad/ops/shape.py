"""Shape primitives: reshape, permute, expand, indexing, concatenation.

These move or select data without arithmetic; their backward passes move the
gradient back the same way (reshape back, inverse permutation, sum over the
expanded dimensions, scatter-add into the indexed places).
"""

from __future__ import annotations

import math

import numpy as np

from deepgrad.autograd.engine import sum_to_shape
from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, scatter_add


class Reshape(Function):
    """y = x viewed with a new shape (same elements, row-major order).   dx = dy reshaped back"""

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, dy):
        return dy.reshape(ctx.in_shape)


class Permute(Function):
    """y = x with its dimensions reordered by ``dims``.   dx = dy permuted by the inverse order"""

    @staticmethod
    def forward(ctx, x, dims=()):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, dy):
        return dy.permute(tuple(np.argsort(ctx.dims).tolist()))


class Expand(Function):
    """y = x broadcast to ``shape`` (a read-only view).   dx = dy summed over the broadcast dimensions"""

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.in_shape = x.shape
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, dy):
        return sum_to_shape(dy, ctx.in_shape)


class Index(Function):
    """y = x[index] (NumPy indexing rules).   dx = zeros like x with dx[index] += dy"""

    @staticmethod
    def forward(ctx, x, index=()):
        ctx.index, ctx.in_shape = index, x.shape
        return x[index]

    @staticmethod
    def backward(ctx, dy):
        return IndexPutAdd.apply(dy, shape=ctx.in_shape, index=ctx.index)


class IndexPutAdd(Function):
    """y = zeros(shape) with y[index] += v (repeated indices accumulate).   dv = dy[index]"""

    @staticmethod
    def forward(ctx, v, shape=(), index=()):
        ctx.index = index
        y = ctx.xp.zeros(shape, dtype=v.dtype)
        if is_basic_index(index):
            y[index] = v
        else:
            scatter_add(ctx.xp, y, index, v)
        return y

    @staticmethod
    def backward(ctx, dy):
        return Index.apply(dy, index=ctx.index)


class Cat(Function):
    """y = the inputs joined along ``dim``.   dx_i = the slice of dy that x_i filled"""

    @staticmethod
    def forward(ctx, *xs, dim=0):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        return ctx.xp.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, dy):
        grads = []
        start = 0
        lead = (slice(None),) * ctx.dim
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(dy[lead + (slice(start, start + size),)] if need else None)
            start += size
        return tuple(grads)


def is_basic_index(index: tuple) -> bool:
    """True when ``index`` holds only ints, slices, None and Ellipsis (no repeated positions)."""
    return all(
        item is None or item is Ellipsis or isinstance(item, (int, slice, np.integer))
        for item in index
    )


def _normalize_index(index, shape) -> tuple:
    """Tensors and lists inside an index become arrays; the result is always a tuple."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if isinstance(item, Tensor):
            item = item._data
        elif isinstance(item, list):
            item = np.asarray(item)
        if (
            hasattr(item, "dtype")
            and not isinstance(item, np.integer)
            and getattr(item, "ndim", 0) >= 0
        ) and item.dtype.kind not in "iub":
            raise IndexError(
                f"index: tensors used as indices must be integer or bool (got {item.dtype})"
            )
        out.append(item)
    return tuple(out)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with ints, slices (with steps), None, Ellipsis, bool masks and integer arrays."""
    index = _normalize_index(index, x.shape)
    try:
        return Index.apply(x, index=index)
    except IndexError as exc:
        raise IndexError(f"index: {exc} (tensor shape {x.shape})") from None


def reshape(x: Tensor, *shape) -> Tensor:
    """The same elements with a new shape; one dimension may be -1 (inferred)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if shape == x._data.shape:
        return x
    size = x._data.size
    known = math.prod(s for s in shape if s != -1)
    if (
        shape.count(-1) > 1
        or (-1 in shape and (known == 0 or size % known))
        or (-1 not in shape and known != size)
    ):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({size} elements) into {shape}; "
            "the number of elements must stay the same (at most one -1)."
        )
    return Reshape.apply(x, shape=shape)


def view(x: Tensor, *shape) -> Tensor:
    """``x.view(shape)``: the same memory with a new shape; raises where that needs a copy.

    A view exists when each run of new dimensions that splits or merges old ones falls inside a
    block of old dimensions laid out one after another in memory (as PyTorch decides it). A
    transposed or expanded tensor usually has no such view: then use ``reshape``, which copies.
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    array = x._data
    requested = tuple(int(s) for s in shape)
    known = math.prod(s for s in requested if s != -1)
    shape = tuple(array.size // known if s == -1 and known else s for s in requested)
    if array.ndim and array.size and math.prod(shape) == array.size:
        strides = tuple(s // array.itemsize for s in array.strides)
        if not _viewable(array.shape, strides, shape):
            raise RuntimeError(
                f"view: shape {shape} is not compatible with the input's size and stride (shape {x.shape}, "
                f"stride {strides}): at least one dimension spans across two contiguous subspaces; "
                "use .reshape(...) instead (it copies when it must), or call .contiguous() first."
            )
    return reshape(x, *requested)  # a view now (NumPy's reshape copies only where this check fails)


def _viewable(old_shape: tuple, old_strides: tuple, new_shape: tuple) -> bool:
    """Whether ``new_shape`` can be viewed on memory of ``old_shape`` and ``old_strides`` (elements).

    The old dimensions fall into chunks laid out one after another in memory (each stride is the
    next one's times its size; size-1 dimensions never break a chunk). Walking both shapes from
    the last dimension, the new dimensions must fill each chunk exactly.
    """
    new_d = len(new_shape) - 1
    chunk_numel = new_numel = 1
    base = old_strides[-1]  # the stride of the current chunk's innermost dimension
    for d in range(len(old_shape) - 1, -1, -1):
        chunk_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and old_strides[d - 1] != chunk_numel * base):
            while new_d >= 0 and (new_numel < chunk_numel or new_shape[new_d] == 1):
                new_numel *= new_shape[new_d]
                new_d -= 1
            if new_numel != chunk_numel:
                return False
            if d > 0:
                base = old_strides[d - 1]
                chunk_numel = new_numel = 1
    return new_d == -1


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder dimensions: ``permute(x, (2, 0, 1))``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    ndim = x._data.ndim
    if sorted(d % ndim for d in dims) != list(range(ndim)) if ndim else dims:
        raise ShapeError(
            f"permute: dims {dims} are not a permutation of the {ndim} dimensions of shape {x.shape}"
        )
    dims = tuple(d % ndim for d in dims)
    if dims == tuple(range(ndim)):
        return x
    return Permute.apply(x, dims=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    ndim = x._data.ndim
    if ndim == 0:
        return x
    dims = list(range(ndim))
    try:
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    except IndexError:
        raise ShapeError(
            f"transpose: dims ({dim0}, {dim1}) out of range for shape {x.shape}"
        ) from None
    return permute(x, tuple(dims))


def expand(x: Tensor, *shape) -> Tensor:
    """Broadcast to a larger shape without copying; -1 keeps a dimension."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    lead = len(shape) - x._data.ndim
    if lead < 0:
        raise ShapeError(f"expand: cannot expand shape {x.shape} to fewer dimensions {shape}")
    shape = tuple(x._data.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if shape == x._data.shape:
        return x
    for i, n in enumerate(x._data.shape):
        if n != 1 and n != shape[i + lead]:
            raise ShapeError(
                f"expand: shape {x.shape} cannot be expanded to {shape} (dimension {i}: {n})"
            )
    return Expand.apply(x, shape=shape)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    ndim = first._data.ndim
    if ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    if not -ndim <= dim < ndim:
        raise ShapeError(f"cat: dim {dim} out of range for {ndim}-dimensional tensors")
    dim %= ndim
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: element {i} is a {type(t).__name__}, not a Tensor")
        if t._data.ndim != ndim or any(
            a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != dim
        ):
            raise ShapeError(
                f"cat: tensor {i} has shape {t.shape} but tensor 0 has shape {first.shape}; "
                f"all sizes except dim {dim} must match."
            )
        if type(t._data) is not type(first._data):
            from deepgrad.backend import DeviceError

            raise DeviceError(
                f"cat: tensor {i} is on {t.device} but tensor 0 is on {first.device}; "
                f"move them to one device with .to(...) first (e.g. t.to('{first.device}'))."
            )
    dtype = np.result_type(*[t.dtype for t in tensors])
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    return Cat.apply(*tensors, dim=dim)
