"""backward() accumulates each leaf as soon as its gradient is final, while the pass goes on."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import Function, detect_anomaly


def _probe(events: list, name: str):
    """An identity primitive whose backward records ``name`` in ``events``."""

    class Probe(Function, register=False):
        """y = x.   dx = dy"""

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, dy):
            events.append(name)
            return dy

    return Probe


def _record(events: list, name: str):
    return lambda t: events.append(name)


def test_a_post_accumulate_hook_fires_before_the_backward_of_earlier_nodes():
    events: list = []
    x0 = dg.randn(4, 3, requires_grad=True)
    w1 = dg.randn(3, 5, requires_grad=True)  # the early layer's parameter
    w2 = dg.randn(5, 2, requires_grad=True)
    for name, t in (("x0", x0), ("w1", w1), ("w2", w2)):
        t.register_post_accumulate_grad_hook(_record(events, name))
    a = _probe(events, "probe").apply(x0)  # earliest in the graph: its backward runs last
    loss = ((a @ w1).tanh() @ w2).sum()
    loss.backward()
    assert events == ["w2", "w1", "probe", "x0"]


def test_gradients_are_bitwise_those_of_collecting_every_leaf_first():
    dg.manual_seed(1)
    w = dg.randn(6, 6, requires_grad=True)  # shared: used at every step, its sum has 5 terms
    b = dg.randn(6, requires_grad=True)
    x = dg.randn(3, 6, requires_grad=True)

    def loss_fn():
        h = x
        for _ in range(5):
            h = (h @ w + b).tanh() + h * 0.5
        return (h * h).sum()

    expected = dg.autograd.grad(loss_fn(), [w, b, x])  # collects, accumulates nothing
    loss_fn().backward()
    for t, g in zip((w, b, x), expected):
        assert t.grad.dtype == dg.float32
        np.testing.assert_array_equal(t.grad.numpy(), g.numpy())


def test_each_hook_runs_once_per_pass_with_the_summed_gradient():
    x = dg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    seen: list = []
    x.register_hook(lambda g: seen.append(("hook", g.numpy().tolist())))
    x.register_post_accumulate_grad_hook(lambda t: seen.append(("post", t.grad.numpy().tolist())))
    (x * x + x.exp() * 2.0 + x).sum().backward()
    expected = (2 * np.array([1.0, 2.0]) + 2 * np.exp([1.0, 2.0]) + 1).tolist()
    assert seen == [("hook", expected), ("post", expected)]


def test_a_hook_changing_grad_in_place_leaves_shared_gradients_in_flight_intact():
    # Add hands the same dy to both inputs: w would adopt the array the Mul node still needs.
    w = dg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    v = dg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    x0 = dg.tensor([3.0, 4.0], dtype="float64", requires_grad=True)

    def clobber(t):
        t.grad.zero_()

    w.register_post_accumulate_grad_hook(clobber)
    c = dg.tensor([5.0, 7.0], dtype="float64")
    ((w + v + x0 * 3.0) * c).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(v.grad.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(x0.grad.numpy(), [15.0, 21.0])


def test_leaves_fed_only_by_nodes_that_got_no_gradient():
    class FirstOnly(Function, register=False):
        """y = a + b.   da = dy, db: none (deliberately)"""

        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, dy):
            return dy, None

    events: list = []
    x = dg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = dg.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    x.register_post_accumulate_grad_hook(_record(events, "x"))
    y.register_post_accumulate_grad_hook(_record(events, "y"))
    # x * 2.0 is never reached (its gradient is None), y gets only a None: no .grad, no hook.
    FirstOnly.apply(x, FirstOnly.apply(y, x * 2.0)).sum().backward()
    assert events == ["x"]
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    assert y.grad is None


def test_hooks_run_under_the_callers_grad_mode():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    modes: list = []
    x.register_post_accumulate_grad_hook(lambda t: modes.append(dg.is_grad_enabled()))
    (x * 3.0).sum().backward()  # the nodes' backward runs with recording off
    loss = (x * 3.0).sum()
    with dg.no_grad():
        loss.backward()
    assert modes == [True, False]


def test_a_failing_hook_gets_no_anomaly_note_of_an_unrelated_node():
    x = dg.tensor([1.0, 2.0], requires_grad=True)

    def fail(t):
        raise ValueError("hook failed")

    x.register_post_accumulate_grad_hook(fail)
    with detect_anomaly(), pytest.raises(ValueError, match="hook failed") as info:
        (x * 3.0).exp().sum().backward()
    assert not getattr(info.value, "__notes__", [])
