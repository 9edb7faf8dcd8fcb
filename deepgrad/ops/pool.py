"""Pooling primitives: max and average pooling over 2-D windows (1-D pooling goes through 2-D).

A window position (i, j) of every output pixel at once is a strided view of the (padded) input,
``xpad[:, :, i*dh : ... : sh, j*dw : ... : sw]``, so a pool is kh * kw elementwise operations
over whole views: max-pooling keeps a running ``maximum`` (8x faster than reshaping into windows
and reducing, docs/performance.md, note 5) and remembers which window position won, as a small integer.

The primitives come in adjoint pairs, so every backward is written with primitives and is
differentiable again:

    MaxPool2d(x)         y = max over the window, index = the first position that holds it
    WindowScatter2d(g)   dx = g put back at the remembered positions    (adjoint of WindowGather2d)
    WindowGather2d(x)    y = x at the remembered positions              (adjoint of WindowScatter2d)
    WindowSum2d(x)       y = sum over the window                        (adjoint of WindowSpread2d)
    WindowSpread2d(g)    dx = each g added to every position of its window
"""

from __future__ import annotations

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError, ShapeError
from deepgrad.backend.kernels import float32_numpy, kernel
from deepgrad.ops.conv import ntuple


# -- window geometry -----------------------------------------------------------------------------
def _windows(xpad, kernel, stride, dilation, out_hw):
    """The kh * kw strided views xpad[..., window position (i, j) of every output pixel]."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    views = []
    for i in range(kh):
        for j in range(kw):
            views.append(
                xpad[
                    :,
                    :,
                    i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wo - 1) + 1 : sw,
                ]
            )
    return views


def _pad(xp, x, padding, value):
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == 0:
        return x
    return xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _disjoint(kernel, stride, dilation) -> bool:
    """True when no two windows share an input position (then scattering needs no additions)."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def _scatter_target(xp, g, geometry, in_hw):
    """The padded input-sized array that a scatter writes into; left uninitialized only when the
    windows tile it exactly (each position written once)."""
    kernel, stride, ((top, bottom), (left, right)), dilation, out_hw = geometry
    n, c = g.shape[:2]
    shape = (n, c, in_hw[0] + top + bottom, in_hw[1] + left + right)
    tiles = (
        kernel == stride
        and dilation == (1, 1)
        and shape[2:] == (out_hw[0] * stride[0], out_hw[1] * stride[1])
    )
    return xp.empty(shape, dtype=g.dtype) if tiles else xp.zeros(shape, dtype=g.dtype)


def _crop(xp, xpad, padding, in_hw):
    (top, _), (left, _) = padding
    if xpad.shape[2:] == tuple(in_hw):
        return xpad
    return xp.ascontiguousarray(xpad[:, :, top : top + in_hw[0], left : left + in_hw[1]])


def _keep(xp, values, mask, out=None):
    """values where mask is true, else +0.0, as an array (into ``out`` when given).

    A select, not ``values * mask``: that product turns an inf or NaN outside the mask into NaN
    (0 * inf), so an inf gradient would spread NaN over the positions that did not win (issue 12).
    Done on the floats' bits, AND with all ones or with zero, it is exact and as fast as the
    product (a masked copy or where() into the strided window views is 5x slower).
    """
    bits = f"int{8 * values.dtype.itemsize}"
    ones = -mask.view("int8")  # true -> -1, all bits set once widened to the float's size
    if out is None:
        out = xp.empty(values.shape, dtype=values.dtype)
    xp.bitwise_and(values.view(bits), ones, out=out.view(bits))
    return out


def window_max(xp, x, geometry):
    """(max over each window, the window position k = i * kw + j of the first max) as arrays."""
    kernel, stride, padding, dilation, out_hw = geometry
    views = _windows(_pad(xp, x, padding, float("-inf")), kernel, stride, dilation, out_hw)
    y = views[0].copy()
    small = len(views) < 128
    index = xp.zeros(y.shape, dtype="int8" if small else "int32")
    better = xp.empty(y.shape, dtype="bool")
    for k in range(1, len(views)):
        xp.greater(
            views[k], y, out=better
        )  # strictly greater: ties keep the first position, as PyTorch does
        xp.maximum(y, views[k], out=y)
        # index < k everywhere so far, so max(index, k * better) sets k exactly where better; done on
        # the bool's bytes it is 4x faster in NumPy than a masked copyto/putmask.
        step = better.view("int8") if small else better.astype("int32")
        if k > 1:
            step *= k
        xp.maximum(index, step, out=index)
    return y, index


# -- primitives ----------------------------------------------------------------------------------
class MaxPool2d(Function):
    """y[n,c,p,q] = max over the window of xpad (pad = -inf);  index = first window position of the max.

    dx = WindowScatter2d(dy): each dy goes to the input position that held the max (first one on ties)
    """

    @staticmethod
    def forward(
        ctx,
        x,
        kernel=(1, 1),
        stride=(1, 1),
        padding=((0, 0), (0, 0)),
        dilation=(1, 1),
        out_hw=(1, 1),
    ):
        geometry = (kernel, stride, padding, dilation, out_hw)
        y, ctx.index = window_max(ctx.xp, x, geometry)
        ctx.geometry = geometry
        ctx.in_hw = x.shape[2:]
        return y

    @staticmethod
    def backward(ctx, dy):
        return WindowScatter2d.apply(dy, index=ctx.index, geometry=ctx.geometry, in_hw=ctx.in_hw)


class WindowScatter2d(Function):
    """dx = zeros; dxpad[n, c, p*sh + i_k*dh, q*sw + j_k*dw] += g[n,c,p,q] with k = index[n,c,p,q].

    dg = WindowGather2d(ddx)
    """

    @staticmethod
    def forward(ctx, g, index=None, geometry=None, in_hw=(1, 1)):
        xp = ctx.xp
        kernel, stride, padding, dilation, out_hw = geometry
        ctx.index, ctx.geometry = index, geometry
        dx = _scatter_2x2(xp, g, index, geometry, in_hw)
        if dx is not None:
            return dx
        dxpad = _scatter_target(xp, g, geometry, in_hw)
        disjoint = _disjoint(kernel, stride, dilation)
        for k, view in enumerate(_windows(dxpad, kernel, stride, dilation, out_hw)):
            if disjoint:
                _keep(xp, g, index == k, out=view)
            else:
                view += _keep(xp, g, index == k)
        return _crop(xp, dxpad, padding, in_hw)

    @staticmethod
    def backward(ctx, ddx):
        return WindowGather2d.apply(ddx, index=ctx.index, geometry=ctx.geometry)


def _scatter_2x2(xp, g, index, geometry, in_hw):
    """WindowScatter2d's answer from the numba kernel, for 2x2 windows of stride 2 that tile the
    (unpadded) input, float32 NumPy arrays; None where the kernel is off or does not apply."""
    if geometry[:4] != ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)):
        return None
    n, c, ho, wo = g.shape
    if (
        tuple(in_hw) != (2 * ho, 2 * wo)
        or index.dtype.itemsize != 1
        or not float32_numpy(g)
        or not g.flags.c_contiguous
        or not index.flags.c_contiguous
    ):
        return None
    backward = kernel("max_pool_2x2_backward")
    if backward is None:
        return None
    dx = xp.empty((n, c, 2 * ho, 2 * wo), dtype=g.dtype)
    backward(g.reshape(-1, wo), index.reshape(-1, wo), dx.reshape(-1, 2, 2 * wo))
    return dx


class WindowGather2d(Function):
    """y[n,c,p,q] = xpad[n, c, p*sh + i_k*dh, q*sw + j_k*dw] with k = index[n,c,p,q].

    dx = WindowScatter2d(dy)
    """

    @staticmethod
    def forward(ctx, x, index=None, geometry=None):
        xp = ctx.xp
        kernel, stride, padding, dilation, out_hw = geometry
        ctx.index, ctx.geometry, ctx.in_hw = index, geometry, x.shape[2:]
        y = xp.zeros(index.shape, dtype=x.dtype)
        for k, view in enumerate(
            _windows(_pad(xp, x, padding, 0), kernel, stride, dilation, out_hw)
        ):
            y += _keep(xp, view, index == k)
        return y

    @staticmethod
    def backward(ctx, dy):
        return WindowScatter2d.apply(dy, index=ctx.index, geometry=ctx.geometry, in_hw=ctx.in_hw)


class WindowSum2d(Function):
    """y[n,c,p,q] = sum_{i,j} xpad[n, c, p*sh + i*dh, q*sw + j*dw]  (pad = 0).

    dx = WindowSpread2d(dy)
    """

    @staticmethod
    def forward(ctx, x, geometry=None):
        kernel, stride, padding, dilation, out_hw = geometry
        ctx.geometry, ctx.in_hw = geometry, x.shape[2:]
        views = _windows(_pad(ctx.xp, x, padding, 0), kernel, stride, dilation, out_hw)
        y = views[0].copy()
        for view in views[1:]:
            y += view
        return y

    @staticmethod
    def backward(ctx, dy):
        return WindowSpread2d.apply(dy, geometry=ctx.geometry, in_hw=ctx.in_hw)


class WindowSpread2d(Function):
    """dx = zeros; dxpad[n, c, p*sh + i*dh, q*sw + j*dw] += g[n,c,p,q] for every window position (i, j).

    dg = WindowSum2d(ddx)
    """

    @staticmethod
    def forward(ctx, g, geometry=None, in_hw=(1, 1)):
        xp = ctx.xp
        kernel, stride, padding, dilation, out_hw = geometry
        ctx.geometry = geometry
        dxpad = _scatter_target(xp, g, geometry, in_hw)
        disjoint = _disjoint(kernel, stride, dilation)
        for view in _windows(dxpad, kernel, stride, dilation, out_hw):
            if disjoint:
                view[...] = g
            else:
                view += g
        return _crop(xp, dxpad, padding, in_hw)

    @staticmethod
    def backward(ctx, ddx):
        return WindowSum2d.apply(ddx, geometry=ctx.geometry)


# -- argument handling ---------------------------------------------------------------------------
def pool_out_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool
) -> int:
    """Output length of a pool; with ceil_mode the last window may hang over the end, but must
    start inside the input or its left padding (PyTorch's rule)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool_geometry(
    name: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, dims: int = 2
):
    """Validate pool arguments; returns (kernel, stride, padding pairs, dilation, out_hw) for the 2-D primitives."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor (got {type(x).__name__})")
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(
            f"{name}: input must have {dims + 2} dimensions (N, C, {'H, W' if dims == 2 else 'L'}) or {dims + 1} "
            f"without the batch (got shape {x.shape})"
        )
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{name}: input must be a floating-point tensor (got {x.dtype}); convert it with .float()."
        )
    kernel = ntuple(name, "kernel_size", kernel_size, dims)
    stride = (
        kernel
        if stride is None or stride == [] or stride == ()
        else ntuple(name, "stride", stride, dims)
    )
    pad = ntuple(name, "padding", padding, dims, minimum=0)
    dilation = ntuple(name, "dilation", dilation, dims)
    for p, k in zip(pad, kernel):
        if p > k // 2:
            raise ValueError(
                f"{name}: padding should be at most half of the kernel size (got padding={padding}, "
                f"kernel_size={kernel_size}); a window made only of padding has no value."
            )
    sizes = x.shape[-dims:]
    out = tuple(
        pool_out_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(sizes, kernel, stride, pad, dilation)
    )
    if min(out) < 1:
        raise ShapeError(
            f"{name}: the output would be empty (input shape {x.shape}, kernel_size={kernel}, stride={stride}, "
            f"padding={pad}); use a smaller kernel or a larger input."
        )
    pads = tuple(
        (p, max((o - 1) * s + d * (k - 1) + 1 - n - p, 0))
        for n, k, s, p, d, o in zip(sizes, kernel, stride, pad, dilation, out)
    )
    if dims == 1:
        return (1,) + kernel, (1,) + stride, ((0, 0),) + pads, (1,) + dilation, (1,) + out
    return kernel, stride, pads, dilation, out


def _as_4d(x: Tensor, dims: int) -> tuple[Tensor, tuple]:
    """(N, C, *spatial) with a height-1 dim for 1-D pooling and a batch of 1 for unbatched input."""
    shape = x.shape
    if x.ndim == dims + 1:
        x = x.reshape((1,) + shape)
    if dims == 1:
        x = x.reshape(x.shape[:2] + (1, x.shape[2]))
    return x, shape


def _from_4d(y: Tensor, in_shape: tuple, dims: int) -> Tensor:
    lead = in_shape[:-dims]
    return y.reshape(lead + y.shape[4 - dims :])


def _flat_indices(xp, index, geometry, in_w: int):
    """Window positions -> indices into the flattened (H * W) input plane (PyTorch's return_indices)."""
    (_kh, kw), (sh, sw), padding, (dh, dw), (ho, wo) = geometry
    k = index.astype("int64")
    rows = xp.arange(ho, dtype="int64")[:, None] * sh - padding[0][0] + (k // kw) * dh
    cols = xp.arange(wo, dtype="int64")[None, :] * sw - padding[1][0] + (k % kw) * dw
    return rows * in_w + cols


def _max_pool(name, dims, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    geometry = _pool_geometry(name, input, kernel_size, stride, padding, dilation, ceil_mode, dims)
    x, shape = _as_4d(input, dims)
    kernel, stride, pads, dilation, out_hw = geometry
    y = MaxPool2d.apply(
        x, kernel=kernel, stride=stride, padding=pads, dilation=dilation, out_hw=out_hw
    )
    out = _from_4d(y, shape, dims)
    if not return_indices:
        return out
    # The node keeps the window positions only when a graph is recorded; recompute them here.
    _, index = window_max(x.xp, x._data, geometry)
    flat = Tensor._make(_flat_indices(x.xp, index, geometry, x.shape[3]), None)
    return out, _from_4d(flat, shape, dims)


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """2-D max pooling: y = max of x over each kernel_size window (padding counts as -inf).

    The gradient of each output goes to the input position that held the max (the first one,
    in row-major window order, when several tie), as in PyTorch.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, int or (kH, kW).
        stride: window step, int or (sH, sW). Default: kernel_size.
        padding: implicit -inf padding on both sides, at most half the kernel. Default: 0.
        dilation: spacing between window elements. Default: 1.
        ceil_mode: round the output size up instead of down. Default: False.
        return_indices: also return, per output, the index of the max in the flattened H * W plane.

    Shape:
        output: (N, C, H_out, W_out), H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1 (ceil with ceil_mode).

    Example:
        >>> import deepgrad as dg
        >>> max_pool2d(dg.randn(2, 3, 8, 8), 2).shape
        (2, 3, 4, 4)
    """
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """1-D max pooling over (N, C, L) or (C, L): as ``max_pool2d`` along one dim.

    Example:
        >>> import deepgrad as dg
        >>> max_pool1d(dg.randn(2, 3, 9), 3, stride=2).shape
        (2, 3, 4)
    """
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def _avg_pool(
    name, dims, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    geometry = _pool_geometry(name, input, kernel_size, stride, padding, 1, ceil_mode, dims)
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, int)
        or divisor_override == 0
    ):
        raise ValueError(
            f"{name}: divisor_override must be a non-zero int or None (got {divisor_override!r})"
        )
    x, shape = _as_4d(input, dims)
    kernel, stride, pads, _, out_hw = geometry
    summed = WindowSum2d.apply(x, geometry=geometry)
    if divisor_override is not None:
        return _from_4d(summed * (1.0 / divisor_override), shape, dims)
    counts = [
        _window_counts(n, k, s, p[0], o, count_include_pad)
        for n, k, s, p, o in zip(x.shape[2:], kernel, stride, pads, out_hw)
    ]
    if len(set(counts[0])) == 1 and len(set(counts[1])) == 1:
        return _from_4d(summed * (1.0 / (counts[0][0] * counts[1][0])), shape, dims)
    xp = x.xp
    inverse = 1.0 / (
        xp.asarray(counts[0], dtype=x.dtype)[:, None]
        * xp.asarray(counts[1], dtype=x.dtype)[None, :]
    )
    return _from_4d(summed * Tensor._make(inverse, None), shape, dims)


def _window_counts(
    size: int, kernel: int, stride: int, pad: int, out: int, count_include_pad: bool
) -> list:
    """Per output position: the window length that divides the sum (PyTorch's avg_pool rule: with
    count_include_pad the window is clipped to the padded input, else to the input itself)."""
    counts = []
    for p in range(out):
        start = p * stride - pad
        end = min(start + kernel, size + pad)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(min(end, size) - max(start, 0))
    return counts


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling: y = sum of x over each window / divisor.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default kernel_size), padding (zeros, at most half the kernel), ceil_mode:
            as in ``max_pool2d``.
        count_include_pad: divide by the window size including the zero padding (True) or by the
            number of real input elements in the window (False). Default: True.
        divisor_override: divide by this number instead. Default: None.

    Shape:
        output: (N, C, H_out, W_out), H_out = floor((H + 2 pH - kH) / sH) + 1 (ceil with ceil_mode).

    Example:
        >>> import deepgrad as dg
        >>> avg_pool2d(dg.ones(1, 1, 4, 4), 2).sum().item()
        4.0
    """
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L): as ``avg_pool2d`` along one dim.

    Example:
        >>> import deepgrad as dg
        >>> avg_pool1d(dg.ones(1, 1, 6), 2).shape
        (1, 1, 3)
    """
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


# -- adaptive pooling ----------------------------------------------------------------------------
def _adaptive_bounds(size: int, out: int) -> list:
    """Window i covers [floor(i * size / out), ceil((i + 1) * size / out)) (PyTorch's rule)."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_sizes(name: str, x: Tensor, output_size, dims: int) -> tuple:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor (got {type(x).__name__})")
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(
            f"{name}: input must have {dims + 2} dimensions or {dims + 1} without the batch (got {x.shape})"
        )
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{name}: input must be a floating-point tensor (got {x.dtype}); convert it with .float()."
        )
    sizes = x.shape[-dims:]
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size,) * dims
    output_size = tuple(output_size)
    if len(output_size) != dims:
        raise ValueError(
            f"{name}: output_size must be an int or a tuple of {dims} (got {output_size!r})"
        )
    out = tuple(n if o is None else o for n, o in zip(sizes, output_size))
    if any(isinstance(o, bool) or not isinstance(o, int) or o < 1 for o in out):
        raise ValueError(
            f"{name}: output_size must hold positive ints or None (got {output_size!r})"
        )
    if min(sizes) < 1:
        raise ShapeError(f"{name}: input has an empty spatial dimension (shape {x.shape})")
    return out


def _averaging_matrix(xp, size: int, out: int, dtype):
    """A (out, size) with A[i, h] = 1 / len(window i) on window i: averaging is a matrix product."""
    rows = []
    for start, end in _adaptive_bounds(size, out):
        rows.append([1.0 / (end - start) if start <= h < end else 0.0 for h in range(size)])
    return Tensor._make(xp.asarray(rows, dtype=dtype), None)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size: output (i, j) averages the window
    rows [floor(i H / H_out), ceil((i + 1) H / H_out)) x the same for columns.

    Windows are rectangles, so the pool is separable: y = A_h @ x @ A_w^T with averaging matrices;
    an output size that divides the input is an ordinary avg_pool2d, and (1, 1) is a mean.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (H_out, W_out); None keeps that input size.

    Example:
        >>> import deepgrad as dg
        >>> adaptive_avg_pool2d(dg.randn(2, 8, 7, 5), (3, 2)).shape
        (2, 8, 3, 2)
    """
    out = _adaptive_sizes("adaptive_avg_pool2d", input, output_size, 2)
    h, w = input.shape[-2:]
    if out == (1, 1):
        return input.mean(dim=(-2, -1), keepdim=True)
    if h % out[0] == 0 and w % out[1] == 0:
        kernel = (h // out[0], w // out[1])
        return avg_pool2d(input, kernel, kernel)
    xp, dtype = input.xp, input.dtype
    y = input if w == out[1] else input @ _averaging_matrix(xp, w, out[1], dtype).mT
    return y if h == out[0] else _averaging_matrix(xp, h, out[0], dtype) @ y


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to length ``output_size`` (windows as in adaptive_avg_pool2d).

    Example:
        >>> import deepgrad as dg
        >>> adaptive_avg_pool1d(dg.randn(2, 3, 10), 4).shape
        (2, 3, 4)
    """
    (out,) = _adaptive_sizes("adaptive_avg_pool1d", input, output_size, 1)
    if out == input.shape[-1]:
        return input
    return input @ _averaging_matrix(input.xp, input.shape[-1], out, input.dtype).mT


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size (windows as in ``adaptive_avg_pool2d``).

    An output size that divides the input is an ordinary max_pool2d; otherwise each output cell is
    the max of its own window (the gradient goes to the first max, as in max_pool2d).

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (H_out, W_out); None keeps that input size.
        return_indices: also return the flat (H * W) index of each max.

    Example:
        >>> import deepgrad as dg
        >>> adaptive_max_pool2d(dg.randn(2, 8, 7, 5), 3).shape
        (2, 8, 3, 3)
    """
    out = _adaptive_sizes("adaptive_max_pool2d", input, output_size, 2)
    h, w = input.shape[-2:]
    if h % out[0] == 0 and w % out[1] == 0:
        kernel = (h // out[0], w // out[1])
        return max_pool2d(input, kernel, kernel, return_indices=return_indices)
    from deepgrad.ops.composite import stack
    from deepgrad.ops.index import take_along_dim
    from deepgrad.ops.minmax import argmax

    lead = input.shape[:-2]
    rows, indices = [], []
    for r0, r1 in _adaptive_bounds(h, out[0]):
        cells, cell_indices = [], []
        for c0, c1 in _adaptive_bounds(w, out[1]):
            window = input[..., r0:r1, c0:c1].reshape(lead + (-1,))
            best = argmax(window, dim=-1, keepdim=True)
            cells.append(take_along_dim(window, best, dim=-1).reshape(lead))
            if return_indices:
                cell_indices.append((best // (c1 - c0) + r0) * w + best % (c1 - c0) + c0)
        rows.append(stack(cells, dim=-1))
        if return_indices:
            indices.append(stack([i.reshape(lead) for i in cell_indices], dim=-1))
    y = stack(rows, dim=-2)
    return (y, stack(indices, dim=-2)) if return_indices else y


__all__ = [
    "MaxPool2d",
    "WindowGather2d",
    "WindowScatter2d",
    "WindowSpread2d",
    "WindowSum2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "max_pool1d",
    "max_pool2d",
]
