"""Max-pooling's numba backward kernel (2x2 windows, stride 2) against the NumPy path it replaces."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.backend import kernels as K
from deepgrad.nn import functional as F

needs_numba = pytest.mark.skipif(not K.numba_available(), reason="numba not installed")


def _grads(x: np.ndarray, enabled: bool, **pool) -> tuple[np.ndarray, np.ndarray]:
    with K.use_numba(enabled):
        t = dg.from_numpy(x.copy()).requires_grad_()
        y = F.max_pool2d(t, **pool)
        g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
        y.backward(dg.from_numpy(g))
        return y.detach().numpy(), t.grad.numpy()


@needs_numba
@pytest.mark.parametrize("shape", [(3, 2, 8, 6), (2, 1, 24, 24), (2, 3, 7, 9)])
def test_kernel_gives_the_numpy_gradient_exactly(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, 0, 0, :4] = 1.0  # ties: the first position of the window wins
    x[0, 0, 2, 0] = np.nan  # a NaN makes the max NaN and keeps the earlier position
    x[-1, -1, :2, :2] = -np.inf
    y_numba, dx_numba = _grads(x, True, kernel_size=2)
    y_numpy, dx_numpy = _grads(x, False, kernel_size=2)
    np.testing.assert_array_equal(y_numba, y_numpy)
    np.testing.assert_array_equal(dx_numba, dx_numpy)


@needs_numba
def test_kernel_is_used_only_where_it_applies(monkeypatch):
    calls = []
    real = K.kernel

    def spy(name):
        calls.append(name)
        return real(name)

    monkeypatch.setattr("deepgrad.ops.pool.kernel", spy)
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32)
    _grads(x, True, kernel_size=2)
    assert calls == ["max_pool_2x2_backward"]
    calls.clear()
    _grads(x, True, kernel_size=2, padding=1)  # padded: the NumPy path
    _grads(x, True, kernel_size=3, stride=2)  # overlapping windows
    _grads(x.astype(np.float64), True, kernel_size=2)  # float64 keeps NumPy
    _grads(x[:, :, :7, :7].copy(), True, kernel_size=2)  # odd size: the windows do not tile
    assert calls == []


def test_float64_gradcheck_of_the_pool_still_passes():
    x = dg.from_numpy(np.random.default_rng(3).standard_normal((2, 2, 6, 6))).requires_grad_()
    assert dg.autograd.gradcheck(lambda t: F.max_pool2d(t, 2), (x,))
