"""The fused Linear primitive equals its composite reference, matmul(x, w.mT) + b."""

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops.linalg import Linear, linear


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 5, 3), (1, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_linear_matches_composite(x_shape, with_bias):
    dg.manual_seed(0)
    x = dg.randn(*x_shape, dtype="float64", requires_grad=True)
    w = dg.randn(6, 3, dtype="float64", requires_grad=True)
    b = dg.randn(6, dtype="float64", requires_grad=True) if with_bias else None
    upstream = dg.randn(*x_shape[:-1], 6, dtype="float64")

    fused = linear(x, w, b)
    assert fused.grad_fn.fn is Linear
    inputs = [x, w] + ([b] if with_bias else [])
    fused_grads = dg.autograd.grad(fused, inputs, upstream, create_graph=True)
    composite = x @ w.mT + (b if with_bias else 0.0)
    composite_grads = dg.autograd.grad(composite, inputs, upstream, create_graph=True)
    np.testing.assert_allclose(fused.detach().numpy(), composite.detach().numpy(), rtol=1e-12)
    for f, c in zip(fused_grads, composite_grads):
        np.testing.assert_allclose(f.detach().numpy(), c.detach().numpy(), rtol=1e-12)
    # second order: the gradients themselves differentiate the same way
    second_f = dg.autograd.grad(sum((g * g).sum() for g in fused_grads), [x, w])
    second_c = dg.autograd.grad(sum((g * g).sum() for g in composite_grads), [x, w])
    for f, c in zip(second_f, second_c):
        np.testing.assert_allclose(f.numpy(), c.numpy(), rtol=1e-10)


def test_linear_weight_gradient_is_accumulated_without_a_copy_of_a_view():
    x = dg.randn(8, 3)
    w = dg.randn(5, 3, requires_grad=True)
    linear(x, w).sum().backward()
    assert w.grad._data.base is None and w.grad._data.flags.c_contiguous


def test_linear_mixed_dtypes_fall_back_to_promotion():
    y = linear(dg.randn(2, 3, dtype="float64"), dg.randn(4, 3))
    assert y.dtype == np.float64 and y.shape == (2, 4)


def test_linear_shape_error_names_both_shapes():
    with pytest.raises(
        dg.ShapeError,
        match=r"linear: input of shape \(2, 3\) does not fit weight of shape \(4, 5\)",
    ):
        linear(dg.randn(2, 3), dg.randn(4, 5))
