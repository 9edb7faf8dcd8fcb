"""dtype rules around autograd: float32 stays float32, gradients keep their tensor's dtype (DESIGN principle 5)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import grad


@pytest.mark.parametrize(
    "expression",
    [
        lambda x: x * 0.5,
        lambda x: 0.5 * x,
        lambda x: x + 1,
        lambda x: 2 - x,
        lambda x: x / 3,
        lambda x: 1.0 / (x + 2.0),
        lambda x: x**2,
        lambda x: 2.0**x,
        lambda x: x.sum(),
        lambda x: x.mean(dim=0),
        lambda x: x.amax(dim=1, keepdim=True),
        lambda x: x @ x.T,
        lambda x: (x * 1e-3).exp().log().tanh().sigmoid(),
        lambda x: x.clamp(min=0),
    ],
    ids=[
        "mul",
        "rmul",
        "add-int",
        "rsub-int",
        "div-int",
        "rdiv",
        "pow",
        "rpow",
        "sum",
        "mean",
        "amax",
        "matmul",
        "unary-chain",
        "clamp",
    ],
)
def test_float32_stays_float32_forward_and_backward(expression):
    x = dg.randn(3, 3, requires_grad=True)
    y = expression(x)
    assert y.dtype == dg.float32
    y.sum().backward() if y.ndim else y.backward()
    assert x.grad.dtype == dg.float32


def test_leaf_gradient_keeps_the_leaf_dtype_when_mixed_with_float64():
    w = dg.randn(3, requires_grad=True)  # float32
    c = dg.tensor([1.0, 2.0, 3.0], dtype="float64")
    y = (w * c).sum()
    assert y.dtype == dg.float64  # promotion like PyTorch
    y.backward()
    assert w.grad.dtype == dg.float32
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0, 3.0])


def test_accumulated_gradient_keeps_the_leaf_dtype():
    w = dg.randn(3, requires_grad=True)
    c = dg.ones(3, dtype="float64")
    (w * c).sum().backward()
    (w * c).sum().backward()
    assert w.grad.dtype == dg.float32
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 2.0, 2.0])


def test_autograd_grad_and_retained_gradients_keep_their_tensors_dtype():
    w = dg.randn(3, requires_grad=True)
    h = w * 2.0
    h.retain_grad()
    y = (h * dg.ones(3, dtype="float64")).sum()
    gw, gh = grad(y, [w, h], retain_graph=True)
    assert gw.dtype == dg.float32 and gh.dtype == dg.float32
    y.backward()
    assert h.grad.dtype == dg.float32 and w.grad.dtype == dg.float32


def test_float64_leaves_get_float64_gradients():
    x = dg.randn(2, dtype="float64", requires_grad=True)
    (x * 0.5).sum().backward()
    assert x.grad.dtype == dg.float64


def test_second_order_gradients_keep_float32():
    x = dg.randn(3, requires_grad=True)
    (g,) = grad((x**3).sum(), x, create_graph=True)
    (gg,) = grad(g.sum(), x)
    assert g.dtype == dg.float32 and gg.dtype == dg.float32
