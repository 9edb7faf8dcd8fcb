"""create_graph=True and deepgrad.autograd.grad: gradients of gradients."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import grad, gradgradcheck


def f64(values, requires_grad: bool = True):
    return dg.tensor(values, dtype="float64", requires_grad=requires_grad)


def test_create_graph_gives_a_differentiable_gradient():
    x = f64([1.0, 2.0])
    (x**3).sum().backward(create_graph=True)
    g = x.grad  # 3 x^2, still in the graph
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])  # d/dx sum(3 x^2) = 6 x


def test_autograd_grad_returns_gradients_and_leaves_grad_alone():
    x = f64([1.0, 2.0])
    w = f64([3.0, -1.0])
    loss = (x * w).sum() + (x * x).sum()
    gx, gw = grad(loss, [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0 + 2.0, -1.0 + 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_autograd_grad_with_grad_outputs_and_non_leaf_inputs():
    x = f64([1.0, 2.0])
    h = x * 3.0
    y = h * h
    (gh,) = grad(y, h, grad_outputs=dg.tensor([1.0, 0.5], dtype="float64"))
    np.testing.assert_allclose(gh.numpy(), 2 * np.array([3.0, 6.0]) * [1.0, 0.5])


def test_autograd_grad_sums_over_several_outputs():
    x = f64([2.0])
    (g,) = grad([x * x, x * 5.0], [x], grad_outputs=[None, None])
    np.testing.assert_allclose(g.numpy(), [4.0 + 5.0])


def test_autograd_grad_allow_unused():
    x = f64([1.0])
    unused = f64([1.0])
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="grad: input 1 .*not used.*allow_unused=True"):
        grad(y, [x, unused], retain_graph=True)
    gx, gu = grad(y, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), [2.0])


def test_autograd_grad_frees_the_graph_unless_retained_or_create_graph():
    x = f64([1.0])
    y = (x.exp() * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        grad(y, x)
    z = (x.exp() * x).sum()
    grad(z, x, create_graph=True)  # retain_graph defaults to create_graph
    grad(z, x)


def test_autograd_grad_argument_errors():
    x = f64([1.0])
    with pytest.raises(RuntimeError, match=r"grad: input 0 \(shape \(1,\)\) does not require grad"):
        grad((x * 2.0).sum(), dg.tensor([1.0]))
    with pytest.raises(RuntimeError, match="grad: output 0 .*does not require grad"):
        grad(dg.tensor(1.0), x)
    with pytest.raises(ValueError, match="grad: got 2 grad_outputs for 1 outputs"):
        grad((x * 2.0).sum(), x, grad_outputs=[None, None])
    with pytest.raises(TypeError, match="grad: input 0 is a float"):
        grad((x * 2.0).sum(), [1.0])


def test_second_and_third_derivatives_of_sin():
    x = f64([0.3, 1.2, -2.0])
    y = x.sin().sum()
    (d1,) = grad(y, x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    values = np.array([0.3, 1.2, -2.0])
    np.testing.assert_allclose(d1.detach().numpy(), np.cos(values))
    np.testing.assert_allclose(d2.detach().numpy(), -np.sin(values))
    np.testing.assert_allclose(d3.numpy(), -np.cos(values))


def test_gradient_penalty_style_double_backward():
    # loss = |d/dx sum(w * x^2)|^2 = sum((2 w x)^2); d loss / d w = 8 w x^2
    x = f64([1.0, -2.0])
    w = f64([0.5, 3.0])
    (gx,) = grad((w * x * x).sum(), x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), 8 * np.array([0.5, 3.0]) * np.array([1.0, 4.0]))
    np.testing.assert_allclose(x.grad.numpy(), 8 * np.array([0.25, 9.0]) * np.array([1.0, -2.0]))


def test_mixed_partial_derivative():
    x = f64([2.0])
    y = f64([3.0])
    f = (x * x * y * y * y).sum()  # d2f/dxdy = 6 x y^2
    (gx,) = grad(f, x, create_graph=True)
    (gxy,) = grad(gx.sum(), y)
    np.testing.assert_allclose(gxy.numpy(), [6 * 2.0 * 9.0])


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: (a * b).tanh(),
        lambda a, b: (a.exp() / (b * b + 1.0)).log(),
        lambda a, b: (a @ b.T).sigmoid().sum(dim=1),
        lambda a, b: (a - b).abs().sqrt(),
    ],
    ids=["tanh-mul", "log-div-exp", "matmul-sigmoid-sum", "sqrt-abs"],
)
def test_gradgradcheck_on_composites(fn):
    rng = np.random.default_rng(3)
    a = dg.tensor(rng.uniform(0.5, 1.5, (2, 3)), requires_grad=True)
    b = dg.tensor(rng.uniform(-1.5, -0.5, (2, 3)), requires_grad=True)
    assert gradgradcheck(fn, (a, b))


def test_autograd_grad_runs_the_hooks_of_the_inputs_it_returns_only():
    x = f64([1.0, 2.0])
    w = f64([3.0, 4.0])
    seen = []
    x.register_hook(lambda g: g * 10.0)
    w.register_hook(lambda g: seen.append("w"))
    (gx,) = grad((x * w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [30.0, 40.0])
    assert seen == [] and w.grad is None
