"""gradcheck and gradgradcheck pass on correct gradients and catch wrong ones, naming where."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import Tensor
from deepgrad.autograd import Function, GradcheckError, gradcheck, gradgradcheck


class WrongSquare(Function, register=False):
    """y = x^2 with a deliberately wrong backward: dx = 3 x dy (should be 2 x dy)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy * x * 3.0


class CubeWithFrozenSecondDerivative(Function, register=False):
    """y = x^3 whose backward is right to first order only: dx = dy * 3 x^2, but x^2 is taken off the graph."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return x * x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_inputs
        return dy * Tensor._make(x._data * x._data * 3.0, None)


def f64(values, requires_grad: bool = True):
    return dg.tensor(values, dtype="float64", requires_grad=requires_grad)


def test_test_primitives_stay_out_of_the_registry():
    assert WrongSquare not in Function.registry.values()
    assert CubeWithFrozenSecondDerivative not in Function.registry.values()


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: a * b + a.exp(),
        lambda a, b: (a / (b * b + 1.0)).tanh().sum(dim=0),
        lambda a, b: a @ b.T,
        lambda a, b: a * b[0],  # broadcasting: the gradient of b sums over the broadcast rows
    ],
    ids=["mul-exp", "div-tanh-sum", "matmul", "broadcast"],
)
def test_gradcheck_passes_on_correct_gradients(fn):
    rng = np.random.default_rng(0)
    a = f64(rng.uniform(-1, 1, (3, 2)))
    b = f64(rng.uniform(-1, 1, (3, 2)))
    assert gradcheck(fn, (a, b))


def test_gradcheck_fails_on_a_wrong_gradient_and_names_input_element_and_values():
    x = f64([1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongSquare.apply(t), (x,))
    message = str(info.value)
    assert "input 0" in message
    assert "input element 0, output element 0" in message
    assert "analytical 3," in message and "numerical 2 " in message  # 3 x vs 2 x at x = 1
    assert "2 of 4 entries differ" in message


def test_gradcheck_names_the_right_input():
    a = f64([1.0])
    b = f64([0.5])
    with pytest.raises(GradcheckError, match=r"w\.r\.t\. input 1 .*analytical 1.5, numerical 1\b"):
        gradcheck(lambda u, v: u + WrongSquare.apply(v), (a, b))


def test_gradcheck_can_return_false_instead_of_raising():
    assert gradcheck(lambda t: WrongSquare.apply(t), (f64([1.0]),), raise_exception=False) is False


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = f64([0.5, -1.5])
    assert gradcheck(lambda t: CubeWithFrozenSecondDerivative.apply(t), (x,))
    with pytest.raises(GradcheckError, match="analytical 0, numerical"):
        gradgradcheck(lambda t: CubeWithFrozenSecondDerivative.apply(t), (x,))
    assert gradgradcheck(lambda t: t * t * t, (x,))


def test_float32_inputs_warn():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="input 0 is float32, not float64.*double"):
        gradcheck(lambda t: t * 2.0, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)


def test_float64_inputs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda t: t * 2.0, (f64([1.0]),))


def test_gradcheck_leaves_the_callers_tensors_untouched_and_handles_strided_inputs():
    base = f64(np.arange(6.0).reshape(2, 3) + 1.0, requires_grad=False)
    x = base.T.requires_grad_()  # a non-contiguous leaf
    before = x.detach().numpy().copy()
    assert gradcheck(lambda t: (t * t).log(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        gradcheck(lambda t: t * 2.0, (f64([1.0], requires_grad=False),))
