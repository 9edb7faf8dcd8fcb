"""Fused primitives for transformer layers: GELU, layer norm, scaled dot-product attention.

Each names its composite reference (``nn.functional`` builds the same math from elementwise ops,
matmul and the fused softmax; the tests assert that both agree and gradcheck each primitive in
float64). They are primitives because one forward pass with in-place temporaries and a
hand-derived backward measurably beats the chain of small ops (docs/performance.md, note 9): the
pre-norm attention + MLP block of ``benchmarks/cases/attention_block.py`` (B=32, T=64, d=128,
4 heads, fwd+bwd, float32, 1 thread, AMD EPYC) went from ~97 to ~44 ms per step in-process
with these, the float32 erf (``backend/ops_compat.erf_float32``) and Linear's one-GEMM N-D path.

Like ``ops/fused.py``, each keeps an array path for the ordinary backward and rebuilds its
gradient from the saved inputs with Tensor ops when the backward itself is being recorded
(``create_graph=True``), so higher-order gradients work.
"""

from __future__ import annotations

import math

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import blas
from deepgrad.backend import erf as _erf
from deepgrad.ops import row_kernels
from deepgrad.ops.elementwise import Erf, where
from deepgrad.ops.fused import Softmax

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Gelu(Function):
    """y = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2.
    dx = dy * (Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi))

    Composite reference: ``x * (erf(x / sqrt 2) + 1) * 0.5``. A float32 NumPy forward runs the
    numba kernel where it measured faster (``row_kernels.gelu_applies``): the same bits.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        xp = ctx.xp
        if row_kernels.gelu_applies(x, lambda a: _gelu_arrays(xp, a)):  # float32, same values
            y, ctx.phi = row_kernels.gelu_forward(x)
        else:
            y, ctx.phi = _gelu_arrays(xp, x)
        return y

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        if GradMode.enabled:  # recorded: a graph of x
            phi = (Erf.apply(x * _INV_SQRT2) + 1.0) * 0.5
            return dy * (phi + x * (x * x * -0.5).exp() * _INV_SQRT_2PI)
        xp, xd = ctx.xp, x._data.reshape(-1)
        slope = xd * xd
        slope *= -0.5
        xp.exp(slope, out=slope)
        slope *= xd
        slope *= _INV_SQRT_2PI
        slope += ctx.phi.reshape(-1)
        slope *= dy._data.reshape(-1)
        return Tensor._make(slope.reshape(x.shape), None)


def _gelu_arrays(xp, x):
    """(y, phi) of GELU by array passes: phi = (1 + erf(x / sqrt 2)) / 2, y = x * phi."""
    rows = x.reshape(-1)  # at least 1-D: NumPy turns 0-d results into scalars
    phi = _erf(xp)(rows * x.dtype.type(_INV_SQRT2)).astype(x.dtype, copy=False)
    phi += 1.0
    phi *= 0.5
    return (rows * phi).reshape(x.shape), phi.reshape(x.shape)


class LayerNorm(Function):
    """y = xhat * w + b, xhat = (x - mean) / sqrt(var + eps), mean and biased var over the last
    ``ndim`` dims.   dx = invstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w;
    dw = sum(dy * xhat), db = sum(dy) over the leading dims

    Inputs: x, then w and/or b as ``weight`` / ``bias`` say (each of the normalized shape).
    Composite reference: ``(x - mean) * (mean((x - mean)^2) + eps) ** -0.5 * w + b``.
    """

    @staticmethod
    def forward(ctx, x, *params, ndim=1, eps=1e-5, weight=True, bias=True):
        dims = tuple(range(x.ndim - ndim, x.ndim))
        ctx.dims, ctx.eps, ctx.flags = dims, eps, (weight, bias)
        ctx.save_inputs(*range(1 + len(params)))
        w = params[0] if weight else None
        b = params[-1] if bias else None

        def reference(rows, dy):  # the NumPy path on (R, N) rows, timed against the kernels
            flat_w, flat_b = (None if a is None else a.reshape(-1) for a in (w, b))
            _, xhat, invstd = _layer_norm_arrays(ctx.xp, rows, flat_w, flat_b, (1,), eps)
            return _layer_norm_backward_arrays(ctx.xp, dy, xhat, invstd, flat_w, (1,), bias)

        if row_kernels.layer_norm_applies(x, w, b, ndim, reference):
            y, ctx.stats = row_kernels.layer_norm_forward(x, w, b, ndim, eps)
            return y
        y, ctx.xhat, ctx.invstd = _layer_norm_arrays(ctx.xp, x, w, b, dims, eps)
        ctx.stats = None
        return y

    @staticmethod
    def backward(ctx, dy):
        x, *params = ctx.saved_inputs
        (weight, bias), dims = ctx.flags, ctx.dims
        if GradMode.enabled:
            return _layer_norm_backward_recorded(ctx, x, params, dy)
        w = params[0]._data if weight else None
        if ctx.stats is not None:  # the forward ran the numba kernel
            dx, dw, db = row_kernels.layer_norm_backward(x._data, dy._data, w, ctx.stats, len(dims))
        else:
            dx, dw, db = _layer_norm_backward_arrays(
                ctx.xp, dy._data, ctx.xhat, ctx.invstd, w, dims, bias
            )
        grads = [Tensor._make(dx, None)]
        grads += [Tensor._make(d, None) for d, kept in ((dw, weight), (db, bias)) if kept]
        return tuple(grads) if len(grads) > 1 else grads[0]


def _layer_norm_arrays(xp, x, w, b, dims: tuple, eps: float):
    """LayerNorm's forward as NumPy passes: (y, xhat, 1 / std), the last two kept for backward."""
    xhat = x - x.mean(axis=dims, keepdims=True)
    var = (xhat * xhat).mean(axis=dims, keepdims=True)
    var += eps
    invstd = xp.sqrt(var, out=var)
    xp.divide(1.0, invstd, out=invstd)
    xhat *= invstd
    y = xhat * w if w is not None else xhat.copy()
    if b is not None:
        y += b
    return y, xhat, invstd


def _layer_norm_backward_arrays(xp, g, xhat, invstd, w, dims: tuple, bias: bool):
    """LayerNorm's backward as NumPy passes: (dx, dw or None, db or None)."""
    lead = tuple(range(xhat.ndim - len(dims)))
    dw = (g * xhat).sum(axis=lead) if w is not None else None
    db = g.sum(axis=lead) if bias else None
    if w is not None:
        g = g * w
    dx = xhat * (g * xhat).mean(axis=dims, keepdims=True)
    xp.subtract(g, dx, out=dx)
    dx -= g.mean(axis=dims, keepdims=True)
    dx *= invstd
    return dx, dw, db


def _layer_norm_backward_recorded(ctx, x: Tensor, params: list, dy: Tensor):
    """LayerNorm's backward with Tensor ops, the statistics rebuilt as a graph of x."""
    (weight, bias), dims = ctx.flags, ctx.dims
    lead = tuple(range(x.ndim - len(dims)))
    centered = x - x.mean(dim=dims, keepdim=True)
    invstd = ((centered * centered).mean(dim=dims, keepdim=True) + ctx.eps) ** -0.5
    xhat = centered * invstd
    g = dy * params[0] if weight else dy
    dx = g - g.mean(dim=dims, keepdim=True) - xhat * (g * xhat).mean(dim=dims, keepdim=True)
    grads = [dx * invstd]
    if weight:
        grads.append((dy * xhat).sum(dim=lead) if lead else dy * xhat)
    if bias:
        grads.append(dy.sum(dim=lead) if lead else dy)
    return tuple(grads) if len(grads) > 1 else grads[0]


class ScaledDotProductAttention(Function):
    """y = P @ v, P = softmax(q @ k^T * scale + M) over the keys, M = ``bias`` (an additive mask,
    a constant) plus, with ``causal``, -inf above the diagonal; a row masked everywhere gets P = 0.
    dv = P^T @ dy, dS = P * (dP - sum(dP * P)) * scale with dP = dy @ v^T,
    dq = dS @ k, dk = dS^T @ q

    q (*, L, E), k (*, S, E), v (*, S, Ev), S >= 1 (the leading dims broadcast; ``bias`` too, to
    (*, L, S)). One forward pass with the scores softmaxed in place and P kept for the backward.
    Composite reference: ``softmax((q * scale) @ k^T + M, dim=-1) @ v`` with fully masked rows
    set to 0 (``nn.functional.attention._attend``).
    """

    @staticmethod
    def forward(ctx, q, k, v, scale=1.0, causal=False, bias=None):
        xp = ctx.xp
        p = blas.matmul(q, k.swapaxes(-1, -2))  # batched GEMMs: the measured-fastest BLAS

        def reference(scores, dp):  # the NumPy path on a copy, timed against the kernels
            probs = _softmax_scores(xp, scores.copy(), scale, causal, None)
            return _softmax_backward_arrays(dp.copy(), probs, scale)

        ctx.row_kernels = bias is None and row_kernels.softmax_applies(p, causal, reference)
        if ctx.row_kernels:
            row_kernels.softmax_forward(p, scale, causal)
        else:
            p = _softmax_scores(xp, p, scale, causal, bias)
        ctx.p, ctx.scale, ctx.causal, ctx.bias = p, scale, causal, bias
        ctx.save_inputs(0, 1, 2)
        return blas.matmul(p, v)

    @staticmethod
    def backward(ctx, dy):
        q, k, v = ctx.saved_inputs
        if GradMode.enabled:
            return _attention_backward_recorded(ctx, q, k, v, dy)
        need_q, need_k, need_v = ctx.needs_input_grad
        p, g = ctx.p, dy._data
        dv = blas.matmul(p.swapaxes(-1, -2), g) if need_v else None
        ds = blas.matmul(g, v._data.swapaxes(-1, -2))
        if ctx.row_kernels and row_kernels.softmax_backward_applies(ds, p):
            row_kernels.softmax_backward(ds, p, ctx.scale)
        else:
            ds = _softmax_backward_arrays(ds, p, ctx.scale)
        dq = blas.matmul(ds, k._data) if need_q else None
        dk = blas.matmul(ds.swapaxes(-1, -2), q._data) if need_k else None
        return tuple(None if d is None else Tensor._make(d, None) for d in (dq, dk, dv))


def _softmax_scores(xp, p, scale: float, causal: bool, bias):
    """P = softmax(p * scale + M) over the last axis, in place where the mask fits p's shape
    (M: ``bias`` plus, with ``causal``, -inf above the diagonal); rows masked everywhere get 0."""
    p *= scale
    if causal:
        p += _causal_bias(xp, p.shape[-2], p.shape[-1], p.dtype)
    if bias is not None:
        shapes = zip(bias.shape[::-1], p.shape[::-1])
        fits = bias.ndim <= p.ndim and all(b in (1, n) for b, n in shapes)
        p = xp.add(p, bias, out=p) if fits else p + bias  # in place unless the mask adds dims
    row_max = p.max(axis=-1, keepdims=True)
    masked = bias is not None and not xp.isfinite(row_max).all()
    if masked:  # rows that attend to nothing: exp(-inf - 0) = 0 everywhere, then 0 / 1
        row_max[xp.isneginf(row_max)] = 0
    p -= row_max  # the max shift keeps exp() finite
    xp.exp(p, out=p)
    total = p.sum(axis=-1, keepdims=True)
    if masked:
        total[total == 0] = 1
    p /= total
    return p


def _softmax_backward_arrays(ds, p, scale: float):
    """dS = P * (dP - sum(dP * P)) * scale, in place in ds (which holds dP)."""
    ds -= (ds * p).sum(axis=-1, keepdims=True)
    ds *= p
    ds *= scale
    return ds


def _causal_bias(xp, rows: int, cols: int, dtype):
    """(rows, cols): 0 where key j <= query i, -inf above (top-left aligned)."""
    allowed = xp.arange(cols)[None, :] <= xp.arange(rows)[:, None]
    return xp.where(allowed, xp.asarray(0, dtype=dtype), xp.asarray(-math.inf, dtype=dtype))


def _attention_backward_recorded(ctx, q: Tensor, k: Tensor, v: Tensor, dy: Tensor):
    """The attention backward with Tensor ops, P rebuilt as a graph of q and k."""
    scores = (q * ctx.scale) @ k.mT
    if ctx.causal:
        bias = _causal_bias(q.xp, scores.shape[-2], scores.shape[-1], scores.dtype)
        scores = scores + Tensor._make(bias, None)
    if ctx.bias is not None:
        scores = scores + Tensor._make(ctx.bias, None)
    empty = Tensor._make(scores._data.max(axis=-1, keepdims=True) == -math.inf, None)
    p = where(empty, 0.0, Softmax.apply(where(empty, 0.0, scores), dim=-1))
    dp = dy @ v.mT
    ds = p * (dp - (dp * p).sum(dim=-1, keepdim=True)) * ctx.scale
    return ds @ k, ds.mT @ q, p.mT @ dy
