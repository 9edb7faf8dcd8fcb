"""Op-table entries for the tensor surface of issue 11 (collected by op_db.all_specs): sort,
argsort, topk, diag / diagonal, unfold, cumprod, baddbmm, scatter, index_add, masked_scatter,
contiguous and view.

The NumPy references are written independently of the deepgrad code: sorting by np.sort /
np.argsort, scatter and masked_scatter as explicit loops, unfold with sliding_window_view.
"""

from __future__ import annotations

import numpy as np
from op_db import OpSpec, case

import deepgrad as dg


def _np_sort(a, dim=-1, descending=False):
    if a.ndim == 0:
        return a, np.array(0)
    order = np.argsort(-a if descending else a, axis=dim, kind="stable")
    return np.take_along_axis(a, order, dim), order


def _np_topk(a, k, dim=-1, largest=True):
    values, order = _np_sort(a, dim, largest)
    keep = (slice(None),) * (dim % a.ndim) + (slice(0, k),)
    return values[keep], order[keep]


def _np_unfold(a, dimension, size, step):
    windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=dimension)
    return windows[(slice(None),) * (dimension % a.ndim) + (slice(None, None, step),)]


def _np_cumprod(a, dim):
    return np.cumprod(a, axis=dim)


def _np_scatter(a, src, dim, index):
    out = a.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] = src[pos]  # later positions overwrite earlier ones
    return out


def _np_index_add(a, source, dim, index, alpha=1):
    out = np.moveaxis(a.copy(), dim, 0)
    moved = np.moveaxis(source, dim, 0)
    for k, i in enumerate(index):
        out[i] += alpha * moved[k]
    return np.moveaxis(out, 0, dim)


def _np_masked_scatter(a, source, mask):
    out = a.copy()
    flat_mask = np.broadcast_to(mask, a.shape).reshape(-1)
    flat_out, flat_source = out.reshape(-1), source.reshape(-1)
    taken = 0
    for i in range(flat_out.size):
        if flat_mask[i]:
            flat_out[i] = flat_source[taken]
            taken += 1
    return out


def _with_zeros(arrays, case):
    arrays[0].reshape(-1)[::4] = 0.0  # zeros make cumprod's gradient a special case
    return arrays


def _index(array):
    return lambda t: dg.tensor(array, device=t.device)


SORTS = [
    case((3, 5)),
    case((3, 5), dim=0, descending=True),
    case((2, 3, 4), dim=1),
    case((6,), descending=True),
]

OPS = [
    OpSpec(
        "sort",
        lambda a, **kw: tuple(dg.sort(a, **kw)),
        _np_sort,
        SORTS + [case(())],
        distinct=True,
        covers=("Index",),
    ),
    OpSpec(
        "argsort",
        lambda a, **kw: a.argsort(**kw),
        lambda a, **kw: _np_sort(a, **kw)[1],
        SORTS,
        distinct=True,
        differentiable=False,
    ),
    OpSpec(
        "topk",
        lambda a, k, **kw: tuple(a.topk(k, **kw)),
        _np_topk,
        [
            case((3, 5), k=2),
            case((4, 3), k=3, dim=0, largest=False),
            case((5,), k=0),
            case((2, 3, 4), k=1, dim=1),
        ],
        distinct=True,
        covers=("Index",),
    ),
    OpSpec(
        "diagonal",
        lambda a, **kw: a.diagonal(**kw),
        lambda a, offset=0, dim1=0, dim2=1: np.diagonal(a, offset, dim1, dim2),
        [
            case((3, 4)),
            case((3, 4), offset=2),
            case((4, 3), offset=-1),
            case((2, 3, 4), dim1=2, dim2=0, offset=1),
        ],
        covers=("Index", "Permute"),
    ),
    OpSpec(
        "diag",
        lambda a, diagonal=0: dg.diag(a, diagonal),
        lambda a, diagonal=0: np.diag(a, diagonal),
        [case((3,)), case((3,), diagonal=-2), case((3, 4), diagonal=1), case((0,))],
        covers=("IndexPutAdd", "Index"),
    ),
    OpSpec(
        "unfold",
        lambda a, **kw: a.unfold(**kw),
        _np_unfold,
        [
            case((7,), dimension=0, size=3, step=2),
            case((3, 5), dimension=1, size=2, step=1),
            case((4, 3, 2), dimension=0, size=4, step=3),
        ],
        covers=("Index", "Permute"),
    ),
    OpSpec(
        "cumprod",
        lambda a, dim: a.cumprod(dim),
        _np_cumprod,
        [case((3, 4), dim=1), case((4, 3), dim=0), case((5,), dim=0), case((2, 1), dim=1)],
        prepare=_with_zeros,
        covers=("Mul", "Cat", "Index"),
    ),
    OpSpec(
        "baddbmm",
        lambda c, a, b, **kw: dg.baddbmm(c, a, b, **kw),
        lambda c, a, b, beta=1, alpha=1: (beta * c if beta else 0) + alpha * (a @ b),
        [
            case((2, 3, 4), (2, 3, 5), (2, 5, 4)),
            case((3, 1), (2, 3, 2), (2, 2, 1), beta=0.5, alpha=-2.0),
            case((1, 2, 2), (1, 2, 3), (1, 3, 2), beta=0),
        ],
        covers=("MatMul", "Mul", "Add"),
    ),
    OpSpec(
        "scatter",
        lambda a, src, dim, index: a.scatter(dim, dg.tensor(index, device=a.device), src),
        _np_scatter,
        [
            case(
                (3, 4), (3, 2), dim=1, index=np.array([[3, 0], [1, 2], [0, 0]])
            ),  # a repeat in row 2
            case((3, 4), (2, 4), dim=0, index=np.array([[2, 0, 1, 2], [0, 1, 2, 1]])),
        ],
        covers=("IndexPutAdd", "Where", "Index"),
    ),
    OpSpec(
        "scatter_value",
        lambda a, dim, index, value: a.scatter(dim, dg.tensor(index, device=a.device), value),
        lambda a, dim, index, value: _np_scatter(a, np.full(index.shape, value), dim, index),
        [case((3, 4), dim=1, index=np.array([[3], [1], [0]]), value=2.5)],
        covers=("IndexPutAdd", "Where"),
    ),
    OpSpec(
        "index_add",
        lambda a, src, dim, index, **kw: a.index_add(
            dim, dg.tensor(index, device=a.device), src, **kw
        ),
        _np_index_add,
        [
            case((4, 3), (3, 3), dim=0, index=np.array([3, 0, 3])),
            case((2, 3, 4), (2, 5, 4), dim=1, index=np.array([0, 2, 2, 1, 0]), alpha=-1.5),
        ],
        covers=("IndexPutAdd", "Add", "Index"),
    ),
    OpSpec(
        "masked_scatter",
        lambda a, src, mask: a.masked_scatter(dg.tensor(mask, device=a.device), src),
        _np_masked_scatter,
        [
            case((3, 4), (3, 4), mask=np.arange(12).reshape(3, 4) % 3 == 0),
            case(
                (3, 4), (11,), mask=np.array([True, False, True, True])
            ),  # broadcast mask, longer source
        ],
        covers=("IndexPutAdd", "Where", "Index"),
    ),
    OpSpec(
        "contiguous",
        lambda a: a.t().contiguous(),
        lambda a: np.ascontiguousarray(a.T),
        [case((3, 4)), case((1, 5))],
        covers=("Clone", "Permute"),
    ),
    OpSpec(
        "view_contiguous",
        lambda a, shape: a.view(shape),
        lambda a, shape: a.reshape(shape),
        [case((3, 4), shape=(2, 6)), case((2, 3, 4), shape=(-1, 4)), case((), shape=(1, 1))],
        covers=("Reshape",),
    ),
    OpSpec(
        "narrow",
        lambda a, **kw: a.narrow(**kw),
        lambda a, dim, start, length: np.take(
            a, range(start % a.shape[dim], start % a.shape[dim] + length), axis=dim
        ),
        [case((4, 5), dim=1, start=-2, length=2), case((3, 4, 2), dim=0, start=1, length=2)],
        covers=("Index",),
    ),
]
