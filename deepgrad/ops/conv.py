"""Convolution primitives: conv2d, its transpose and its weight gradient (conv1d goes through conv2d).

The three primitives are the three faces of one bilinear map, so each one's
backward is written with the other two and every backward is differentiable
again (``create_graph=True`` works to any order):

    Conv2d(x, w)            y = x * w                dx = ConvTranspose2d(dy, w)    dw = Conv2dWeightGrad(x, dy)
    ConvTranspose2d(y, w)   x = adjoint of x -> x*w  dy = Conv2d(dx, w)             dw = Conv2dWeightGrad(dx, y)
    Conv2dWeightGrad(x, g)  w = adjoint of w -> x*w  dx = ConvTranspose2d(g, dw)    dg = Conv2d(x, dw)

How it is fast (docs/performance.md, notes 1 and 4): the convolution is one matrix multiply on an
"im2col" matrix, and the cost that remains is moving memory. Inside these primitives images live in
a (C, H, W, N) layout, batch innermost: then every shifted window of the image is a run of
W * N contiguous numbers, so im2col is one copy out of a strided view, and the input gradient is
one matrix multiply followed by kh * kw shifted additions of long contiguous runs (no scatter-add).
The (N, C, H, W) <-> (C, H, W, N) transposes are done in cache-sized blocks.
"""

from __future__ import annotations

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, DTypeError, ShapeError, amp_state
from deepgrad.backend.kernels import float32_numpy, kernel
from deepgrad.backend.validation import int_at_least, positive_int
from deepgrad.ops.autocast import LOWER, autocast_inputs

_BLOCK = 64  # rows per block of the blocked transpose: 64 rows x N columns stay in the L1/L2 cache
_CHUNK = 4096  # columns per chunk of a thin matrix product (see matmul_wide)


# -- layout helpers (arrays) -------------------------------------------------------------------
def to_chwn(xp, x, padding=((0, 0), (0, 0))):
    """(N, C, H, W) -> a new contiguous (C, H + top + bottom, W + left + right, N) array, zero padded."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == 0:
        return _batch_innermost(xp, x)
    out = xp.zeros((c, h + top + bottom, w + left + right, n), dtype=x.dtype)
    out[:, top : top + h, left : left + w, :] = x.transpose(1, 2, 3, 0)
    return out


def _batch_innermost(xp, x):
    """(N, C, H, W) -> a new contiguous (C, H, W, N) array.

    Read column by column, an image of C * H * W floats a multiple of 2 KiB long puts every
    element of a column in the same few cache sets (LeNet's second output gradient, 128 x 1 024
    floats: 0.27 ms). Copying blocks of 8 images, each a short run per row, avoids the conflict
    (0.06 ms); other sizes keep the plain copy, which measured as fast or faster.
    """
    n = x.shape[0]
    rows = x.size // n if n else 0
    if xp.__name__ != "numpy" or n < 16 or (rows * x.itemsize) % 2048 or not x.flags.c_contiguous:
        return xp.ascontiguousarray(x.transpose(1, 2, 3, 0))
    flat = x.reshape(n, rows)
    out = xp.empty((rows, n), dtype=x.dtype)
    for start in range(0, n, 8):
        out[:, start : start + 8] = flat[start : start + 8].T
    return out.reshape(x.shape[1:] + (n,))


def from_chwn(xp, y):
    """(C, H, W, N) -> a new contiguous (N, C, H, W) array.

    A plain transpose with the batch innermost reads memory with a stride of N elements and is
    5-10x slower on a CPU than copying blocks of rows that fit in the cache.
    """
    c, h, w, n = y.shape
    rows = c * h * w
    if xp.__name__ != "numpy" or n < 8 or rows < 4 * _BLOCK or not y.flags.c_contiguous:
        return xp.ascontiguousarray(y.transpose(3, 0, 1, 2))
    flat = y.reshape(rows, n)
    out = xp.empty((n, rows), dtype=y.dtype)
    for start in range(0, rows, _BLOCK):
        out[:, start : start + _BLOCK] = flat[start : start + _BLOCK].T
    return out.reshape(n, c, h, w)


def im2col(xp, xpad, kernel, out_hw, stride, dilation):
    """Padded (C, Hp, Wp, N) -> (C * kh * kw, Ho * Wo * N): row (c, i, j) holds the pixel under w[., c, i, j]."""
    c, _, _, n = xpad.shape
    (kh, kw), (ho, wo) = kernel, out_hw
    s_c, s_h, s_w, s_n = xpad.strides
    windows = xp.lib.stride_tricks.as_strided(
        xpad,
        shape=(c, kh, kw, ho, wo, n),
        strides=(s_c, s_h * dilation[0], s_w * dilation[1], s_h * stride[0], s_w * stride[1], s_n),
    )
    return windows.reshape(
        c * kh * kw, ho * wo * n
    )  # the one copy (a view when kh = kw = 1, stride 1)


def conv_out_size(
    size: int, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int
) -> int:
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _is_thin(xp, small: int, long: int) -> bool:
    return xp.__name__ == "numpy" and long > 4 * _CHUNK and small <= 8192


def matmul_wide(xp, a, b):
    """a (m, k) @ b (k, n) for a small a and a very wide b, in column chunks.

    OpenBLAS's AVX-512 kernels run such thin products (6 x 25 @ 25 x 73 728 in LeNet's first layer)
    up to 10x below their speed on 4 096-column chunks, which stay in the cache.
    """
    if not _is_thin(xp, a.shape[0] * a.shape[1], b.shape[1]):
        return a @ b
    out = xp.empty((a.shape[0], b.shape[1]), dtype=xp.result_type(a, b))
    for start in range(0, b.shape[1], _CHUNK):
        xp.matmul(a, b[:, start : start + _CHUNK], out=out[:, start : start + _CHUNK])
    return out


def matmul_long(xp, a, b):
    """a (m, p) @ b (p, k) with a long inner dimension p and a small result, as a sum over p chunks
    (same reason as ``matmul_wide``: 2.5x faster for LeNet's first-layer weight gradient)."""
    if not _is_thin(xp, a.shape[0] * b.shape[1], a.shape[1]):
        return a @ b
    out = a[:, :_CHUNK] @ b[:_CHUNK]
    for start in range(_CHUNK, a.shape[1], _CHUNK):
        out += a[:, start : start + _CHUNK] @ b[start : start + _CHUNK]
    return out


def _grouped_matmul(xp, a, b, groups: int):
    """a (g * m, k) @ b (g * k, n) group by group -> (g * m, n)."""
    if groups == 1:
        return matmul_wide(xp, a, b)
    out = xp.matmul(a.reshape(groups, -1, a.shape[1]), b.reshape(groups, -1, b.shape[1]))
    return out.reshape(-1, b.shape[1])


# -- the three computations (arrays) -------------------------------------------------------------
def conv2d_array(xp, xpad, w, b, batch: int, stride, dilation, groups: int):
    """y (N, O, Ho, Wo) from the padded (C, Hp, Wp, N) input."""
    o, _, kh, kw = w.shape
    _, hp, wp, _ = xpad.shape
    ho = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    direct = _direct_forward(xpad, w, stride, dilation, groups)
    if direct is not None:
        n = xpad.shape[3]
        y = xp.empty((o, ho, wo * n), dtype=w.dtype)
        y[...] = 0 if b is None else b[:, None, None]
        direct(xpad.reshape(xpad.shape[0], hp, wp * n), w, y, n)
        return from_chwn(xp, y.reshape(o, ho, wo, batch))
    cols = im2col(xp, xpad, (kh, kw), (ho, wo), stride, dilation)
    y = _grouped_matmul(xp, w.reshape(o, -1), cols, groups)
    if b is not None:
        y += b[:, None]
    return from_chwn(xp, y.reshape(o, ho, wo, batch))


def conv2d_input_grad_array(xp, dy_chwn, w, b, in_hw, stride, padding, dilation, groups: int):
    """dx (N, C, H, W) = sum over windows of w^T dy: one matrix multiply, then kh * kw shifted adds."""
    o, c_group, kh, kw = w.shape
    _, ho, wo, n = dy_chwn.shape
    c = c_group * groups
    (top, bottom), (left, right) = padding
    h, w_in = in_hw
    w_t = (
        w.reshape(groups, o // groups, c_group * kh * kw)
        .transpose(0, 2, 1)
        .reshape(c * kh * kw, o // groups)
    )
    if groups == 1:
        cols = matmul_wide(xp, w_t, dy_chwn.reshape(o, -1))
    else:
        cols = xp.matmul(
            w_t.reshape(groups, -1, o // groups), dy_chwn.reshape(groups, o // groups, -1)
        )
    cols = cols.reshape(c, kh, kw, ho, wo, n)
    dxpad = xp.zeros((c, h + top + bottom, w_in + left + right, n), dtype=dy_chwn.dtype)
    sh, sw = stride
    for i in range(kh):
        r0 = i * dilation[0]
        for j in range(kw):
            c0 = j * dilation[1]
            dxpad[:, r0 : r0 + sh * (ho - 1) + 1 : sh, c0 : c0 + sw * (wo - 1) + 1 : sw] += cols[
                :, i, j
            ]
    dx = dxpad[:, top : top + h, left : left + w_in]
    if b is not None:
        dx += b[:, None, None, None]
    if not dx.flags.c_contiguous:
        dx = xp.ascontiguousarray(dx)
    return from_chwn(xp, dx)


def conv2d_weight_grad_array(xp, xpad, dy_chwn, kernel, stride, dilation, groups: int):
    """dw (O, C / groups, kh, kw) = dy (O, P) @ im2col(x)^T (P, C * kh * kw), group by group."""
    o, ho, wo, _ = dy_chwn.shape
    c = xpad.shape[0]
    kh, kw = kernel
    direct = _direct_weight_grad(xp, xpad, dy_chwn, kernel, stride, dilation, groups)
    if direct is not None:
        return direct
    cols = im2col(xp, xpad, kernel, (ho, wo), stride, dilation)
    dy2 = dy_chwn.reshape(o, -1)
    if groups == 1:
        dw = matmul_long(xp, dy2, cols.T)
    else:
        cols_t = cols.reshape(groups, c // groups * kh * kw, -1).transpose(0, 2, 1)
        dw = xp.matmul(dy2.reshape(groups, o // groups, -1), cols_t)
    return dw.reshape(o, c // groups, kh, kw)


_DIRECT_MAX_TAPS = 96  # C * kh * kw up to which the direct forward beat im2col + GEMM (note 17)


def _direct_forward(xpad, w, stride, dilation, groups: int):
    """The numba kernel that computes this forward, or None: it takes stride 1, undilated,
    ungrouped, contiguous float32 convolutions with a small GEMM inner dimension C * kh * kw."""
    if (
        stride == (1, 1)
        and dilation == (1, 1)
        and groups == 1
        and w.shape[1] * w.shape[2] * w.shape[3] <= _DIRECT_MAX_TAPS
        and float32_numpy(xpad, w)
        and xpad.flags.c_contiguous
        and w.flags.c_contiguous
    ):
        return kernel("conv2d_forward")
    return None


def _direct_weight_grad(xp, xpad, dy_chwn, kernel_hw, stride, dilation, groups: int):
    """The numba kernel's weight gradient for stride-1, undilated, ungrouped float32 convolutions
    (no im2col matrix; docs/performance.md, note 17), or None where it does not apply."""
    if stride != (1, 1) or dilation != (1, 1) or groups != 1 or not float32_numpy(xpad, dy_chwn):
        return None
    compute = kernel("conv2d_weight_grad")
    if compute is None or not (xpad.flags.c_contiguous and dy_chwn.flags.c_contiguous):
        return None
    c, hp, wp, n = xpad.shape
    o, ho, wo, _ = dy_chwn.shape
    dw = xp.zeros((o, c) + tuple(kernel_hw), dtype=xpad.dtype)
    compute(xpad.reshape(c, hp, wp * n), dy_chwn.reshape(o, ho, wo * n), dw, n)
    return dw


# -- primitives ----------------------------------------------------------------------------------
class Conv2d(Function):
    """y[n,o,p,q] = b[o] + sum_{c,i,j} w[o,c,i,j] * xpad[n, g(o)+c, p*sh + i*dh, q*sw + j*dw]  (cross-correlation).

    dx = ConvTranspose2d(dy, w),  dw = Conv2dWeightGrad(x, dy),  db = dy summed over (n, p, q)
    """

    @staticmethod
    def forward(
        ctx,
        x,
        w,
        b=None,
        stride=(1, 1),
        padding=((0, 0), (0, 0)),
        dilation=(1, 1),
        groups=1,
        x_chwn=None,
    ):
        ctx.save_inputs(0, 1)
        ctx.geometry = (stride, padding, dilation, groups)
        # The padded (C, H, W, N) copy of x is as large as x; keeping it saves redoing it for dw.
        ctx.x_chwn = xpad = to_chwn(ctx.xp, x, padding) if x_chwn is None else x_chwn
        return conv2d_array(ctx.xp, xpad, w, b, x.shape[0], stride, dilation, groups)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_inputs
        need = ctx.needs_input_grad
        stride, padding, dilation, groups = ctx.geometry
        dy_chwn = to_chwn(ctx.xp, dy._data)  # shared by dx and dw
        dx = dw = db = None
        if need[0]:
            dx = ConvTranspose2d.apply(
                dy,
                w,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                in_hw=x.shape[2:],
                y_chwn=dy_chwn,
            )
        if need[1]:
            dw = Conv2dWeightGrad.apply(
                x,
                dy,
                kernel=w.shape[2:],
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                x_chwn=ctx.x_chwn,
                dy_chwn=dy_chwn,
            )
        if len(need) > 2 and need[2]:
            db = bias_grad(dy)
        return (dx, dw, db) if len(need) > 2 else (dx, dw)


class ConvTranspose2d(Function):
    """x = the adjoint of Conv2d in its input: x = b[c] + crop of xpad, where
    xpad[n, g(o)+c, p*sh + i*dh, q*sw + j*dw] += w[o,c,i,j] * y[n,o,p,q].

    dy = Conv2d(dx, w) (cropped to y's size),  dw = Conv2dWeightGrad(dx, y),  db = dx summed over (n, h, w)
    """

    @staticmethod
    def forward(
        ctx,
        y,
        w,
        b=None,
        stride=(1, 1),
        padding=((0, 0), (0, 0)),
        dilation=(1, 1),
        groups=1,
        in_hw=(1, 1),
        y_chwn=None,
    ):
        ctx.save_inputs(0, 1)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.y_chwn = y_chwn = to_chwn(ctx.xp, y) if y_chwn is None else y_chwn
        return conv2d_input_grad_array(
            ctx.xp, y_chwn, w, b, tuple(in_hw), stride, padding, dilation, groups
        )

    @staticmethod
    def backward(ctx, dx):
        y, w = ctx.saved_inputs
        need = ctx.needs_input_grad
        stride, padding, dilation, groups = ctx.geometry
        dx_chwn = to_chwn(ctx.xp, dx._data, padding)
        dy = dw = db = None
        if need[0]:
            dy = Conv2d.apply(
                dx,
                w,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                x_chwn=dx_chwn,
            )
            dy = crop_to(dy, y.shape)
        if need[1]:
            dw = Conv2dWeightGrad.apply(
                dx,
                y,
                kernel=w.shape[2:],
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                x_chwn=dx_chwn,
                dy_chwn=ctx.y_chwn,
            )
        if len(need) > 2 and need[2]:
            db = bias_grad(dx)
        return (dy, dw, db) if len(need) > 2 else (dy, dw)


class Conv2dWeightGrad(Function):
    """dw[o,c,i,j] = sum_{n,p,q} g[n,o,p,q] * xpad[n, g(o)+c, p*sh + i*dh, q*sw + j*dw]  (linear in x and in g).

    dx = ConvTranspose2d(g, ddw),  dg = Conv2d(x, ddw) (cropped to g's size)
    """

    @staticmethod
    def forward(
        ctx,
        x,
        g,
        kernel=(1, 1),
        stride=(1, 1),
        padding=((0, 0), (0, 0)),
        dilation=(1, 1),
        groups=1,
        x_chwn=None,
        dy_chwn=None,
    ):
        ctx.save_inputs(0, 1)
        ctx.geometry = (stride, padding, dilation, groups)
        xp = ctx.xp
        xpad = to_chwn(xp, x, padding) if x_chwn is None else x_chwn
        g_chwn = to_chwn(xp, g) if dy_chwn is None else dy_chwn
        return conv2d_weight_grad_array(xp, xpad, g_chwn, tuple(kernel), stride, dilation, groups)

    @staticmethod
    def backward(ctx, ddw):
        x, g = ctx.saved_inputs
        need_x, need_g = ctx.needs_input_grad
        stride, padding, dilation, groups = ctx.geometry
        dx = dg = None
        if need_x:
            dx = ConvTranspose2d.apply(
                g,
                ddw,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                in_hw=x.shape[2:],
            )
        if need_g:
            dg = Conv2d.apply(
                x, ddw, stride=stride, padding=padding, dilation=dilation, groups=groups
            )
            dg = crop_to(dg, g.shape)
        return dx, dg


def bias_grad(dy: Tensor) -> Tensor:
    """db[c] = sum of dy[:, c] (summing the contiguous spatial run first, then the batch)."""
    n, c = dy.shape[:2]
    return dy.reshape(n, c, -1).sum(dim=2).sum(dim=0)


def crop_to(t: Tensor, shape: tuple) -> Tensor:
    """The leading [:h, :w] block of t's spatial dims (a conv output can be longer than the
    transposed convolution's input when output_padding >= stride)."""
    if t.shape == tuple(shape):
        return t
    return t[:, :, : shape[2], : shape[3]]


# -- argument handling ---------------------------------------------------------------------------
def ntuple(name: str, arg: str, value, n: int, minimum: int = 1) -> tuple:
    """An int or a sequence of n ints (each >= minimum) -> a tuple of n ints, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, tuple, list)):
        raise TypeError(f"{name}: {arg} must be an int or a tuple of {n} ints (got {value!r})")
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise ValueError(f"{name}: {arg} must be an int or a tuple of {n} ints (got {value!r})")
    for i, v in enumerate(values):
        if v < minimum:  # the types are checked above; the shared check words the range error
            int_at_least(v, minimum, arg if isinstance(value, int) else f"{arg}[{i}]", name)
    return values


def _conv_padding(name: str, padding, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """padding (int, tuple, 'valid', 'same') -> ((before, after), ...) per spatial dim."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in kernel)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions (got stride={stride}); "
                    "use stride=1 or give the padding as numbers."
                )
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append(
                    (total // 2, total - total // 2)
                )  # the odd extra goes after, as in PyTorch
            return tuple(pads)
        raise ValueError(
            f"{name}: padding must be an int, a tuple, 'valid' or 'same' (got {padding!r})"
        )
    return tuple((p, p) for p in ntuple(name, "padding", padding, len(kernel), minimum=0))


def _check_tensors(name: str, x, w, b, dims: int):
    for arg, t in (("input", x), ("weight", w)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {arg} must be a Tensor (got {type(t).__name__})")
    if b is not None and not isinstance(b, Tensor):
        raise TypeError(f"{name}: bias must be a Tensor or None (got {type(b).__name__})")
    if w.ndim != dims + 2:
        raise ShapeError(f"{name}: weight must have {dims + 2} dimensions (got shape {w.shape})")
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(
            f"{name}: input must have {dims + 2} dimensions (N, C, {'H, W' if dims == 2 else 'L'}) or "
            f"{dims + 1} without the batch (got shape {x.shape})"
        )
    for arg, t in (("weight", w), ("bias", b)):
        if t is not None and type(t._data) is not type(x._data):
            raise DeviceError(
                f"{name}: input is on {x.device} but {arg} is on {t.device}; move one of them with .to(...) "
                f"first (e.g. model.to('{x.device}') or input.to('{t.device}'))."
            )
        if t is not None and t.dtype != x.dtype:
            raise DTypeError(
                f"{name}: input and {arg} must have the same dtype (got {x.dtype} and {t.dtype}); "
                "convert one with .to(dtype)."
            )


def _check_groups(name: str, groups: int, in_channels: int, out_channels: int):
    positive_int(groups, "groups", name)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be divisible by "
            f"groups ({groups})."
        )


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d): y = b + sum over the window of w * x.

    Args:
        input: (N, C_in, H, W), or (C_in, H, W) for one image.
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride: step of the window, int or (sH, sW). Default: 1.
        padding: zeros added on both sides, int or (pH, pW), or 'valid' (none) or 'same'
            (output as large as the input; stride 1 only). Default: 0.
        dilation: spacing between kernel elements, int or (dH, dW). Default: 1.
        groups: split the channels into this many independent convolutions. Default: 1.

    Shape:
        output: (N, C_out, H_out, W_out), H_out = (H + 2 pH - dH (kH - 1) - 1) // sH + 1, W likewise.

    Example:
        >>> import deepgrad as dg
        >>> conv2d(dg.randn(8, 3, 32, 32), dg.randn(16, 3, 3, 3), padding=1).shape
        (8, 16, 32, 32)
    """
    if amp_state.active():
        input, weight, bias = autocast_inputs(LOWER, input, weight, bias)
    _check_tensors("conv2d", input, weight, bias, 2)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.reshape((1,) + input.shape)
    out_channels, c_group, kh, kw = weight.shape
    stride = ntuple("conv2d", "stride", stride, 2)
    dilation = ntuple("conv2d", "dilation", dilation, 2)
    pads = _conv_padding("conv2d", padding, (kh, kw), stride, dilation)
    _check_groups("conv2d", groups, input.shape[1], out_channels)
    if input.shape[1] != c_group * groups:
        raise ShapeError(
            f"conv2d: input has {input.shape[1]} channels but weight {weight.shape} expects "
            f"{c_group * groups} (= weight.shape[1] * groups = {c_group} * {groups}); check in_channels."
        )
    _check_bias("conv2d", bias, out_channels)
    for dim, (size, k, (p0, p1), d) in enumerate(zip(input.shape[2:], (kh, kw), pads, dilation)):
        if size + p0 + p1 < d * (k - 1) + 1:
            raise ShapeError(
                f"conv2d: the padded input ({size + p0 + p1} along spatial dim {dim}, input shape {input.shape}) is "
                f"smaller than the dilated kernel ({d * (k - 1) + 1}); use a smaller kernel or more padding."
            )
    inputs = (input, weight) if bias is None else (input, weight, bias)
    y = Conv2d.apply(*inputs, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return y.reshape(y.shape[1:]) if unbatched else y


def _check_bias(name: str, bias, channels: int):
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != channels):
        raise ShapeError(f"{name}: bias must have shape ({channels},) (got {bias.shape})")


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation (PyTorch's conv1d), computed as conv2d on a height-1 image.

    Args:
        input: (N, C_in, L), or (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias, stride, padding ('valid', 'same' or ints), dilation, groups: as in ``conv2d``, one spatial dim.

    Shape:
        output: (N, C_out, L_out), L_out = (L + 2 p - d (k - 1) - 1) // s + 1.

    Example:
        >>> import deepgrad as dg
        >>> conv1d(dg.randn(4, 2, 50), dg.randn(8, 2, 5)).shape
        (4, 8, 46)
    """
    if amp_state.active():
        input, weight, bias = autocast_inputs(LOWER, input, weight, bias)
    _check_tensors("conv1d", input, weight, bias, 1)
    stride = ntuple("conv1d", "stride", stride, 1)
    dilation = ntuple("conv1d", "dilation", dilation, 1)
    padding = (
        padding if isinstance(padding, str) else ntuple("conv1d", "padding", padding, 1, minimum=0)
    )
    pad2 = padding if isinstance(padding, str) else (0,) + padding
    x4 = input.reshape(input.shape[:-1] + (1, input.shape[-1]))
    w4 = weight.reshape(weight.shape[:2] + (1, weight.shape[2]))
    try:
        y = conv2d(
            x4,
            w4,
            bias,
            stride=(1,) + stride,
            padding=pad2,
            dilation=(1,) + dilation,
            groups=groups,
        )
    except (ValueError, TypeError) as exc:
        raise type(exc)(str(exc).replace("conv2d", "conv1d")) from None
    return y.reshape(y.shape[:-2] + (y.shape[-1],))


def _check_output_padding(name: str, output_padding: tuple, stride: tuple, dilation: tuple):
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"{name}: output_padding must be smaller than either stride or dilation "
                f"(got output_padding={output_padding}, stride={stride}, dilation={dilation})."
            )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """2-D transposed convolution (PyTorch's conv_transpose2d): the gradient of conv2d w.r.t. its input.

    Every input pixel adds w times itself into a window of the output ("fractionally strided"
    convolution, used to upsample).

    Args:
        input: (N, C_in, H, W), or (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: (C_out,) or None.
        stride, padding, dilation, groups: those of the convolution this one transposes.
        output_padding: extra size added on one side of the output (to pick among the output
            sizes that stride > 1 makes ambiguous); must be < stride or < dilation. Default: 0.

    Shape:
        output: (N, C_out, H_out, W_out), H_out = (H - 1) sH - 2 pH + dH (kH - 1) + output_padding + 1.

    Example:
        >>> import deepgrad as dg
        >>> conv_transpose2d(dg.randn(2, 16, 8, 8), dg.randn(16, 3, 4, 4), stride=2, padding=1).shape
        (2, 3, 16, 16)
    """
    if amp_state.active():
        input, weight, bias = autocast_inputs(LOWER, input, weight, bias)
    _check_tensors("conv_transpose2d", input, weight, bias, 2)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.reshape((1,) + input.shape)
    in_channels, c_group, kh, kw = weight.shape
    stride = ntuple("conv_transpose2d", "stride", stride, 2)
    dilation = ntuple("conv_transpose2d", "dilation", dilation, 2)
    pad = ntuple("conv_transpose2d", "padding", padding, 2, minimum=0)
    output_padding = ntuple("conv_transpose2d", "output_padding", output_padding, 2, minimum=0)
    _check_output_padding("conv_transpose2d", output_padding, stride, dilation)
    _check_groups("conv_transpose2d", groups, in_channels, c_group * groups)
    if input.shape[1] != in_channels:
        raise ShapeError(
            f"conv_transpose2d: input has {input.shape[1]} channels but weight {weight.shape} expects "
            f"{in_channels} (weight.shape[0]); check in_channels."
        )
    _check_bias("conv_transpose2d", bias, c_group * groups)
    out_hw = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, s, p, d, k, op in zip(
            input.shape[2:], stride, pad, dilation, (kh, kw), output_padding
        )
    )
    if min(out_hw) < 1:
        raise ShapeError(
            f"conv_transpose2d: the output would be empty (size {out_hw} for input {input.shape}); "
            "reduce the padding."
        )
    inputs = (input, weight) if bias is None else (input, weight, bias)
    y = ConvTranspose2d.apply(
        *inputs,
        stride=stride,
        padding=tuple((p, p) for p in pad),
        dilation=dilation,
        groups=groups,
        in_hw=out_hw,
    )
    return y.reshape(y.shape[1:]) if unbatched else y


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """1-D transposed convolution (PyTorch's conv_transpose1d), as conv_transpose2d on a height-1 image.

    Shape:
        input (N, C_in, L) -> (N, C_out, (L - 1) s - 2 p + d (k - 1) + output_padding + 1).
    """
    if amp_state.active():
        input, weight, bias = autocast_inputs(LOWER, input, weight, bias)
    _check_tensors("conv_transpose1d", input, weight, bias, 1)
    name = "conv_transpose1d"
    x4 = input.reshape(input.shape[:-1] + (1, input.shape[-1]))
    w4 = weight.reshape(weight.shape[:2] + (1, weight.shape[2]))
    y = conv_transpose2d(
        x4,
        w4,
        bias,
        stride=(1,) + ntuple(name, "stride", stride, 1),
        padding=(0,) + ntuple(name, "padding", padding, 1, minimum=0),
        output_padding=(0,) + ntuple(name, "output_padding", output_padding, 1, minimum=0),
        groups=groups,
        dilation=(1,) + ntuple(name, "dilation", dilation, 1),
    )
    return y.reshape(y.shape[:-2] + (y.shape[-1],))


__all__ = [
    "Conv2d",
    "Conv2dWeightGrad",
    "ConvTranspose2d",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
]
