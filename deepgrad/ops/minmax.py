"""max, min, argmax and argmin, with PyTorch's (values, indices) result over a dimension.

The values come from ``amax``/``amin`` (no ``dim``) or from gathering at the indices, so they
are differentiable; indices never are.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd
from deepgrad.ops.index import take_along_dim


class MinMax(tuple):
    """(values, indices), also readable as ``.values`` and ``.indices``."""

    def __new__(cls, values: Tensor, indices: Tensor) -> MinMax:
        return super().__new__(cls, (values, indices))

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]


def max(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | MinMax:
    """Largest element; with ``dim``, a (values, indices) pair like torch.max(x, dim).

    ``max(x, other_tensor)`` is the elementwise maximum.
    """
    if isinstance(dim, Tensor):
        return ew.maximum(x, dim)
    if dim is None:
        return rd.amax(x)
    return _with_indices(x, argmax(x, dim, keepdim=True), dim, keepdim)


def min(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | MinMax:
    """Smallest element; with ``dim``, a (values, indices) pair like torch.min(x, dim).

    ``min(x, other_tensor)`` is the elementwise minimum.
    """
    if isinstance(dim, Tensor):
        return ew.minimum(x, dim)
    if dim is None:
        return rd.amin(x)
    return _with_indices(x, argmin(x, dim, keepdim=True), dim, keepdim)


def _with_indices(x: Tensor, indices: Tensor, dim: int, keepdim: bool) -> MinMax:
    values = take_along_dim(x, indices, dim)
    if not keepdim:
        values, indices = cp.squeeze(values, dim), cp.squeeze(indices, dim)
    return MinMax(values, indices)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (over the flattened tensor when dim is None)."""
    return _arg(x, dim, keepdim, "argmax")


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (over the flattened tensor when dim is None)."""
    return _arg(x, dim, keepdim, "argmin")


def _arg(x: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    xp = x.xp
    fn = getattr(xp, name)
    if dim is None:
        out = xp.asarray(fn(x._data))
        if keepdim:
            out = out.reshape((1,) * x._data.ndim)
    else:
        (d,) = rd.normalize_dims(name, dim, x._data.ndim)
        out = fn(x._data, axis=d)
        if keepdim:
            out = xp.expand_dims(out, d)
    return Tensor._make(xp.asarray(out, dtype="int64"), None)
