"""Indexing along a dimension: gather, scatter(_add), index_select, index_add, masked_fill,
masked_scatter, one_hot, unfold, diagonal and diag.

All are composites of the indexing primitives in ``ops/shape.py``: ``Index`` (y = x[index],
whose backward scatter-adds, so repeated indices accumulate) and ``IndexPutAdd``.
"""

from __future__ import annotations

import numpy as np  # shape bookkeeping only

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, DTypeError, ShapeError
from deepgrad.backend.validation import non_negative_int, positive_int
from deepgrad.ops import composite as cp
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
        raise DTypeError(
            f"{name}: index must be an integer tensor (got {array.dtype}); use index.long()."
        )
    return array


def _along(x: Tensor, index, dim: int) -> tuple:
    """The NumPy index that picks x[i][j][index[i][j][k]] (for dim=2): index at ``dim``, grids elsewhere."""
    xp = x.xp
    grids = xp.ix_(*[xp.arange(n) for n in index.shape])
    return tuple(index if i == dim else grids[i] for i in range(index.ndim))


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j][k] = input[i][j][index[i][j][k]]`` for dim=2 (and likewise for other dims).

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
    if idx.ndim != input._data.ndim or any(
        i != d and m > n for i, (m, n) in enumerate(zip(idx.shape, input.shape))
    ):
        raise ShapeError(
            f"gather: index of shape {tuple(idx.shape)} does not fit input of shape {input.shape} along dim {dim}; "
            "index needs the same number of dimensions and no larger sizes outside dim."
        )
    return sh.Index.apply(input, index=_along(input, idx, d))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
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


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """out = input with ``out[i][j][index[i][j][k]] += src[i][j][k]`` for dim=2 (repeats accumulate).

    Gradients: d input = dy, d src = gather(dy, dim, index).
    """
    idx = _index_array("scatter_add", index, input)
    (d,) = rd.normalize_dims("scatter_add", dim, input._data.ndim)
    if (
        idx.ndim != input._data.ndim
        or idx.ndim != src._data.ndim
        or any(
            (i != d and m > n) or m > s
            for i, (m, n, s) in enumerate(zip(idx.shape, input.shape, src.shape))
        )
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


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
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


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where ``mask`` is true (mask broadcasts to input's shape).

    Example:
        >>> import deepgrad as dg
        >>> dg.tensor([1.0, 2.0, 3.0]).masked_fill(dg.tensor([True, False, True]), 0.0)
        tensor([0., 2., 0.])
    """
    m = mask._data if isinstance(mask, Tensor) else input.xp.asarray(mask)
    if m.dtype.kind != "b":
        raise DTypeError(
            f"masked_fill: mask must be a bool tensor (got {m.dtype}); use mask.bool() or x > 0."
        )
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
            raise ShapeError(
                f"masked_fill: value must be a number or a 0-d tensor (got shape {value.shape})"
            )
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
            raise ValueError(
                "one_hot: cannot infer num_classes from an empty tensor; pass num_classes"
            )
        num_classes = int(idx.max()) + 1
    elif idx.size and int(idx.max()) >= num_classes:
        raise ValueError(
            f"one_hot: class index {int(idx.max())} is out of range for num_classes={num_classes}; "
            "pass a larger num_classes or -1 to infer it."
        )
    classes = arange(num_classes, device=tensor.device)
    return ew.compare("eq", Tensor._make(idx[..., None], None), classes).long()


def _check_along(name: str, idx, input: Tensor, src_shape: tuple, d: int, dim: int) -> None:
    if (
        idx.ndim != input._data.ndim
        or idx.ndim != len(src_shape)
        or any(
            (i != d and m > n) or m > s
            for i, (m, n, s) in enumerate(zip(idx.shape, input.shape, src_shape))
        )
    ):
        raise ShapeError(
            f"{name}: index of shape {tuple(idx.shape)} does not fit input {input.shape} and src {src_shape} "
            f"along dim {dim}; index needs the same number of dimensions and sizes no larger than src's (and "
            "input's outside dim)."
        )


def scatter(input: Tensor, dim: int, index: Tensor, src) -> Tensor:
    """out = input with ``out[i][j][index[i][j][k]] = src[i][j][k]`` for dim=2 (``src`` a tensor or a number).

    Where several elements go to one place the last one (in row-major order) wins, and only it
    gets a gradient: d src = gather(dy, dim, index) at the winners, 0 elsewhere; d input = dy
    where nothing was written, 0 where something was.

    Example:
        >>> import deepgrad as dg
        >>> dg.zeros(2, 3).scatter(1, dg.tensor([[2], [0]]), dg.tensor([[1.0], [2.0]]))
        tensor([[0., 0., 1.],
                [2., 0., 0.]])
    """
    idx = _index_array("scatter", index, input)
    (d,) = rd.normalize_dims("scatter", dim, input._data.ndim)
    if not isinstance(src, Tensor):
        src = Tensor._make(input.xp.full(idx.shape, src, dtype=input.dtype), None)
    _check_along("scatter", idx, input, src.shape, d, dim)
    if src.shape != idx.shape:
        src = sh.getitem(src, tuple(slice(0, m) for m in idx.shape))
    if src.dtype != input.dtype:
        src = src.to(input.dtype)
    xp = input.xp
    along = _along(input, idx, d)
    targets = xp.ravel_multi_index(
        tuple(xp.broadcast_to(a, idx.shape) for a in along), input.shape
    ).reshape(-1)
    # The last write to each target wins: mark it, so that earlier writes add nothing.
    order = xp.argsort(targets, kind="stable")
    ordered = targets[order]
    last = xp.ones(ordered.shape, dtype=bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    winner = xp.zeros(targets.shape, dtype=bool)
    winner[order[last]] = True
    hit = xp.zeros(input._data.size, dtype=bool)
    hit[targets] = True
    placed = sh.IndexPutAdd.apply(
        ew.where(Tensor._make(winner.reshape(idx.shape), None), src, 0.0),
        shape=input.shape,
        index=along,
    )
    return ew.where(Tensor._make(hit.reshape(input.shape), None), placed, input)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """out = input with out[..., index[k], ...] += alpha * source[..., k, ...] along ``dim`` (repeats add up).

    Gradients: d input = dy, d source = alpha * index_select(dy, dim, index).

    Example:
        >>> import deepgrad as dg
        >>> dg.zeros(3).index_add(0, dg.tensor([0, 0, 2]), dg.tensor([1.0, 2.0, 5.0]))
        tensor([3., 0., 5.])
    """
    idx = _index_array("index_add", index, input)
    (d,) = rd.normalize_dims("index_add", dim, max(input._data.ndim, 1))
    expected = (
        input.shape[:d] + (idx.size,) + input.shape[d + 1 :] if input._data.ndim else (idx.size,)
    )
    if idx.ndim > 1 or (
        source.shape != expected and not (input._data.ndim == 0 and source.shape == ())
    ):
        raise ShapeError(
            f"index_add: source of shape {source.shape} and index of shape {tuple(idx.shape)} do not fit input "
            f"{input.shape} along dim {dim}; source needs input's shape with len(index) at dim."
        )
    if alpha != 1:
        source = ew.mul(source, alpha)
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    if input._data.ndim == 0:
        added = sh.IndexPutAdd.apply(sh.reshape(source, -1), shape=(1,), index=(idx.reshape(-1),))
        return ew.add(input, sh.reshape(added, ()))
    added = sh.IndexPutAdd.apply(
        source, shape=input.shape, index=(slice(None),) * d + (idx.reshape(-1),)
    )
    return ew.add(input, added)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """out = input with the elements where ``mask`` is true replaced, in row-major order, by the
    first elements of ``source`` (mask broadcasts to input's shape).

    Gradients: d input = dy where mask is false; d source = dy[mask] in its first mask.sum()
    elements (row-major), 0 in the rest.

    Example:
        >>> import deepgrad as dg
        >>> dg.zeros(4).masked_scatter(dg.tensor([True, False, True, False]), dg.tensor([1.0, 2.0, 3.0]))
        tensor([1., 0., 2., 0.])
    """
    m = mask._data if isinstance(mask, Tensor) else input.xp.asarray(mask)
    if m.dtype.kind != "b":
        raise DTypeError(
            f"masked_scatter: mask must be a bool tensor (got {m.dtype}); use mask.bool()."
        )
    try:
        m = input.xp.broadcast_to(m, input.shape)
    except ValueError:
        raise ShapeError(
            f"masked_scatter: mask of shape {tuple(m.shape)} does not broadcast to input of shape {input.shape}."
        ) from None
    count = int(m.sum())
    if source.numel() < count:
        raise ShapeError(
            f"masked_scatter: source has {source.numel()} elements but mask selects {count}; "
            "pass a source with at least as many elements as mask.sum()."
        )
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    taken = sh.getitem(sh.reshape(source, -1), slice(0, count))
    placed = sh.IndexPutAdd.apply(taken, shape=input.shape, index=input.xp.nonzero(m))
    return ew.where(Tensor._make(m, None), placed, input)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: every window of ``size`` elements along ``dimension``, ``step`` apart.

    out[..., w, ..., j] = input[..., w * step + j, ...]: dimension becomes the number of windows,
    (n - size) // step + 1, and a new last dimension of length ``size`` holds each window.
    Overlapping windows add their gradients.

    Example:
        >>> import deepgrad as dg
        >>> dg.arange(5).unfold(0, 2, 2)
        tensor([[0, 1],
                [2, 3]])
    """
    size = non_negative_int(size, "size", "unfold")
    step = positive_int(step, "step", "unfold")
    x = input if input._data.ndim else sh.reshape(input, 1)
    (d,) = rd.normalize_dims("unfold", dimension, x._data.ndim)
    n = x.shape[d]
    if size > n:
        raise ShapeError(
            f"unfold: size {size} is larger than dimension {dimension} of shape {input.shape}; pass a smaller size."
        )
    xp = x.xp
    windows = xp.arange(0, n - size + 1, step)[:, None] + xp.arange(size)
    out = sh.Index.apply(x, index=(slice(None),) * d + (windows,))
    out = cp.movedim(out, d + 1, -1)
    return out if input._data.ndim else sh.reshape(out, (size,))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """out[..., k] = input[..., k, k + offset] over dims ``dim1``, ``dim2`` (removed; the diagonal is last).

    offset > 0 is above the main diagonal, < 0 below. The gradient goes back to the diagonal.

    Example:
        >>> import deepgrad as dg
        >>> dg.diagonal(dg.tensor([[1, 2], [3, 4]]), 1)
        tensor([2])
    """
    return _diagonal(input, offset, dim1, dim2)


def _diagonal(input: Tensor, offset: int, dim1: int, dim2: int) -> Tensor:
    ndim = input._data.ndim
    d1, d2 = (rd.normalize_dims("diagonal", d, ndim)[0] for d in (dim1, dim2))
    if d1 == d2:
        raise ShapeError(
            f"diagonal: dim1 and dim2 must differ (got {dim1} and {dim2} for shape {input.shape})."
        )
    rest = [i for i in range(ndim) if i not in (d1, d2)]
    x = sh.permute(input, tuple(rest + [d1, d2]))
    rows, cols = x.shape[-2], x.shape[-1]
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    xp = x.xp
    k = xp.arange(length)
    return sh.Index.apply(x, index=(Ellipsis, k - min(offset, 0), k + max(offset, 0)))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input becomes a square matrix with it on diagonal ``diagonal``; a 2-D input gives that diagonal.

    Example:
        >>> import deepgrad as dg
        >>> dg.diag(dg.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    if input._data.ndim == 2:
        return _diagonal(input, diagonal, 0, 1)
    if input._data.ndim != 1:
        raise ShapeError(
            f"diag: input must be 1-D or 2-D (got shape {input.shape}); use diagonal or diag_embed."
        )
    n = input.shape[0] + abs(diagonal)
    k = input.xp.arange(input.shape[0])
    index = (k - min(diagonal, 0), k + max(diagonal, 0))
    return sh.IndexPutAdd.apply(input, shape=(n, n), index=index)
