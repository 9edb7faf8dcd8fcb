"""Pooling: max/avg/adaptive pooling against loop references, gradients (first max on ties), layers, parity."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))

from op_db_conv import ref_adaptive_pool2d, ref_avg_pool2d, ref_max_pool2d

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.backend import DTypeError, ShapeError

RNG = np.random.default_rng(1)


def _t(array, requires_grad=False):
    return dg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def _distinct(*shape):
    """Values all different (no ties), so that the max of each window is unique."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


MAX_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "dilation": 2, "padding": 1},
    {"kernel_size": (1, 4), "stride": (1, 4)},
]


@pytest.mark.parametrize("kwargs", MAX_CASES)
def test_max_pool2d_matches_loop_reference_with_indices_and_gradient(kwargs):
    x = _distinct(2, 3, 9, 8)
    xt = _t(x, True)
    y, idx = F.max_pool2d(xt, return_indices=True, **kwargs)
    ref, ref_idx = ref_max_pool2d(x, return_indices=True, **kwargs)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    assert idx.dtype == dg.int64
    dy = RNG.standard_normal(ref.shape)
    y.backward(_t(dy))
    expected = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            np.add.at(expected[n, c].reshape(-1), ref_idx[n, c].reshape(-1), dy[n, c].reshape(-1))
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_max_pool2d_ties_send_the_gradient_to_the_first_max():
    x = _t(np.zeros((1, 1, 4, 4)), True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # Window (p, q) starts at (p, q); its first position wins, so every window's top-left corner gets 1.
    expected = np.zeros((4, 4))
    expected[:3, :3] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_max_pool2d_gradcheck_and_gradgradcheck():
    x = _t(_distinct(1, 2, 5, 5), True)
    f = lambda x: F.max_pool2d(x, 3, stride=2, padding=1) ** 2
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


def test_max_pool1d_and_unbatched_input():
    x = _distinct(2, 3, 11)
    y = F.max_pool1d(_t(x), 3, stride=2, padding=1)
    ref = ref_max_pool2d(x[:, :, None, :], (1, 3), stride=(1, 2), padding=(0, 1))[:, :, 0]
    np.testing.assert_array_equal(y.numpy(), ref)
    np.testing.assert_array_equal(F.max_pool2d(_t(x), 2).numpy(), ref_max_pool2d(x[None], 2)[0])
    _, idx = F.max_pool1d(_t(x), 2, return_indices=True)
    assert idx.shape == (2, 3, 5) and int(idx.numpy().max()) <= 10


AVG_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 1), "divisor_override": 5},
    {"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True},
]


@pytest.mark.parametrize("kwargs", AVG_CASES)
def test_avg_pool2d_matches_loop_reference_and_gradcheck(kwargs):
    x = RNG.standard_normal((2, 3, 9, 8))
    y = F.avg_pool2d(_t(x), **kwargs)
    np.testing.assert_allclose(y.numpy(), ref_avg_pool2d(x, **kwargs), rtol=1e-12, atol=1e-12)
    small = _t(RNG.standard_normal((1, 1, 5, 4)), True)
    assert gradcheck(lambda a: F.avg_pool2d(a, **kwargs), (small,))


def test_avg_pool_gradgradcheck_and_1d():
    x = _t(RNG.standard_normal((1, 2, 4, 4)), True)
    assert gradgradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, count_include_pad=False) ** 2, (x,))
    x1 = RNG.standard_normal((2, 3, 11))
    y = F.avg_pool1d(_t(x1), 3, stride=2, padding=1, count_include_pad=False)
    ref = ref_avg_pool2d(x1[:, :, None], (1, 3), (1, 2), (0, 1), count_include_pad=False)[:, :, 0]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("output_size", [(3, 2), 1, (3, 4), 5, (None, 3), (4, 2), (9, 8)])
def test_adaptive_pools_match_loop_reference(output_size):
    x = _distinct(2, 3, 9, 8)
    np.testing.assert_allclose(
        F.adaptive_avg_pool2d(_t(x), output_size).numpy(),
        ref_adaptive_pool2d(x, output_size, np.mean),
        rtol=1e-12,
    )
    y, idx = F.adaptive_max_pool2d(_t(x), output_size, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ref_adaptive_pool2d(x, output_size, np.max))
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(
        np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), axis=2), y.numpy().reshape(2, 3, -1)
    )


def test_adaptive_pools_gradcheck_and_1d():
    x = _t(_distinct(1, 2, 5, 4), True)
    assert gradcheck(lambda a: F.adaptive_avg_pool2d(a, (3, 3)), (x,))
    assert gradcheck(lambda a: F.adaptive_max_pool2d(a, (2, 3)), (x,))
    x1 = RNG.standard_normal((2, 3, 10))
    y = F.adaptive_avg_pool1d(_t(x1), 4)
    np.testing.assert_allclose(
        y.numpy(), ref_adaptive_pool2d(x1[:, :, None], (1, 4), np.mean)[:, :, 0], rtol=1e-12
    )


def test_pooling_errors():
    x = dg.randn(1, 2, 6, 6)
    with pytest.raises(ValueError, match="at most half of the kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ShapeError, match="output would be empty"):
        F.max_pool2d(x, 7)
    with pytest.raises(ShapeError, match="4 dimensions"):
        F.avg_pool2d(dg.randn(6), 2)
    with pytest.raises(DTypeError, match="floating-point"):
        F.max_pool2d(dg.ones(1, 1, 4, 4, dtype="int64"), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(
        ValueError, match=r"^MaxPool2d: kernel_size must be a positive int \(got 0\)\.$"
    ):
        nn.MaxPool2d(0)
    with pytest.raises(
        ValueError, match=r"^max_pool2d: stride\[0\] must be a positive int \(got 0\)\.$"
    ):
        F.max_pool2d(x, 2, stride=(0, 1))
    with pytest.raises(ValueError, match="output_size"):
        nn.AdaptiveAvgPool2d((2, 2, 2))


def test_pooling_layers():
    x = dg.randn(2, 3, 8, 8)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    y, idx = nn.MaxPool2d(3, stride=2, padding=1, return_indices=True)(x)
    assert y.shape == idx.shape == (2, 3, 4, 4)
    assert nn.MaxPool1d(3, stride=2)(dg.randn(2, 3, 9)).shape == (2, 3, 4)
    assert nn.AvgPool2d(2, ceil_mode=True)(dg.randn(1, 1, 5, 5)).shape == (1, 1, 3, 3)
    assert nn.AvgPool1d(2)(dg.randn(1, 1, 6)).shape == (1, 1, 3)
    assert nn.AdaptiveAvgPool2d((None, 2))(x).shape == (2, 3, 8, 2)
    assert nn.AdaptiveAvgPool1d(3)(dg.randn(1, 2, 7)).shape == (1, 2, 3)
    assert nn.AdaptiveMaxPool2d(3)(x).shape == (2, 3, 3, 3)
    assert "kernel_size=(2, 2)" in repr(nn.MaxPool2d(2))


@pytest.mark.parity
@pytest.mark.parametrize(
    "make, x_shape",
    [
        (lambda m: m.MaxPool2d(2), (4, 6, 24, 24)),
        (lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 10, 9)),
        (lambda m: m.MaxPool2d((2, 3), stride=1, dilation=2), (2, 2, 7, 8)),
        (lambda m: m.MaxPool1d(4, stride=3, padding=2), (2, 3, 13)),
        (
            lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
            (2, 3, 10, 9),
        ),
        (lambda m: m.AvgPool2d(2, divisor_override=3), (2, 3, 6, 6)),
        (lambda m: m.AvgPool1d(3, stride=2, padding=1), (2, 3, 10)),
        (lambda m: m.AdaptiveAvgPool2d((3, 5)), (2, 3, 7, 11)),
        (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 7, 7)),
        (lambda m: m.AdaptiveAvgPool1d(4), (2, 3, 10)),
        (lambda m: m.AdaptiveMaxPool2d((3, 4)), (2, 3, 7, 9)),
    ],
)
def test_pooling_layers_match_torch(make, x_shape):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(x_shape).astype(np.float32)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = make(nn)(xd), make(torch.nn)(xt)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = RNG.standard_normal(tuple(yt.shape)).astype(np.float32)
    yd.backward(dg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parity
def test_max_pool2d_return_indices_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 9, 10)).astype(np.float32)
    _, idx = F.max_pool2d(
        dg.tensor(x), 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True, return_indices=True
    )
    _, ref = torch.nn.functional.max_pool2d(
        torch.tensor(x), 3, 2, 1, (1, 2), ceil_mode=True, return_indices=True
    )
    np.testing.assert_array_equal(idx.numpy(), ref.numpy())


def test_max_pool2d_with_more_than_127_window_positions():
    # 12 x 12 windows: the window index no longer fits the int8 used for small kernels.
    x = _distinct(1, 2, 13, 14)
    xt = _t(x, True)
    y, idx = F.max_pool2d(xt, 12, stride=1, return_indices=True)
    ref, ref_idx = ref_max_pool2d(x, 12, stride=1, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    y.sum().backward()
    expected = np.zeros(x.size)
    np.add.at(expected, (ref_idx + np.arange(2)[None, :, None, None] * 13 * 14).ravel(), 1.0)
    np.testing.assert_array_equal(xt.grad.numpy().ravel(), expected)
