"""Sorting along a dimension: sort, argsort and topk, with PyTorch's (values, indices) results.

The order is found on the raw array (a stable sort, so equal elements keep their order); the
values are then gathered at it with ``take_along_dim``, so they are differentiable (the
gradient goes back to the positions they came from) and indices never are. NaN counts as the
largest value, as in PyTorch: last in an ascending sort, first in a descending one.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.validation import non_negative_int
from deepgrad.ops import composite as cp
from deepgrad.ops import reduce as rd
from deepgrad.ops.index import take_along_dim
from deepgrad.ops.minmax import MinMax


def _order(x: Tensor, dim: int, descending: bool) -> Any:
    """The stable sorting permutation of ``x`` along ``dim`` (an int64 array)."""
    xp = x.xp
    a = x._data
    if a.dtype.kind in "biu":
        a = a.astype(xp.int64)  # so that -a reverses the order of bools and unsigned ints too
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    order = xp.argsort(-a, axis=dim, kind="stable")
    if a.dtype.kind in "fV" and bool(xp.isnan(a).any()):
        # -nan is nan, which a sort puts last; NaN is the largest value, so it goes first here.
        not_nan = ~xp.isnan(xp.take_along_axis(a, order, axis=dim))
        order = xp.take_along_axis(order, xp.argsort(not_nan, axis=dim, kind="stable"), axis=dim)
    return order


def _sorted(name: str, x: Tensor, dim: int, descending: bool, k: int | None = None) -> MinMax:
    if x._data.ndim == 0:
        (d,) = rd.normalize_dims(name, dim, 1)
        values, indices = _sorted(name, cp.unsqueeze(x, 0), d, descending, k)
        return MinMax(cp.squeeze(values, 0), cp.squeeze(indices, 0))
    (d,) = rd.normalize_dims(name, dim, x._data.ndim)
    order = _order(x, d, descending)
    if k is not None:
        order = order[(slice(None),) * d + (slice(0, k),)]
    indices = Tensor._make(order.astype(x.xp.int64, copy=False), None)
    return MinMax(take_along_dim(x, indices, d), indices)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> MinMax:
    """(values, indices): ``input`` sorted along ``dim``, and where each value came from.

    values = take_along_dim(input, indices, dim); the gradient goes back through the indices.
    The sort is always stable (equal elements keep their order), so ``stable=`` changes nothing.

    Args:
        input: the tensor to sort.
        dim: the dimension to sort along. Default: -1.
        descending: largest first. Default: False.
        stable: accepted for PyTorch compatibility; every deepgrad sort is stable.

    Returns:
        A (values, indices) tuple, also readable as ``.values`` and ``.indices`` (int64).

    Example:
        >>> import deepgrad as dg
        >>> dg.sort(dg.tensor([3.0, 1.0, 2.0])).indices
        tensor([1, 2, 0])
    """
    return _sorted("sort", input, dim, descending)


def argsort(
    input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False
) -> Tensor:
    """The int64 indices that sort ``input`` along ``dim`` (``sort(...).indices``; always stable).

    Example:
        >>> import deepgrad as dg
        >>> dg.argsort(dg.tensor([[3, 1, 3]]), descending=True)
        tensor([[0, 2, 1]])
    """
    return _sorted("argsort", input, dim, descending).indices


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> MinMax:
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``.

    values = take_along_dim(input, indices, dim); the gradient goes to the selected positions.
    The result is always sorted (``sorted=False`` allows any order in PyTorch); among equal
    elements the first one wins.

    Args:
        input: the tensor.
        k: how many elements to keep, 0 <= k <= input.size(dim).
        dim: the dimension to select along. Default: -1.
        largest: the largest elements (True) or the smallest (False). Default: True.
        sorted: accepted for PyTorch compatibility; the result is always sorted.

    Returns:
        A (values, indices) tuple, also readable as ``.values`` and ``.indices``; size k along dim.

    Example:
        >>> import deepgrad as dg
        >>> dg.topk(dg.tensor([1.0, 5.0, 3.0, 4.0]), 2)
        (tensor([5., 4.]), tensor([1, 3]))
    """
    k = non_negative_int(k, "k", "topk")
    size = (
        input._data.shape[rd.normalize_dims("topk", dim, input._data.ndim)[0]]
        if input._data.ndim
        else 1
    )
    if k > size:
        raise ValueError(
            f"topk: k must be at most the size of dim {dim} (got k={k}, shape {input.shape}); "
            "pass a smaller k."
        )
    return _sorted("topk", input, dim, largest, k)
