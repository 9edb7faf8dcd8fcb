"""In-place operations, __setitem__, and the method aliases (mm, t(), size(), view, pow, type)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import BackwardError


def test_inplace_arithmetic_writes_into_the_same_array():
    x = dg.tensor([1.0, 2.0, 3.0])
    array = x._data
    x += 1
    x -= dg.tensor([0.5, 0.5, 0.5])
    x *= 2
    x /= 4
    assert x._data is array
    np.testing.assert_allclose(x.numpy(), (np.array([1.0, 2.0, 3.0]) + 1 - 0.5) * 2 / 4)
    assert x.dtype == dg.float32
    assert x._version == 4


def test_add_sub_with_alpha():
    x = dg.tensor([1.0, 2.0])
    x.add_(dg.tensor([1.0, 1.0]), alpha=3)
    np.testing.assert_allclose(x.numpy(), [4.0, 5.0])
    x.sub_(dg.tensor([2.0, 2.0]), alpha=0.5)
    np.testing.assert_allclose(x.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(dg.add(dg.ones(2), dg.ones(2), alpha=-2).numpy(), [-1.0, -1.0])
    np.testing.assert_allclose(dg.sub(dg.ones(2), 3.0, alpha=2).numpy(), [-5.0, -5.0])


def test_fill_zero_copy_clamp():
    x = dg.tensor([[-2.0, 0.5], [3.0, 1.0]])
    x.clamp_(min=0.0, max=1.0)
    np.testing.assert_allclose(x.numpy(), [[0.0, 0.5], [1.0, 1.0]])
    x.clamp_(None, 0.7)
    np.testing.assert_allclose(x.numpy(), [[0.0, 0.5], [0.7, 0.7]], rtol=1e-6)
    x.clamp_(0.6)
    np.testing.assert_allclose(x.numpy(), [[0.6, 0.6], [0.7, 0.7]], rtol=1e-6)
    x.fill_(2.5)
    np.testing.assert_array_equal(x.numpy(), np.full((2, 2), 2.5))
    x.zero_()
    np.testing.assert_array_equal(x.numpy(), np.zeros((2, 2)))
    x.copy_(dg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    x.copy_(dg.tensor([9.0, 8.0]))  # broadcasts like PyTorch
    np.testing.assert_array_equal(x.numpy(), [[9.0, 8.0], [9.0, 8.0]])
    m = dg.tensor([1.0, 2.0, 3.0])
    m.masked_fill_(m > 1.5, 0.0)
    np.testing.assert_array_equal(m.numpy(), [1.0, 0.0, 0.0])


def test_random_fills_are_seeded_and_in_range():
    dg.manual_seed(3)
    a = dg.empty(1000).uniform_(-1.0, 2.0)
    assert a.numpy().min() >= -1.0 and a.numpy().max() < 2.0
    dg.manual_seed(3)
    b = dg.empty(1000).uniform_(-1.0, 2.0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    n = dg.empty(20000, dtype="float64").normal_(1.0, 0.5)
    assert n.dtype == dg.float64
    assert abs(n.numpy().mean() - 1.0) < 0.02 and abs(n.numpy().std() - 0.5) < 0.02


def test_inplace_on_leaf_requiring_grad_is_allowed_under_no_grad():
    w = dg.ones(3, requires_grad=True)
    with dg.no_grad():
        w -= 0.5
        w.mul_(2)
        w.zero_()
        w.add_(dg.tensor([1.0, 2.0, 3.0]), alpha=0.1)
    np.testing.assert_allclose(
        w.numpy() if not w.requires_grad else w.detach().numpy(), [0.1, 0.2, 0.3], rtol=1e-6
    )
    assert w.requires_grad and w.grad_fn is None
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.mul_(2)


def test_inplace_on_non_leaf_rebinds_and_gradients_stay_correct():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y += 1  # out of place, y now points at the result
    y *= y
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * np.array([1.0, 2.0, 3.0]) + 1) * 2)


def test_inplace_with_a_grad_operand_joins_the_graph():
    acc = dg.zeros(3)
    w = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    acc += w * w
    assert acc.requires_grad
    acc.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0, 6.0])


def test_inplace_in_the_graph_keeps_self_shape_and_dtype_like_pytorch():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True) * 1
    with pytest.raises(dg.ShapeError, match=r"add_: result of shape \(2, 3\)"):
        x.add_(dg.ones(2, 3))
    with pytest.raises(dg.ShapeError, match="mul_"):
        x.mul_(dg.ones(2, 3, requires_grad=True))
    assert x.shape == (3,)
    w = dg.tensor([1.0, 2.0, 3.0], dtype=dg.float64, requires_grad=True)
    x.add_(w * w)  # float64 into float32: self stays float32, the gradient reaches w
    assert x.dtype == dg.float32 and x.shape == (3,)
    x.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0, 6.0])


def test_fill_and_copy_on_graph_tensors_route_gradients_like_pytorch():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.fill_(3.0)
    assert y.requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), [3.0, 3.0])
    (y * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])  # only through the second factor
    a = dg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    target = dg.zeros(3, 2)
    target.copy_(a * 3)  # broadcast and cast to float32, and target joins the graph
    assert target.dtype == dg.float32 and target.requires_grad
    target.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [9.0, 9.0])


def test_modifying_a_saved_input_in_place_is_detected():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    y = h * h  # saves h
    h += 1
    with pytest.raises(BackwardError, match="modified in place"):
        y.sum().backward()
    c = dg.tensor([1.0, 2.0])  # a constant saved for backward
    z = (x * c).sum()
    c.mul_(3)
    with pytest.raises(BackwardError, match="modified in place"):
        z.backward()


def test_setitem():
    x = dg.zeros(3, 4)
    x[0] = 1.0
    x[1, ::2] = dg.tensor([2.0, 3.0])
    x[x > 2.5] = -1.0
    x[[2, 2], [0, 3]] = 7.0
    expected = np.zeros((3, 4), dtype=np.float32)
    expected[0] = 1.0
    expected[1, ::2] = [2.0, 3.0]
    expected[expected > 2.5] = -1.0
    expected[[2, 2], [0, 3]] = 7.0
    np.testing.assert_array_equal(x.numpy(), expected)
    w = dg.zeros(2, requires_grad=True)
    with pytest.raises(
        RuntimeError, match="__setitem__: cannot assign into a tensor that requires grad"
    ):
        w[0] = 1.0
    with dg.no_grad():
        w[0] = 1.0
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 0.0])


def test_requires_grad_():
    x = dg.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(dg.DTypeError, match="only floating-point tensors can require gradients"):
        dg.tensor([1, 2]).requires_grad_()


def test_aliases():
    a, b = dg.randn(3, 4), dg.randn(4, 2)
    np.testing.assert_allclose(a.mm(b).numpy(), a.numpy() @ b.numpy(), rtol=1e-5)
    np.testing.assert_allclose(dg.mm(a, b).numpy(), a.numpy() @ b.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(a.t().numpy(), a.numpy().T)
    assert a.size() == (3, 4) and a.size(1) == 4 and a.size(-2) == 3
    assert a.view(2, 6).shape == (2, 6) and a.view(-1).shape == (12,)
    assert a.view_as(dg.zeros(6, 2)).shape == (6, 2)
    np.testing.assert_allclose(a.pow(2).numpy(), a.numpy() ** 2, rtol=1e-6)
    np.testing.assert_allclose(dg.pow(2.0, a).numpy(), 2.0 ** a.numpy(), rtol=1e-6)
    assert a.type() == "deepgrad.float32"
    assert a.type(dg.float64).dtype == dg.float64
    assert a.type("torch.LongTensor").dtype == dg.int64
    assert dg.concat is dg.cat and dg.clip is dg.clamp


def test_inplace_op_makes_an_in_place_form_of_any_op():
    from deepgrad.ops.elementwise import relu
    from deepgrad.ops.inplace import inplace_op

    relu_ = inplace_op("relu_", relu)
    x = dg.tensor([-1.0, 2.0])
    array = x._data
    assert relu_(x) is x and x._data is array  # outside the graph: written into the array
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    w = dg.tensor([-1.0, 2.0], requires_grad=True)
    h = w * 3.0
    assert relu_(h) is h and h.grad_fn.fn.__name__ == "Relu"  # in the graph: rebound to the result
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 3.0])
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        relu_(w)
