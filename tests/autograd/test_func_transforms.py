"""deepgrad.func: grad, value_and_grad, vjp, jacobian, hessian, hvp (torch.func style)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import func
from deepgrad.backend import DTypeError


def f64(values, requires_grad: bool = False):
    return dg.tensor(values, dtype="float64", requires_grad=requires_grad)


def rosenbrock(x):
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def rosenbrock_gradient(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        h[i, i + 1] = h[i + 1, i] = -400.0 * x[i]
    return h


POINT = np.array([-1.2, 1.0, 0.5, 2.0, -0.3])


# -- grad and value_and_grad ---------------------------------------------------------------------
def test_grad_matches_the_analytic_gradient():
    g = func.grad(rosenbrock)(f64(POINT))
    np.testing.assert_allclose(g.numpy(), rosenbrock_gradient(POINT), rtol=1e-12)
    assert not g.requires_grad and g.dtype == dg.float64


def test_value_and_grad():
    value, g = func.value_and_grad(lambda x: (x.sin() * x).sum())(f64([0.5, 2.0]))
    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(value.item(), (np.sin(x) * x).sum())
    np.testing.assert_allclose(g.numpy(), np.cos(x) * x + np.sin(x))


def test_argnums_and_keyword_arguments():
    def f(x, y, scale=1.0):
        return (x * y * y).sum() * scale

    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    gy = func.grad(f, argnums=1)(x, y, scale=2.0)
    np.testing.assert_allclose(gy.numpy(), 2.0 * 2 * np.array([1.0, 2.0]) * [3.0, 4.0])
    gx, gy2 = func.grad(f, argnums=(0, -1))(x, y)
    np.testing.assert_allclose(gx.numpy(), [9.0, 16.0])
    np.testing.assert_allclose(gy2.numpy(), [6.0, 16.0])


def test_has_aux():
    def f(x):
        loss = (x * x).sum()
        return loss, {"loss": loss, "doubled": x * 2.0}

    g, aux = func.grad(f, has_aux=True)(f64([1.0, 3.0]))
    np.testing.assert_allclose(g.numpy(), [2.0, 6.0])
    assert aux["loss"].item() == 10.0 and not aux["doubled"].requires_grad
    (value, aux2), g2 = func.value_and_grad(f, has_aux=True)(f64([1.0, 3.0]))
    assert value.item() == 10.0 and aux2["loss"].item() == 10.0
    np.testing.assert_allclose(g2.numpy(), [2.0, 6.0])


def test_a_constant_function_has_a_zero_gradient():
    g = func.grad(lambda x: dg.tensor(3.0, dtype="float64"))(f64([1.0, 2.0]))
    np.testing.assert_allclose(g.numpy(), [0.0, 0.0])


def test_transforms_write_no_grad_anywhere():
    w = f64([1.0, -1.0], requires_grad=True)  # a "model weight" the function closes over
    x = f64([0.5, 2.0])

    def loss(x):
        return (w * x * x).sum()

    func.grad(loss)(x)
    func.value_and_grad(loss)(x)
    func.vjp(lambda x: w * x, x)[1](f64([1.0, 1.0]))
    func.jacobian(lambda x: w * x)(x)
    func.hessian(loss)(x)
    func.hvp(loss, x, f64([1.0, 0.0]))
    assert w.grad is None and x.grad is None
    assert not x.requires_grad


def test_grad_ignores_an_enclosing_no_grad():
    with dg.no_grad():
        g = func.grad(lambda x: (x * x).sum())(f64([1.5]))
        assert not dg.is_grad_enabled()
    np.testing.assert_allclose(g.numpy(), [3.0])


def test_results_stay_differentiable_when_an_argument_requires_grad():
    x = f64([1.0, 2.0], requires_grad=True)
    g = func.grad(lambda t: (t**3).sum())(x)  # 3 x^2, a function of x
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


# -- nesting --------------------------------------------------------------------------------------
def test_nested_grad_gives_higher_derivatives():
    third = func.grad(func.grad(func.grad(lambda x: x.sin().sum())))
    np.testing.assert_allclose(third(f64(0.7)).item(), -np.cos(0.7))


def test_nested_grad_does_not_confuse_perturbations():
    # d/dx [x * (d/dy (x + y) at y = 1)] = d/dx [x * 1] = 1; a confused implementation gives 2.
    def outer(x):
        inner = func.grad(lambda y: (x + y).sum())(f64(1.0))
        return (x * inner).sum()

    np.testing.assert_allclose(func.grad(outer)(f64(1.0)).item(), 1.0)


def test_closure_over_an_outer_argument_is_differentiated():
    # d/dx [d/dy (x * y^2) at y = 3] = d/dx [6 x] = 6
    def outer(x):
        return func.grad(lambda y: (x * y * y).sum())(f64(3.0)).sum()

    np.testing.assert_allclose(func.grad(outer)(f64(2.0)).item(), 6.0)


# -- vjp -----------------------------------------------------------------------------------------
def test_vjp_can_be_called_several_times():
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out, vjp_fn = func.vjp(lambda x: f64(a) @ x, f64([1.0, -1.0]))
    np.testing.assert_allclose(out.numpy(), a @ [1.0, -1.0])
    for v in ([1.0, 0.0, 0.0], [0.5, 2.0, -1.0]):
        (g,) = vjp_fn(f64(v))
        np.testing.assert_allclose(g.numpy(), np.array(v) @ a)


def test_vjp_with_several_primals_and_outputs():
    def f(x, y):
        return x * y, (x + y).sum()

    (product, total), vjp_fn = func.vjp(f, f64([1.0, 2.0]), f64([3.0, 4.0]))
    np.testing.assert_allclose(product.numpy(), [3.0, 8.0])
    assert total.item() == 10.0
    gx, gy = vjp_fn((f64([1.0, 1.0]), f64(2.0)))
    np.testing.assert_allclose(gx.numpy(), [3.0 + 2.0, 4.0 + 2.0])
    np.testing.assert_allclose(gy.numpy(), [1.0 + 2.0, 2.0 + 2.0])


def test_vjp_has_aux_and_errors():
    out, vjp_fn, aux = func.vjp(lambda x: (x * 2.0, x.sum()), f64([1.0, 2.0]), has_aux=True)
    assert aux.item() == 3.0 and out.tolist() == [2.0, 4.0]
    with pytest.raises(
        RuntimeError, match=r"vjp_fn: cotangent 0 has shape \(3,\) but output 0 has shape \(2,\)"
    ):
        vjp_fn(f64([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="vjp: pass at least one primal"):
        func.vjp(lambda: None)


# -- jacobian, hessian, hvp -----------------------------------------------------------------------
def test_jacobian_of_a_known_function():
    # f(x) = exp(x) * sum(x): J[i, j] = exp(x_i) * (sum(x) [i == j] + 1)
    x = np.array([0.1, -0.4, 0.7])
    jac = func.jacobian(lambda t: t.exp() * t.sum())(f64(x))
    expected = np.exp(x)[:, None] * (x.sum() * np.eye(3) + 1.0)
    np.testing.assert_allclose(jac.numpy(), expected, rtol=1e-12)


def test_jacobian_shapes_argnums_and_tuple_outputs():
    a = np.arange(6.0).reshape(2, 3)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    jac = func.jacobian(lambda t: f64(a)[:, :, None] * t)(f64(x))  # output (2, 3, 4)
    assert jac.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(jac.numpy(), a[:, :, None, None] * np.eye(4))

    def f(u, v):
        return u * v, (u * u).sum()

    (ju, jv), (su, sv) = func.jacobian(f, argnums=(0, 1))(f64([1.0, 2.0]), f64([3.0, 5.0]))
    np.testing.assert_allclose(ju.numpy(), np.diag([3.0, 5.0]))
    np.testing.assert_allclose(jv.numpy(), np.diag([1.0, 2.0]))
    np.testing.assert_allclose(su.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(sv.numpy(), [0.0, 0.0])


def test_hessian_of_rosenbrock_matches_the_analytic_one():
    h = func.hessian(rosenbrock)(f64(POINT))
    assert h.shape == (5, 5) and not h.requires_grad
    np.testing.assert_allclose(h.numpy(), rosenbrock_hessian(POINT), rtol=1e-12)


def test_hessian_agrees_with_scipy():
    optimize = pytest.importorskip("scipy.optimize")
    np.testing.assert_allclose(
        func.hessian(rosenbrock)(f64(POINT)).numpy(), optimize.rosen_hess(POINT), rtol=1e-12
    )
    np.testing.assert_allclose(
        func.grad(rosenbrock)(f64(POINT)).numpy(), optimize.rosen_der(POINT), rtol=1e-12
    )


def test_hessian_of_a_matrix_argument():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    h = func.hessian(lambda m: (m * m * f64(a)).sum())(f64([[1.0, 2.0], [3.0, 4.0]]))
    assert h.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(h.numpy().reshape(4, 4), np.diag(2 * a.ravel()))


def test_hvp_matches_hessian_times_vector():
    v = np.array([0.3, -1.0, 2.0, 0.5, 1.5])
    value, hv = func.hvp(rosenbrock, f64(POINT), f64(v))
    np.testing.assert_allclose(value.item(), rosenbrock(f64(POINT)).item())
    np.testing.assert_allclose(hv.numpy(), rosenbrock_hessian(POINT) @ v, rtol=1e-12)


def test_hvp_with_several_primals():
    def f(x, y):
        return (x * x * y).sum()  # H = [[2y, 2x], [2x, 0]] per element

    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    vx, vy = np.array([1.0, 0.5]), np.array([2.0, 1.0])
    _, (hx, hy) = func.hvp(f, (f64(x), f64(y)), (f64(vx), f64(vy)))
    np.testing.assert_allclose(hx.numpy(), 2 * y * vx + 2 * x * vy)
    np.testing.assert_allclose(hy.numpy(), 2 * x * vx)


def test_hvp_of_a_linear_function_is_zero():
    _, hv = func.hvp(lambda x: (x * 3.0).sum(), f64([1.0, 2.0]), f64([1.0, 1.0]))
    np.testing.assert_allclose(hv.numpy(), [0.0, 0.0])


def test_float32_stays_float32():
    x = dg.tensor([1.0, 2.0])
    assert func.grad(lambda t: (t * t).sum())(x).dtype == dg.float32
    assert func.hessian(lambda t: (t**3).sum())(x).dtype == dg.float32


# -- errors ----------------------------------------------------------------------------------------
def test_transform_errors():
    x = f64([1.0, 2.0])
    with pytest.raises(
        RuntimeError,
        match=r"^grad: the function must return a one-element tensor \(got shape \(2,\)\)",
    ):
        func.grad(lambda t: t * 2.0)(x)
    with pytest.raises(TypeError, match="^grad: argument 0 is a float, not a Tensor"):
        func.grad(lambda t: t)(1.0)
    with pytest.raises(DTypeError, match="^value_and_grad: argument 0 has dtype int64"):
        func.value_and_grad(lambda t: t.sum())(dg.tensor([1, 2]))
    with pytest.raises(ValueError, match="argnums 3 is out of range"):
        func.grad(lambda t: t.sum(), argnums=3)(x)
    with pytest.raises(TypeError, match="has_aux=True the function must return a pair"):
        func.grad(lambda t: t.sum(), has_aux=True)(x)
    with pytest.raises(ValueError, match="hvp: got 1 tangents for 2 primals"):
        func.hvp(lambda a, b: (a * b).sum(), (x, x), x)
    with pytest.raises(TypeError, match="jacobian: the output of func must be a Tensor"):
        func.jacobian(lambda t: 3.0)(x)


def test_deepgrad_func_is_an_attribute_of_the_package():
    import deepgrad

    assert deepgrad.func.grad is func.grad
    assert deepgrad.func.hessian is func.hessian
