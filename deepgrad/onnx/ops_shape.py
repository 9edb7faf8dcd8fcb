"""Converters of the shape, indexing, convolution and pooling primitives.

Shapes recorded by the trace are those of the example input. So that a dynamic batch axis still
works, a reshape target copies (ONNX ``0``) every dimension it shares with its input at the same
position and infers (``-1``) the first other one, and a broadcast target keeps (``1``) every
dimension the input already has. Slices that run to the end of a dimension end at "the end",
not at the traced size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.onnx.graph import INT64_MAX, INT64_MIN, GraphBuilder, unsupported
from deepgrad.onnx.registry import register_converter
from deepgrad.ops import conv, conversion, pool, shape


def reshape_target(in_shape: Sequence[int], target: Sequence[int]) -> list[int]:
    """The ONNX Reshape shape for ``target``: 0 where it repeats ``in_shape``, one -1 (see above).

    Example:
        >>> reshape_target((8, 3, 4, 4), (8, 48))
        [0, -1]
    """
    out = [
        0 if i < len(in_shape) and s == in_shape[i] and s > 0 else int(s)
        for i, s in enumerate(target)
    ]
    if -1 not in out:
        free = [i for i, s in enumerate(out) if s != 0]
        if free:
            out[free[0]] = -1
    return out


@register_converter(shape.Reshape)
def _reshape(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, shape: tuple = ()) -> str:
    x = inputs[0]
    if tuple(out.shape) == tuple(x.shape):
        return g.value(x)
    if [n for n in x.shape if n != 1] == [n for n in out.shape if n != 1]:
        # only size-1 dims come or go (unsqueeze, squeeze): the other dims may be dynamic
        squeezed = g.squeeze(g.value(x), [d for d, n in enumerate(x.shape) if n == 1])
        return g.unsqueeze(squeezed, [d for d, n in enumerate(out.shape) if n == 1])
    return g.node("Reshape", [g.value(x), g.ints(reshape_target(x.shape, out.shape))])


@register_converter(shape.Permute)
def _permute(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, dims: tuple = ()) -> str:
    return g.transpose(g.value(inputs[0]), [d % max(len(dims), 1) for d in dims])


@register_converter(shape.Expand)
def _expand(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, shape: tuple = ()) -> str:
    x = inputs[0]
    lead = len(out.shape) - x.ndim
    target = [1 if i >= lead and n == x.shape[i - lead] else n for i, n in enumerate(out.shape)]
    return g.node("Expand", [g.value(x), g.ints(target)])


@register_converter(shape.Cat)
def _cat(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, dim: int = 0) -> str:
    return g.node("Concat", [g.value(x, out.dtype) for x in inputs], axis=dim)


@register_converter(conversion.Clone)
def _clone(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor) -> str:
    return g.value(inputs[0])


@register_converter(conversion._ToDevice)
def _to_device(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, device: Any = None) -> str:
    return g.value(inputs[0])


# -- indexing ------------------------------------------------------------------------------------
def _is_array(item: Any) -> bool:
    return (hasattr(item, "dtype") and getattr(item, "ndim", 0) > 0) or isinstance(item, np.ndarray)


def _full_index(index: tuple, ndim: int) -> list:
    """The index with its Ellipsis spelled out and trailing full slices added."""
    used = sum(1 for item in index if item is not None and item is not Ellipsis)
    items: list = []
    spelled = False
    for item in index:
        if item is Ellipsis:
            items += [slice(None)] * (ndim - used)
            spelled = True
        else:
            items.append(item)
    return items if spelled else items + [slice(None)] * (ndim - used)


def _slice_bounds(item: Any) -> tuple[int, int, int]:
    if isinstance(item, slice):
        step = 1 if item.step is None else int(item.step)
        start = item.start if item.start is not None else (0 if step > 0 else INT64_MAX)
        stop = item.stop if item.stop is not None else (INT64_MAX if step > 0 else INT64_MIN)
        return int(start), int(stop), step
    i = int(item)
    return i, (INT64_MAX if i == -1 else i + 1), 1


def _basic_index(g: GraphBuilder, x: str, items: list) -> str:
    starts: list[int] = []
    ends: list[int] = []
    axes: list[int] = []
    steps: list[int] = []
    squeezed: list[int] = []
    inserted: list[int] = []
    dim = out_dim = 0
    for item in items:
        if item is None:
            inserted.append(out_dim)
            out_dim += 1
            continue
        if item != slice(None):
            start, stop, step = _slice_bounds(item)
            starts, ends, axes, steps = (
                starts + [start],
                ends + [stop],
                axes + [dim],
                steps + [step],
            )
        if isinstance(item, slice):
            out_dim += 1
        else:
            squeezed.append(dim)
        dim += 1
    if axes:
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    return g.unsqueeze(g.squeeze(x, squeezed), inserted)


@register_converter(shape.Index)
def _index(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, index: tuple = ()) -> str:
    x = inputs[0]
    items = _full_index(index, x.ndim)
    arrays = [d for d, item in enumerate(items) if _is_array(item)]
    if not arrays:
        return _basic_index(g, g.value(x), items)
    fix = "index with one integer tensor and full slices (x[:, idx]), or use torch-style gather"
    if len(arrays) > 1 or any(i is None or not (_is_array(i) or i == slice(None)) for i in items):
        raise unsupported("Index", f"advanced indexing {_describe(index)}", fix)
    (dim,) = arrays
    if items[dim].dtype.kind not in "iu":
        raise unsupported(
            "Index", f"a {items[dim].dtype} mask (the output shape depends on the data)", fix
        )
    return g.node("Gather", [g.value(x), g.value(items[dim], np.int64)], axis=dim)


@register_converter(shape.IndexPutAdd)
def _index_put_add(
    g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, shape: tuple = (), index: tuple = ()
) -> str:
    # zeros(shape) with one block set to v (constant padding): a Pad
    items = _full_index(index, len(shape))
    if not all(isinstance(i, slice) and i.step in (None, 1) for i in items):
        fix = "only zeros(shape) with one block of unit-step slices set (padding) converts"
        raise unsupported("IndexPutAdd", f"index {_describe(index)}", fix)
    bounds = [i.indices(n) for i, n in zip(items, shape)]
    pads = [start for start, _, _ in bounds] + [n - stop for (_, stop, _), n in zip(bounds, shape)]
    return g.node("Pad", [g.value(inputs[0]), g.ints(pads)])


def _describe(index: tuple) -> str:
    return (
        "(" + ", ".join(f"array{tuple(i.shape)}" if _is_array(i) else repr(i) for i in index) + ")"
    )


# -- convolution and pooling ---------------------------------------------------------------------
def _pads(padding: Sequence[Sequence[int]]) -> list[int]:
    """((top, bottom), (left, right)) -> ONNX's [top, left, bottom, right]."""
    return [int(p[0]) for p in padding] + [int(p[1]) for p in padding]


@register_converter(conv.Conv2d)
def _conv2d(
    g: GraphBuilder,
    inputs: tuple[Tensor, ...],
    out: Tensor,
    stride: tuple = (1, 1),
    padding: tuple = ((0, 0), (0, 0)),
    dilation: tuple = (1, 1),
    groups: int = 1,
    x_chwn: Any = None,
) -> str:
    return g.node(
        "Conv",
        [g.value(t) for t in inputs],
        kernel_shape=list(inputs[1].shape[2:]),
        strides=list(stride),
        pads=_pads(padding),
        dilations=list(dilation),
        group=groups,
    )


@register_converter(conv.ConvTranspose2d)
def _conv_transpose2d(
    g: GraphBuilder,
    inputs: tuple[Tensor, ...],
    out: Tensor,
    stride: tuple = (1, 1),
    padding: tuple = ((0, 0), (0, 0)),
    dilation: tuple = (1, 1),
    groups: int = 1,
    in_hw: tuple = (1, 1),
    y_chwn: Any = None,
) -> str:
    y, w = inputs[0], inputs[1]
    kernel = w.shape[2:]
    extra = [
        int(n) - ((size - 1) * s + d * (k - 1) + 1 - p0 - p1)
        for n, size, s, d, k, (p0, p1) in zip(in_hw, y.shape[2:], stride, dilation, kernel, padding)
    ]
    return g.node(
        "ConvTranspose",
        [g.value(t) for t in inputs],
        kernel_shape=list(kernel),
        strides=list(stride),
        pads=_pads(padding),
        dilations=list(dilation),
        group=groups,
        output_padding=extra if any(extra) else None,
    )


@register_converter(pool.MaxPool2d)
def _max_pool2d(
    g: GraphBuilder,
    inputs: tuple[Tensor, ...],
    out: Tensor,
    kernel: tuple = (1, 1),
    stride: tuple = (1, 1),
    padding: tuple = ((0, 0), (0, 0)),
    dilation: tuple = (1, 1),
    out_hw: tuple = (1, 1),
) -> str:
    # deepgrad's end padding already covers ceil_mode's last window, so ONNX's floor rule matches
    return g.node(
        "MaxPool",
        [g.value(inputs[0])],
        kernel_shape=list(kernel),
        strides=list(stride),
        pads=_pads(padding),
        dilations=list(dilation),
    )


@register_converter(pool.WindowSum2d)
def _window_sum2d(
    g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, geometry: Any = None
) -> str:
    # A sum over each window with zero padding is a depthwise convolution with a kernel of ones;
    # unlike AveragePool it is exact for every padding, dilation and ceil_mode.
    kernel, stride, padding, dilation, _out_hw = geometry
    x = inputs[0]
    channels = x.shape[1]
    ones = g.constant(np.ones((channels, 1, *kernel), dtype=out.dtype), "window_ones")
    return g.node(
        "Conv",
        [g.value(x), ones],
        kernel_shape=list(kernel),
        strides=list(stride),
        pads=_pads(padding),
        dilations=list(dilation),
        group=channels,
    )
