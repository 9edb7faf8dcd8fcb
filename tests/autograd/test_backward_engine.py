"""The backward engine: accumulation, retain_graph, retain_grad, hooks, version counters, .data, deep chains."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import BackwardError, Function


def f64(values, requires_grad: bool = True):
    return dg.tensor(values, dtype="float64", requires_grad=requires_grad)


# -- backward() ------------------------------------------------------------------------------
def test_backward_of_a_scalar_fills_leaf_grads():
    x = f64([1.0, -2.0, 3.0])
    w = f64([0.5, 0.25, 2.0])
    (x * w + x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5 + 2.0, 0.25 - 4.0, 2.0 + 6.0])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, -2.0, 3.0])
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def test_backward_with_a_gradient_is_a_vector_jacobian_product():
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    v = np.array([[1.0, 0.5], [-1.0, 2.0]])
    y.backward(dg.tensor(v))
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() * v)


def test_gradient_may_be_an_array_or_list_and_is_cast_to_the_output_dtype():
    x = dg.tensor([1.0, 2.0], requires_grad=True)  # float32
    (x * 3.0).backward([1.0, 2.0])
    assert x.grad.dtype == dg.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])
    y = f64([1.0, 2.0])
    (y * 3.0).backward(np.array([1.0, 1.0], dtype=np.float32))
    assert y.grad.dtype == dg.float64


def test_gradients_accumulate_across_backward_calls():
    x = f64([1.0, 2.0])
    (x * x).sum().backward()
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * np.array([1.0, 2.0]) + 3.0)


def test_a_tensor_used_twice_gets_the_sum_of_both_paths():
    x = f64([2.0])
    y = x * x  # used by two consumers below
    (y * x + y).sum().backward()  # d/dx (x^3 + x^2) = 3 x^2 + 2 x
    np.testing.assert_allclose(x.grad.numpy(), [16.0])


def test_each_node_runs_backward_once_even_when_reached_by_many_paths():
    calls = []

    class CountingIdentity(Function, register=False):
        """y = x.   dx = dy"""

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, dy):
            calls.append(1)
            return dy

    x = f64([1.0, 2.0])
    y = CountingIdentity.apply(x)
    z = y * 2.0 + y * 3.0 + y.exp()
    z.sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad.numpy(), 5.0 + np.exp([1.0, 2.0]))


def test_backward_on_a_leaf_accumulates_the_gradient_itself():
    x = f64([1.0, 2.0])
    x.backward(dg.tensor([3.0, 4.0], dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_backward_never_adopts_the_callers_gradient_array():
    x = f64([1.0, 2.0])
    v = dg.tensor([1.0, 1.0], dtype="float64")
    x.clone().backward(v)  # Clone's backward hands v's array straight to the leaf
    x.clone().backward(v)  # the second backward accumulates in place into x.grad
    np.testing.assert_allclose(v.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_backward_inputs_never_adopts_the_callers_gradient_array():
    x = f64([1.0, 2.0])
    y = x * 2.0
    v = dg.tensor([1.0, 1.0], dtype="float64")
    y.backward(v, inputs=[y], retain_graph=True)
    y.backward(v, inputs=[y])
    np.testing.assert_allclose(v.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 2.0])


def test_backward_inputs_restricts_accumulation():
    x = f64([1.0])
    w = f64([2.0])
    h = x * w
    h.retain_grad()
    (h * h).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), [2 * 2.0 * 1.0])  # d/dw (x w)^2 = 2 x^2 w
    y = x * w
    (y * 3.0).sum().backward(inputs=[y])  # a non-leaf in inputs gets its .grad
    np.testing.assert_allclose(y.grad.numpy(), [3.0])
    assert x.grad is None


# -- retain_graph and freed graphs -----------------------------------------------------------
def test_second_backward_through_a_freed_graph_says_to_retain_it():
    x = f64([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(BackwardError, match="second time.*retain_graph=True"):
        loss.backward()


def test_second_backward_fails_even_when_no_node_saved_anything():
    x = f64([1.0, 2.0])
    loss = (x + 1.0).sum()
    loss.backward()
    with pytest.raises(BackwardError, match="retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = f64([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_backward_frees_saved_values_and_constants():
    x = f64([1.0, 2.0])
    h = x * 2.0
    y = h.exp()
    loss = (y * h).sum()
    node = loss.grad_fn
    loss.backward()
    for n in (node, y.grad_fn, h.grad_fn):
        assert n.released
        assert set(n.__dict__) <= {"released"}  # saved tensors and constants are gone


# -- retain_grad -------------------------------------------------------------------------------
def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = f64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    other = x * 5.0
    assert h.retains_grad and not other.retains_grad
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * 3.0 * np.array([1.0, 2.0]))
    assert other.grad is None
    assert not h.grad.requires_grad


def test_retained_gradients_accumulate_like_leaf_gradients():
    x = f64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    loss = (h * 2.0).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 4.0])


def test_retain_grad_on_a_leaf_is_a_no_op_and_on_a_constant_an_error():
    x = f64([1.0])
    x.retain_grad()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])
    with pytest.raises(RuntimeError, match="retain_grad: .*does not require grad"):
        dg.tensor([1.0]).retain_grad()


def test_retained_gradient_does_not_share_memory_with_a_leaf_gradient():
    x = f64([1.0, 2.0])
    h = x.clone()  # Clone passes dy through: h's gradient array would flow on to x unchanged
    h.retain_grad()
    (h * 2.0).sum().backward(retain_graph=False)
    assert not np.shares_memory(h.grad.numpy(), x.grad.numpy())


# -- hooks -------------------------------------------------------------------------------------
def test_leaf_hook_sees_the_gradient_and_its_return_value_replaces_it():
    x = f64([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10.0)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 40.0])
    handle.remove()
    handle.remove()  # removing twice is harmless
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert len(seen) == 1


def test_non_leaf_hook_changes_what_flows_to_the_leaves():
    x = f64([1.0, 2.0])
    h = x * x
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 0.5

    h.register_hook(hook)
    (h * 3.0 + h).sum().backward()  # h has two consumers: the hook sees their sum, once
    np.testing.assert_allclose(seen, [[4.0, 4.0]])
    np.testing.assert_allclose(x.grad.numpy(), 0.5 * 4.0 * 2 * np.array([1.0, 2.0]))


def test_hook_returning_none_keeps_the_gradient_and_hooks_run_in_order():
    x = f64([1.0])
    order = []
    x.register_hook(lambda g: order.append("a"))
    x.register_hook(lambda g: order.append("b") or g + 1.0)
    x.register_hook(lambda g: order.append("c") or g * 2.0)
    (x * 3.0).sum().backward()
    assert order == ["a", "b", "c"]
    np.testing.assert_allclose(x.grad.numpy(), [8.0])


def test_hook_errors():
    with pytest.raises(RuntimeError, match="register_hook: .*does not require grad"):
        dg.tensor([1.0]).register_hook(lambda g: g)
    x = f64([1.0, 2.0])
    with pytest.raises(TypeError, match="register_hook: hook must be callable"):
        x.register_hook(3)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"register_hook: .*shape \(2,\)"):
        (x * x).sum().backward()


def test_removed_non_leaf_hook_does_not_run():
    x = f64([1.0])
    h = x * 2.0
    handle = h.register_hook(lambda g: g * 100.0)
    handle.remove()
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


# -- in-place changes and version counters -----------------------------------------------------
def test_in_place_change_of_a_saved_input_raises_instead_of_a_wrong_gradient():
    x = f64([1.0, 2.0])
    c = dg.tensor([3.0, 4.0], dtype="float64")
    loss = (x * c).sum()  # Mul saves c for dx = dy * c
    c += 1.0
    with pytest.raises(
        BackwardError, match=r"Mul: an input saved for backward was modified in place.*x \+= 1"
    ):
        loss.backward()


def test_in_place_change_of_a_saved_non_leaf_raises():
    x = f64([1.0, 2.0])
    h = x * 2.0
    loss = (h * h).sum()
    h += 1.0  # in the graph: rebinds h and bumps its version
    with pytest.raises(BackwardError, match="modified in place"):
        loss.backward()


def test_in_place_change_of_a_saved_output_raises():
    x = f64([1.0, 2.0])
    y = x.exp()  # Exp saves its output for dx = dy * y
    loss = y.sum()
    with dg.no_grad():
        y.mul_(2.0)
    with pytest.raises(
        BackwardError, match="Exp: its output, saved for backward, was modified in place"
    ):
        loss.backward()


def test_in_place_op_in_the_graph_on_a_saved_output_keeps_the_right_gradient():
    x = f64([1.0, 2.0])
    y = x.exp()  # Exp saves its output
    loss = y.sum()
    y += 1.0  # in the graph: y is rebound to a new array, the saved one is untouched
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))
    y.sum().backward()  # and the rebound y differentiates as exp(x) + 1
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]))


def test_in_place_change_of_an_unsaved_tensor_is_fine():
    x = f64([1.0, 2.0])
    h = x * 2.0
    loss = (h + 1.0).sum()  # Add saves nothing
    h += 5.0
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_in_place_on_a_leaf_that_requires_grad_raises():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        x += 1.0
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.zero_()
    with pytest.raises(RuntimeError, match="requires grad"):
        x[0] = 5.0
    with dg.no_grad():
        x += 1.0
        x[0] = 5.0
    np.testing.assert_allclose(x.detach().numpy(), [5.0, 3.0])
    assert x.is_leaf and x.requires_grad


def test_no_grad_update_between_forward_and_backward_is_detected():
    w = f64([1.0, 2.0])
    loss = (w * w).sum()
    with dg.no_grad():
        w -= 0.1 * dg.ones(2, dtype="float64")
    with pytest.raises(BackwardError, match="modified in place"):
        loss.backward()


# -- .data and detach ----------------------------------------------------------------------------
def test_data_shares_memory_outside_the_graph():
    w = f64([1.0, 2.0])
    d = w.data
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 7.0  # allowed: d is outside the graph
    assert w.detach().numpy()[0] == 7.0
    assert w.requires_grad and w.is_leaf


def test_data_update_in_the_style_of_the_seeds():
    w = f64([1.0, 2.0])
    (w * w).sum().backward()
    learning_rate = 0.1
    before = w.data
    w.data -= learning_rate * w.grad.data
    np.testing.assert_allclose(w.detach().numpy(), [1.0 - 0.2, 2.0 - 0.4])
    assert w.requires_grad and w.is_leaf
    assert np.shares_memory(before.numpy(), w.detach().numpy())  # updated in place, not rebound
    w.grad.data.zero_()
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 0.0])
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.6, 3.2])  # 2 w after the update


def test_data_assignment_replaces_the_array():
    w = f64([1.0, 2.0])
    w.data = dg.tensor([5.0, 6.0], dtype="float64")
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [10.0, 12.0])


def test_detach_shares_memory_and_stops_gradients():
    x = f64([1.0, 2.0])
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert np.shares_memory(x.detach().numpy(), x.data.numpy())


# -- requires_grad ------------------------------------------------------------------------------
def test_requires_grad_can_be_set_on_leaves_only():
    x = dg.tensor([1.0, 2.0])
    x.requires_grad = True
    assert x.requires_grad and x.is_leaf
    y = x * 2.0
    assert y.requires_grad and not y.is_leaf
    y.requires_grad = True  # already true: allowed
    with pytest.raises(
        RuntimeError, match=r"requires_grad: cannot turn gradients off .*non-leaf.*detach\(\)"
    ):
        y.requires_grad = False
    x.requires_grad = False
    assert not (x * 2.0).requires_grad


# -- deep graphs ---------------------------------------------------------------------------------
def test_a_chain_of_100_000_ops_backpropagates_without_recursion():
    x = f64([0.5])
    y = x
    for _ in range(50_000):
        y = (y + 1.0) * 1.00001  # two ops per step
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.00001**50_000], rtol=1e-9)


def test_dropping_an_unused_100_000_op_graph_does_not_crash():
    x = f64([0.5])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    del y  # freeing nested nodes must not recurse through the C stack
    z = (x * 2.0).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])
