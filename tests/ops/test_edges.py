"""Edge points (STYLE.md 3.7, item 4): kinks, +-inf, nan, large magnitudes, repeated indices, zeros."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg


def _grad(fn, values, dtype="float64"):
    x = dg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.detach().numpy(), x.grad.numpy()


def test_subgradients_at_kinks_are_zero_like_pytorch():
    _, g = _grad(dg.relu, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    _, g = _grad(dg.abs, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    _, g = _grad(lambda t: t.clamp(0.0, 1.0), [-1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])  # bounds included
    _, g = _grad(lambda t: t.norm(), [0.0, 0.0])
    np.testing.assert_array_equal(g, [0.0, 0.0])  # not 0/0


def test_ties_share_the_gradient_evenly():
    _, g = _grad(lambda t: t.amax(), [1.0, 3.0, 3.0, 3.0])
    np.testing.assert_allclose(g, [0.0, 1 / 3, 1 / 3, 1 / 3])
    _, g = _grad(lambda t: dg.maximum(t, dg.tensor([1.0, 1.0], dtype="float64")), [1.0, 2.0])
    np.testing.assert_allclose(g, [0.5, 1.0])


def test_large_magnitudes_do_not_overflow():
    y, g = _grad(dg.sigmoid, [-1000.0, 0.0, 1000.0], dtype="float32")
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(g))
    y, g = _grad(lambda t: t.logsumexp(dim=0), [1000.0, 1000.0], dtype="float32")
    np.testing.assert_allclose(y, 1000.0 + math.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(g, [0.5, 0.5])
    y, g = _grad(lambda t: t.logsumexp(dim=0), [-1e30, -1e30], dtype="float32")
    np.testing.assert_allclose(y, -1e30, rtol=1e-6)
    assert np.all(np.isfinite(g))
    y, _ = _grad(dg.tanh, [-1e4, 1e4], dtype="float32")
    np.testing.assert_array_equal(y, [-1.0, 1.0])


def test_logsumexp_with_minus_infinity():
    x = dg.tensor([[-math.inf, -math.inf], [0.0, -math.inf]], dtype="float64")
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for an all -inf row
        np.testing.assert_array_equal(x.logsumexp(dim=1).numpy(), [-math.inf, 0.0])


def test_nan_and_inf_propagate_through_elementwise_ops_and_reductions():
    x = dg.tensor([math.nan, math.inf, -math.inf, 1.0], dtype="float64")
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(dg.isnan(x * 2).numpy(), [True, False, False, False])
        np.testing.assert_array_equal(dg.isinf(x.exp()).numpy(), [False, True, False, False])
        assert math.isnan(x.sum().item()) and math.isnan(x.amax().item())
        assert dg.tensor([math.inf, 1.0]).sum().item() == math.inf
        np.testing.assert_array_equal(dg.isfinite(x.relu()).numpy(), [False, False, True, True])


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    values = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.5, 2.0, 4.0]])
    _, g = _grad(lambda t: t.prod(dim=1), values)
    expected = np.array([[np.prod(np.delete(row, j)) for j in range(3)] for row in values])
    np.testing.assert_allclose(g, expected)
    _, g = _grad(lambda t: t.prod(), values[:1])
    np.testing.assert_allclose(g, [[0.0, 6.0, 0.0]])


def test_repeated_indices_accumulate_in_backward():
    x = dg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    x.grad = None
    x[dg.tensor([[1, 1], [1, 2]])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0, 1.0])
    m = dg.zeros(2, 3, dtype="float64", requires_grad=True)
    dg.gather(m, 1, dg.tensor([[0, 0, 0], [2, 1, 2]])).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [[3.0, 0.0, 0.0], [0.0, 1.0, 2.0]])
    m.grad = None
    m.index_select(1, dg.tensor([2, 2])).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [[0.0, 0.0, 2.0], [0.0, 0.0, 2.0]])


def test_scatter_add_accumulates_in_forward():
    out = dg.zeros(2, 3).scatter_add(1, dg.tensor([[0, 0, 2], [1, 1, 1]]), dg.ones(2, 3))
    np.testing.assert_array_equal(out.numpy(), [[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]])


def test_empty_tensors():
    e = dg.zeros(0, 3, requires_grad=True)
    assert e.sum().item() == 0.0
    assert e.sum(dim=0).shape == (3,)
    assert e.prod().item() == 1.0
    assert dg.cat([e, dg.ones(2, 3)]).shape == (2, 3)
    (e * 2).sum().backward()
    assert e.grad.shape == (0, 3)
    with pytest.raises(dg.ShapeError, match="amax: cannot reduce an empty tensor"):
        e.amax()
    assert math.isnan(e.mean().item())
