"""Op-table entries for convolution, pooling and the fused recurrent layers, with their NumPy references.

The references are plain loops over output positions (or time steps), written from the definitions
and independent of the fast paths: ``tests/nn/test_conv.py``, ``test_pooling.py`` and
``test_rnn.py`` import them too.
"""

from __future__ import annotations

import numpy as np
from op_db import OpSpec, case

from deepgrad.ops import conv as C
from deepgrad.ops import pool as P
from deepgrad.ops import rnn as R


# -- convolution references --------------------------------------------------------------------------
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _same_pads(kernel, dilation):
    return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]


def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, p, q] = b[o] + sum_{c, i, j} w[o, c, i, j] x_pad[n, g(o) C_g + c, p s + i d, q s + j d], by loops."""
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    out_channels, c_group, kh, kw = w.shape
    if padding == "same":
        pads = _same_pads((kh, kw), (dh, dw))
    elif padding == "valid":
        pads = [(0, 0), (0, 0)]
    else:
        pads = [(p, p) for p in _pair(padding)]
    xpad = np.pad(x, [(0, 0), (0, 0)] + pads)
    ho = (xpad.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xpad.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], out_channels, ho, wo))
    per_group = out_channels // groups
    for o in range(out_channels):
        c0 = (o // per_group) * c_group
        for p in range(ho):
            for q in range(wo):
                patch = xpad[
                    :,
                    c0 : c0 + c_group,
                    p * sh : p * sh + dh * (kh - 1) + 1 : dh,
                    q * sw : q * sw + dw * (kw - 1) + 1 : dw,
                ]
                y[:, o, p, q] = (patch * w[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b[None, :, None, None]
    return y


def ref_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    pad2 = (
        padding
        if isinstance(padding, str)
        else (0, padding if isinstance(padding, int) else padding[0])
    )
    s = stride if isinstance(stride, int) else stride[0]
    d = dilation if isinstance(dilation, int) else dilation[0]
    y = ref_conv2d(x[:, :, None, :], w[:, :, None, :], b, (1, s), pad2, (1, d), groups)
    return y[:, :, 0, :]


def ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel adds x[n, c, p, q] * w[c] into the output window at (p s, q s), then crop the padding."""
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (
        _pair(stride),
        _pair(padding),
        _pair(output_padding),
        _pair(dilation),
    )
    n, in_channels, h, width = x.shape
    _, out_group, kh, kw = w.shape
    h_out = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    w_out = (width - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    full = np.zeros(
        (
            n,
            out_group * groups,
            (h - 1) * sh + dh * (kh - 1) + 1 + oh,
            (width - 1) * sw + dw * (kw - 1) + 1 + ow,
        )
    )
    in_group = in_channels // groups
    for c in range(in_channels):
        o0 = (c // in_group) * out_group
        for p in range(h):
            for q in range(width):
                full[
                    :,
                    o0 : o0 + out_group,
                    p * sh : p * sh + dh * (kh - 1) + 1 : dh,
                    q * sw : q * sw + dw * (kw - 1) + 1 : dw,
                ] += x[:, c, p, q][:, None, None, None] * w[c]
    y = full[:, :, ph : ph + h_out, pw : pw + w_out]
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def ref_conv2d_weight_grad(x, g, kernel=(1, 1), stride=1, padding=0, dilation=1, groups=1):
    """dw[o, c, i, j] = sum_{n, p, q} g[n, o, p, q] x_pad[n, g(o) C_g + c, p s + i d, q s + j d]."""
    (sh, sw), (dh, dw), (kh, kw) = _pair(stride), _pair(dilation), kernel
    xpad = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in _pair(padding)])
    out_channels, ho, wo = g.shape[1:]
    c_group = x.shape[1] // groups
    dw_ = np.zeros((out_channels, c_group, kh, kw))
    per_group = out_channels // groups
    for o in range(out_channels):
        c0 = (o // per_group) * c_group
        for i in range(kh):
            for j in range(kw):
                window = xpad[
                    :,
                    c0 : c0 + c_group,
                    i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wo - 1) + 1 : sw,
                ]
                dw_[o, :, i, j] = (window * g[:, o][:, None]).sum(axis=(0, 2, 3))
    return dw_


# -- pooling references ----------------------------------------------------------------------------
def _out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_windows(x, kernel_size, stride, padding, dilation, ceil_mode, fill):
    """Yield (p, q, window (N, C, kh, kw), rows, cols) with out-of-input positions set to ``fill``."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride if stride is not None else kernel_size)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    h, w = x.shape[2:]
    ho = _out_size(h, kh, sh, ph, dh, ceil_mode)
    wo = _out_size(w, kw, sw, pw, dw, ceil_mode)
    for p in range(ho):
        for q in range(wo):
            rows = [p * sh - ph + i * dh for i in range(kh)]
            cols = [q * sw - pw + j * dw for j in range(kw)]
            window = np.full(x.shape[:2] + (kh, kw), fill)
            for i, r in enumerate(rows):
                for j, c in enumerate(cols):
                    if 0 <= r < h and 0 <= c < w:
                        window[:, :, i, j] = x[:, :, r, c]
            yield p, q, window, rows, cols, (ho, wo)


def ref_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max over each window (padding = -inf) and the flat H * W index of the first max."""
    y = idx = None
    for p, q, window, rows, cols, out in _pool_windows(
        x, kernel_size, stride, padding, dilation, ceil_mode, -np.inf
    ):
        if y is None:
            y = np.zeros(x.shape[:2] + out)
            idx = np.zeros(x.shape[:2] + out, dtype=np.int64)
        flat = window.reshape(window.shape[:2] + (-1,))
        best = flat.argmax(axis=2)  # the first max, as PyTorch
        y[:, :, p, q] = flat.max(axis=2)
        idx[:, :, p, q] = (
            np.array(rows)[best // len(cols)] * x.shape[3] + np.array(cols)[best % len(cols)]
        )
    return (y, idx) if return_indices else y


def ref_avg_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Sum over each window / divisor; with count_include_pad the divisor counts the window positions
    inside the padded input (H + 2p), else only those inside the input."""
    (ph, pw) = _pair(padding)
    h, w = x.shape[2:]
    y = None
    for p, q, window, rows, cols, out in _pool_windows(
        x, kernel_size, stride, padding, 1, ceil_mode, 0.0
    ):
        if y is None:
            y = np.zeros(x.shape[:2] + out)
        if divisor_override is not None:
            divisor = divisor_override
        elif count_include_pad:
            divisor = sum(1 for r in rows for c in cols if -ph <= r < h + ph and -pw <= c < w + pw)
        else:
            divisor = sum(1 for r in rows for c in cols if 0 <= r < h and 0 <= c < w)
        y[:, :, p, q] = window.sum(axis=(2, 3)) / divisor
    return y


def ref_adaptive_pool2d(x, output_size, reduce):
    h, w = x.shape[2:]
    oh, ow = _pair(output_size)
    oh, ow = oh or h, ow or w
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        r0, r1 = (i * h) // oh, -(-(i + 1) * h // oh)
        for j in range(ow):
            c0, c1 = (j * w) // ow, -(-(j + 1) * w // ow)
            y[:, :, i, j] = reduce(x[:, :, r0:r1, c0:c1], axis=(2, 3))
    return y


def _geometry(x_shape, kernel, stride, padding, dilation, ceil_mode=False):
    """The 2-D primitives' geometry tuple, for calling them directly in entries."""
    from deepgrad import zeros

    return P._pool_geometry("test", zeros(*x_shape), kernel, stride, padding, dilation, ceil_mode)


def ref_window_sum(x, geometry):
    kernel, stride, pads, dilation, out_hw = geometry
    xpad = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    y = np.zeros(x.shape[:2] + tuple(out_hw))
    for p in range(out_hw[0]):
        for q in range(out_hw[1]):
            rows = slice(
                p * stride[0], p * stride[0] + dilation[0] * (kernel[0] - 1) + 1, dilation[0]
            )
            cols = slice(
                q * stride[1], q * stride[1] + dilation[1] * (kernel[1] - 1) + 1, dilation[1]
            )
            y[:, :, p, q] = xpad[:, :, rows, cols].sum(axis=(2, 3))
    return y


def ref_window_spread(g, geometry, in_hw):
    """The adjoint of ref_window_sum: every g[p, q] added to all positions of window (p, q)."""
    kernel, stride, pads, dilation, out_hw = geometry
    full = np.zeros(g.shape[:2] + (in_hw[0] + sum(pads[0]), in_hw[1] + sum(pads[1])))
    for p in range(out_hw[0]):
        for q in range(out_hw[1]):
            rows = slice(
                p * stride[0], p * stride[0] + dilation[0] * (kernel[0] - 1) + 1, dilation[0]
            )
            cols = slice(
                q * stride[1], q * stride[1] + dilation[1] * (kernel[1] - 1) + 1, dilation[1]
            )
            full[:, :, rows, cols] += g[:, :, p, q][:, :, None, None]
    return full[:, :, pads[0][0] : pads[0][0] + in_hw[0], pads[1][0] : pads[1][0] + in_hw[1]]


# -- recurrent references ---------------------------------------------------------------------------
def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def ref_rnn_recurrence(xg, w_hh, h0, nonlinearity="tanh", reverse=False):
    h, out = h0, np.zeros_like(xg)
    for t in range(xg.shape[0])[::-1] if reverse else range(xg.shape[0]):
        pre = xg[t] + h @ w_hh.T
        h = out[t] = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)
    return out


def ref_lstm_recurrence(xg, w_hh, h0, c0, reverse=False):
    hidden = h0.shape[1]
    h, c = h0, c0
    out = np.zeros((xg.shape[0] + 1,) + h0.shape)
    for t in range(xg.shape[0])[::-1] if reverse else range(xg.shape[0]):
        z = xg[t] + h @ w_hh.T
        i, f = _sigmoid(z[:, :hidden]), _sigmoid(z[:, hidden : 2 * hidden])
        g, o = np.tanh(z[:, 2 * hidden : 3 * hidden]), _sigmoid(z[:, 3 * hidden :])
        c = f * c + i * g
        h = out[t] = o * np.tanh(c)
    out[-1] = c
    return out


def ref_gru_recurrence(xg, w_hh, b_hh, h0, reverse=False):
    hidden = h0.shape[1]
    h, out = h0, np.zeros((xg.shape[0],) + h0.shape)
    for t in range(xg.shape[0])[::-1] if reverse else range(xg.shape[0]):
        hg = h @ w_hh.T + b_hh
        r = _sigmoid(xg[t, :, :hidden] + hg[:, :hidden])
        z = _sigmoid(xg[t, :, hidden : 2 * hidden] + hg[:, hidden : 2 * hidden])
        n = np.tanh(xg[t, :, 2 * hidden :] + r * hg[:, 2 * hidden :])
        h = out[t] = (1 - z) * n + z * h
    return out


# -- the entries ----------------------------------------------------------------------------------
CONV2D = [
    case((1, 2, 4, 4), (3, 2, 2, 2)),
    case((2, 2, 5, 4), (2, 1, 3, 2), stride=(2, 1), padding=1, groups=2),
    case((1, 1, 5, 5), (2, 1, 2, 2), dilation=2, padding="same"),
    case((2, 3, 6, 5), (4, 3, 3, 3), stride=2, padding=(1, 0)),
    case((4, 4, 9, 8), (6, 2, 3, 3), stride=(1, 2), padding=2, dilation=(2, 1), groups=2),
]
CONV2D_BIAS = [
    case((1, 2, 4, 3), (3, 2, 2, 2), (3,)),
    case((2, 4, 6, 6), (4, 1, 3, 3), (4,), padding=1, groups=4),
]
CONV1D = [
    case((2, 2, 6), (3, 2, 3)),
    case((1, 4, 9), (4, 2, 3), stride=2, padding=2, dilation=2, groups=2),
    case((2, 3, 7), (2, 3, 4), padding="same"),
]
CONV_T = [
    case((1, 2, 3, 3), (2, 3, 2, 2)),
    case((1, 2, 3, 2), (2, 1, 3, 3), stride=2, padding=1, output_padding=1, groups=2),
    case((2, 2, 2, 3), (2, 2, 2, 3), stride=(1, 2), dilation=2, output_padding=(1, 1)),
    case((2, 4, 4, 5), (4, 3, 3, 3), stride=2, padding=1),
]
WEIGHT_GRAD = [
    case((1, 2, 4, 4), (1, 3, 3, 3), kernel=(2, 2)),
    case((2, 2, 5, 4), (2, 2, 3, 4), kernel=(3, 2), stride=(2, 1), padding=1, groups=2),
    case((2, 3, 7, 6), (2, 4, 2, 3), kernel=(3, 2), stride=2, dilation=(2, 1)),
]


def _conv2d_weight_grad(x, g, kernel=(1, 1), stride=1, padding=0, dilation=1, groups=1):
    pad = _pair(padding)
    return C.Conv2dWeightGrad.apply(
        x,
        g,
        kernel=kernel,
        stride=_pair(stride),
        padding=((pad[0],) * 2, (pad[1],) * 2),
        dilation=_pair(dilation),
        groups=groups,
    )


MAXPOOL = [
    case((1, 1, 4, 4), kernel_size=2),
    case((1, 2, 5, 4), kernel_size=3, stride=2, padding=1),
    case((2, 1, 5, 6), kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True),
    case((2, 3, 9, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True),
]
AVGPOOL = [
    case((1, 1, 4, 4), kernel_size=2),
    case((1, 2, 5, 4), kernel_size=3, stride=2, padding=1, count_include_pad=False),
    case((2, 1, 5, 6), kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), ceil_mode=True),
    case((2, 3, 9, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    case((1, 2, 4, 5), kernel_size=2, stride=1, divisor_override=3),
]
ADAPTIVE = [
    case((1, 1, 4, 4), output_size=2),
    case((1, 2, 5, 4), output_size=(3, 3)),
    case((2, 1, 7, 5), output_size=(2, None)),
    case((2, 2, 6, 6), output_size=1),
]
SPREAD_GEOMETRIES = [
    ((1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1)),
    ((1, 2, 5, 4), (3, 3), (2, 1), (1, 1), (1, 1)),
    ((2, 1, 5, 6), (2, 3), (1, 2), (1, 0), (2, 1)),
]


def _scatter_case(x_shape, kernel, stride, padding, dilation):
    """A scatter of g to random window positions (as max-pooling's backward does)."""
    geometry = _geometry(x_shape, kernel, stride, padding, dilation)
    out_shape = x_shape[:2] + tuple(geometry[4])
    index = (
        np.random.default_rng(7).integers(0, kernel[0] * kernel[1], size=out_shape).astype(np.int8)
    )
    return case(out_shape, index=index, geometry=geometry, in_hw=x_shape[2:])


def ref_window_scatter(g, index, geometry, in_hw):
    kernel, stride, pads, dilation, out_hw = geometry
    full = np.zeros(g.shape[:2] + (in_hw[0] + sum(pads[0]), in_hw[1] + sum(pads[1])))
    for p in range(out_hw[0]):
        for q in range(out_hw[1]):
            i, j = np.divmod(index[:, :, p, q].astype(np.int64), kernel[1])
            rows = p * stride[0] + i * dilation[0]
            cols = q * stride[1] + j * dilation[1]
            for n in range(g.shape[0]):
                for c in range(g.shape[1]):
                    full[n, c, rows[n, c], cols[n, c]] += g[n, c, p, q]
    return full[:, :, pads[0][0] : pads[0][0] + in_hw[0], pads[1][0] : pads[1][0] + in_hw[1]]


def _spread_case(x_shape, kernel, stride, padding, dilation):
    geometry = _geometry(x_shape, kernel, stride, padding, dilation)
    return case(x_shape[:2] + tuple(geometry[4]), geometry=geometry, in_hw=x_shape[2:])


T, B, I, H = 3, 2, 2, 3
RNN_CASES = [
    case((T, B, H), (H, H), (B, H)),
    case((T, B, H), (H, H), (B, H), reverse=True),
    case((1, 1, 2), (2, 2), (1, 2), nonlinearity="relu"),
    case((4, 2, 2), (2, 2), (2, 2), nonlinearity="relu", reverse=True),
]
LSTM_CASES = [
    case((T, B, 4 * 2), (4 * 2, 2), (B, 2), (B, 2)),
    case((2, 1, 4 * 3), (4 * 3, 3), (1, 3), (1, 3), reverse=True),
]
GRU_CASES = [
    case((T, B, 3 * 2), (3 * 2, 2), (3 * 2,), (B, 2)),
    case((2, 1, 3 * 3), (3 * 3, 3), (3 * 3,), (1, 3), reverse=True),
]
PROJECTION_CASES = [
    case((T * B, I), (4 * H, I), (4 * H,)),
    case((5, 3), (4, 3)),  # no bias
    case((1, 1), (1, 1), (1,)),
]


def ref_projection(x, w, b=None):
    return x @ w.T + (0 if b is None else b)


OPS = [
    OpSpec(
        "conv2d",
        C.conv2d,
        ref_conv2d,
        CONV2D,
        covers=("Conv2d", "ConvTranspose2d", "Conv2dWeightGrad"),
    ),
    OpSpec("conv2d_bias", C.conv2d, ref_conv2d, CONV2D_BIAS, covers=("Conv2d",)),
    OpSpec("conv1d", C.conv1d, ref_conv1d, CONV1D, covers=("Conv2d",)),
    OpSpec(
        "conv_transpose2d",
        C.conv_transpose2d,
        ref_conv_transpose2d,
        CONV_T,
        covers=("ConvTranspose2d", "Conv2d", "Conv2dWeightGrad"),
    ),
    OpSpec(
        "conv2d_weight_grad",
        _conv2d_weight_grad,
        ref_conv2d_weight_grad,
        WEIGHT_GRAD,
        covers=("Conv2dWeightGrad", "Conv2d", "ConvTranspose2d"),
    ),
    OpSpec(
        "max_pool2d",
        P.max_pool2d,
        ref_max_pool2d,
        MAXPOOL,
        distinct=True,
        covers=("MaxPool2d", "WindowScatter2d"),
    ),
    OpSpec(
        "window_scatter2d",
        lambda g, index, **kw: P.WindowScatter2d.apply(g, index=g.xp.asarray(index), **kw),
        ref_window_scatter,
        [_scatter_case(*args) for args in SPREAD_GEOMETRIES],
        covers=("WindowScatter2d", "WindowGather2d"),
    ),
    OpSpec(
        "avg_pool2d",
        P.avg_pool2d,
        ref_avg_pool2d,
        AVGPOOL,
        covers=("WindowSum2d", "WindowSpread2d"),
    ),
    OpSpec(
        "window_spread2d",
        lambda g, **kw: P.WindowSpread2d.apply(g, **kw),
        lambda g, geometry, in_hw: ref_window_spread(g, geometry, in_hw),
        [_spread_case(*args) for args in SPREAD_GEOMETRIES],
        covers=("WindowSpread2d", "WindowSum2d"),
    ),
    OpSpec(
        "adaptive_avg_pool2d",
        P.adaptive_avg_pool2d,
        lambda a, output_size: ref_adaptive_pool2d(a, output_size, np.mean),
        ADAPTIVE,
        covers=(),
    ),
    OpSpec(
        "adaptive_max_pool2d",
        P.adaptive_max_pool2d,
        lambda a, output_size: ref_adaptive_pool2d(a, output_size, np.max),
        ADAPTIVE,
        distinct=True,
        covers=(),
    ),
    OpSpec(
        "rnn_recurrence",
        lambda *t, **kw: R.RNNRecurrence.apply(*t, **kw),
        ref_rnn_recurrence,
        RNN_CASES,
        domain=(-1.0, 1.0),
        covers=("RNNRecurrence",),
        kinks=(0.0,),
    ),
    OpSpec(
        "lstm_recurrence",
        lambda *t, **kw: R.LSTMRecurrence.apply(*t, **kw),
        ref_lstm_recurrence,
        LSTM_CASES,
        domain=(-1.0, 1.0),
        covers=("LSTMRecurrence",),
    ),
    OpSpec(
        "gru_recurrence",
        lambda *t, **kw: R.GRURecurrence.apply(*t, **kw),
        ref_gru_recurrence,
        GRU_CASES,
        domain=(-1.0, 1.0),
        covers=("GRURecurrence",),
    ),
    OpSpec(
        "rnn_projection",
        lambda *t: R.Projection.apply(*t),
        ref_projection,
        PROJECTION_CASES,
        covers=("Projection",),
    ),
]
