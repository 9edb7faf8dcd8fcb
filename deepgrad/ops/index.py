"""Indexing along a dimension: gather, scatter_add, index_select, masked_fill, one_hot.

All are composites of the indexing primitives in ``ops/shape.py``: ``Index`` (y = x[index],
whose backward scatter-adds, so repeated indices accumulate) and ``IndexPutAdd``.
"""

from __future__ import annotations

import numpy as np  # shape bookkeeping only

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, DTypeError, ShapeError
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd
from deepgrad.ops import shape as sh
from deepgrad.ops.creation import arange


def _index_array(name: str, index, x: Tensor):
    array = index._data if isinstance(index, Tensor) else x.xp.asarray(index)
    if type(array) is not type(x._data):
        raise DeviceError(
            f"{name}: index is on {index.device} but the input is on {x.device}; "
            f"move the index with index.to('{x.device}') first."
        )
    if array.dtype.kind not in "iu":
        raise DTypeError(f"{name}: index must be an integer tensor (got {array.dtype}); use index.long().")
    return array


def _along(x: Tensor, index, dim: int) -> tuple:
    """The NumPy index that picks x[i][j][index[i][j][k]] (for dim=2): index at ``dim``, grids elsewhere."""
    xp = x.xp
    grids = xp.ix_(*[xp.arange(n) for n in index.shape])
    return tuple(index if i == dim else grids[i] for i in range(index.ndim))


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """out[i][j][k] = input[i][j][index[i][j][k]] for dim=2 (and likewise for other dims).

    ``index`` has the same number of dimensions as ``input`` and no larger sizes outside ``dim``.
    The gradient scatter-adds, so repeated indices accumulate.

    Example:
        >>> import deepgrad as dg
        >>> dg.gather(dg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, dg.tensor([[0, 0], [1, 0]]))
        tensor([[1., 1.],
                [4., 3.]])
    """
    idx = _index_array("gather", index, input)
    (d,) = rd.normalize_dims("gather", dim, input._data.ndim)
    if idx.ndim != input._data.ndim or any(i != d and m > n for i, (m, n) in enumerate(zip(idx.shape, input.shape))):
        raise ShapeError(
            f"gather: index of shape {tuple(idx.shape)} does not fit input of shape {input.shape} along dim {dim}; "
            "index needs the same number of dimensions and no larger sizes outside dim."
        )
    return sh.Index.apply(input, index=_along(input, idx, d))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """Pick elements of ``input`` along ``dim`` at ``indices``; both broadcast outside ``dim``.

    With ``dim=None`` both are flattened first. Used with ``argmax(..., keepdim=True)``.
    """
    idx = _index_array("take_along_dim", indices, input)
    if dim is None:
        return sh.Index.apply(sh.reshape(input, -1), index=(idx.reshape(-1),))
    (d,) = rd.normalize_dims("take_along_dim", dim, input._data.ndim)
    if idx.ndim != input._data.ndim:
        raise ShapeError(
            f"take_along_dim: indices of shape {tuple(idx.shape)} and input of shape {input.shape} need the same "
            "number of dimensions."
        )
    shape = [max(m, n) for m, n in zip(idx.shape, input.shape)]
    x_shape = tuple(n if i == d else shape[i] for i, n in enumerate(input.shape))
    i_shape = tuple(m if i == d else shape[i] for i, m in enumerate(idx.shape))
    if x_shape != input.shape:
        input = sh.expand(input, x_shape)
    if i_shape != idx.shape:
        idx = input.xp.broadcast_to(idx, i_shape)
    return sh.Index.apply(input, index=_along(input, idx, d))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """out = input with out[i][j][index[i][j][k]] += src[i][j][k] for dim=2 (repeats accumulate).

    Gradients: d input = dy, d src = gather(dy, dim, index).
    """
    idx = _index_array("scatter_add", index, input)
    (d,) = rd.normalize_dims("scatter_add", dim, input._data.ndim)
    if (
        idx.ndim != input._data.ndim
        or idx.ndim != src._data.ndim
        or any((i != d and m > n) or m > s for i, (m, n, s) in enumerate(zip(idx.shape, input.shape, src.shape)))
    ):
        raise ShapeError(
            f"scatter_add: index of shape {tuple(idx.shape)} does not fit input {input.shape} and src {src.shape} "
            f"along dim {dim}; index needs the same number of dimensions and sizes no larger than src's (and "
            "input's outside dim)."
        )
    if src.shape != idx.shape:
        src = sh.getitem(src, tuple(slice(0, m) for m in idx.shape))
    if src.dtype != input.dtype:
        src = src.to(input.dtype)
    added = sh.IndexPutAdd.apply(src, shape=input.shape, index=_along(input, idx, d))
    return ew.add(input, added)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of ``input`` at positions ``index`` (1-D) along ``dim``; repeats accumulate in backward.

    Example:
        >>> import deepgrad as dg
        >>> dg.index_select(dg.tensor([[1, 2], [3, 4], [5, 6]]), 0, dg.tensor([2, 0]))
        tensor([[5, 6],
                [1, 2]])
    """
    idx = _index_array("index_select", index, input)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D (got shape {tuple(idx.shape)})")
    (d,) = rd.normalize_dims("index_select", dim, input._data.ndim)
    if input._data.ndim == 0:
        return sh.Index.apply(sh.reshape(input, 1), index=(idx.reshape(-1),)).reshape(())
    return sh.Index.apply(input, index=(slice(None),) * d + (idx.reshape(-1),))


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002
    """``input`` with ``value`` where ``mask`` is true (mask broadcasts to input's shape).

    Example:
        >>> import deepgrad as dg
        >>> dg.tensor([1.0, 2.0, 3.0]).masked_fill(dg.tensor([True, False, True]), 0.0)
        tensor([0., 2., 0.])
    """
    m = mask._data if isinstance(mask, Tensor) else input.xp.asarray(mask)
    if m.dtype.kind != "b":
        raise DTypeError(f"masked_fill: mask must be a bool tensor (got {m.dtype}); use mask.bool() or x > 0.")
    if m.shape != input.shape:
        try:
            if np.broadcast_shapes(m.shape, input.shape) != input.shape:
                raise ValueError
        except ValueError:
            raise ShapeError(
                f"masked_fill: mask of shape {tuple(m.shape)} does not broadcast to input of shape {input.shape}"
            ) from None
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor (got shape {value.shape})")
        if value.dtype != input.dtype:
            value = value.to(input.dtype)
    out = ew.where(Tensor._make(m, None), value, input)
    return out if out.shape == input.shape else sh.expand(out, input.shape)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape (*, num_classes) with a 1 at each class index (no gradient).

    ``num_classes=-1`` takes the largest index + 1.

    Example:
        >>> import deepgrad as dg
        >>> dg.one_hot(dg.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    idx = _index_array("one_hot", tensor, tensor)
    if idx.size and int(idx.min()) < 0:
        raise ValueError(f"one_hot: class indices must be >= 0 (got min {int(idx.min())})")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(idx.max()) + 1
    elif idx.size and int(idx.max()) >= num_classes:
        raise ValueError(
            f"one_hot: class index {int(idx.max())} is out of range for num_classes={num_classes}; "
            "pass a larger num_classes or -1 to infer it."
        )
    classes = arange(num_classes, device=tensor.device)
    return ew.compare("eq", Tensor._make(idx[..., None], None), classes).long()
