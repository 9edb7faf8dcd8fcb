"""Convolution's fast paths against the plain code they replace: the numba forward and
weight-gradient kernels (stride 1, float32) and the blocked (N, C, H, W) -> (C, H, W, N) copy."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.backend import kernels as K
from deepgrad.nn import functional as F
from deepgrad.ops import conv as C

needs_numba = pytest.mark.skipif(not K.numba_available(), reason="numba not installed")


def _grads(x, w, b, enabled: bool, **conv) -> list[np.ndarray]:
    with K.use_numba(enabled):
        ts = [dg.from_numpy(a.copy()).requires_grad_() for a in (x, w, b)]
        y = F.conv2d(*ts, **conv)
        g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
        y.backward(dg.from_numpy(g))
        return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


@needs_numba
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "padding"),
    [
        ((16, 1, 12, 12), (6, 1, 5, 5), 0),  # LeNet's first layer, small
        ((3, 6, 9, 7), (5, 6, 3, 4), 1),  # odd output channels, an even kernel width, padding
        ((2, 2, 5, 5), (3, 2, 1, 1), 0),  # 1x1 kernel
        ((20, 3, 6, 6), (4, 3, 2, 3), (2, 0)),
        ((2, 12, 6, 6), (4, 12, 3, 3), 1),  # C * kh * kw = 108: im2col forward, kernel's dw
    ],
)
def test_conv_kernels_equal_the_numpy_path(x_shape, w_shape, padding):
    rng = np.random.default_rng(sum(x_shape))
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    fast = _grads(x, w, b, True, padding=padding)
    plain = _grads(x, w, b, False, padding=padding)
    for name, a, p in zip(("y", "dx", "dw", "db"), fast, plain):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, p, rtol=1e-5, atol=1e-5 * np.abs(p).max(), err_msg=name)


@needs_numba
def test_conv_kernels_are_used_only_where_they_apply(monkeypatch):
    calls = []
    real = K.kernel

    def spy(name):
        calls.append(name)
        return real(name)

    monkeypatch.setattr("deepgrad.ops.conv.kernel", spy)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = np.zeros(4, np.float32)
    _grads(x, w, b, True)
    assert calls == ["conv2d_forward", "conv2d_weight_grad"]
    calls.clear()
    _grads(rng.standard_normal((2, 11, 5, 5)).astype(np.float32), w[:, :1].repeat(11, 1), b, True)
    assert calls == ["conv2d_weight_grad"]  # C * kh * kw = 99: the im2col forward
    calls.clear()
    _grads(x, w, b, True, stride=2)
    _grads(x, w, b, True, dilation=2)
    _grads(x, w[:, :1], b, True, groups=2)
    _grads(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), True)
    assert calls == []


@pytest.mark.parametrize("shape", [(128, 16, 8, 8), (17, 8, 8, 8), (16, 3, 5, 5), (3, 2, 4, 4)])
def test_to_chwn_is_the_transpose(shape):
    """Sizes that take the blocked copy (rows a multiple of 2 KiB, a batch not a multiple of 8)
    and sizes that take the plain one give the same array."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = C.to_chwn(np, x)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, x.transpose(1, 2, 3, 0))


def test_float64_gradcheck_of_conv2d_still_passes():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    ts = [dg.from_numpy(a).requires_grad_() for a in (x, w)]
    assert dg.autograd.gradcheck(lambda a, b: F.conv2d(a, b, padding=1), ts)
