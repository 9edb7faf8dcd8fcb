"""Memory: graphs are freed by reference counting alone (no cycles), saved values go after backward,
and a long training loop keeps flat memory (DESIGN principle 6)."""

from __future__ import annotations

import gc
import sys
import weakref
from contextlib import contextmanager

import numpy as np

import deepgrad as dg


@contextmanager
def gc_disabled():
    """Without the cycle collector, only reference counting frees objects: a cycle would stay."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class TinyMLP:
    def __init__(self):
        gen = dg.Generator().manual_seed(0)
        self.x = dg.randn(16, 4, generator=gen)
        self.y = (self.x[:, :1] * 0.5 - self.x[:, 1:2]).tanh()
        self.params = [
            dg.randn(4, 8, generator=gen, requires_grad=True),
            dg.zeros(8, requires_grad=True),
            dg.randn(8, 1, generator=gen, requires_grad=True),
        ]

    def step(self, learning_rate: float = 0.05) -> float:
        w1, b1, w2 = self.params
        h = (self.x @ w1 + b1).tanh()
        loss = ((h @ w2 - self.y) ** 2).mean()
        loss.backward()
        with dg.no_grad():
            for p in self.params:
                p -= learning_rate * p.grad
                p.grad = None
        return loss.item()


def test_graph_dies_without_the_cycle_collector():
    x = dg.randn(4, 3, requires_grad=True)
    with gc_disabled():
        h = (x * 2.0).tanh()
        loss = (h.exp() * h).sum()
        nodes = [weakref.ref(loss.grad_fn), weakref.ref(h.grad_fn)]
        loss.backward()
        del loss, h
        assert all(ref() is None for ref in nodes)
        # and without backward too
        y = (x.sigmoid() * x).sum()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None


def test_forward_backward_leaves_no_cyclic_garbage():
    x = dg.randn(5, requires_grad=True)
    with gc_disabled():
        for create_graph in (False, True):
            y = ((x * x).sin() @ x.exp()).sum()
            y.backward(create_graph=create_graph)
            x.grad = None
            del y
        dg.autograd.grad((x.tanh() * 3.0).sum(), x)
        dg.func.hessian(lambda t: (t**3).sum())(x.detach())
        dg.func.vjp(lambda t: t * t, x.detach())[1](dg.ones(5))
        assert gc.collect() == 0


def test_saved_intermediates_are_released_by_backward_while_the_output_lives():
    x = dg.randn(1000, requires_grad=True)
    h = x * 2.0
    loss = (h * h).sum()  # Mul saves h
    saved = weakref.ref(h)
    del h
    assert saved() is not None  # kept alive by the graph until backward
    loss.backward()
    assert saved() is None
    assert loss.grad_fn is not None  # the output itself is still there


def test_retain_graph_keeps_saved_values_until_the_last_backward():
    x = dg.randn(10, requires_grad=True)
    h = x * 2.0
    loss = (h * h).sum()
    saved = weakref.ref(h)
    del h
    loss.backward(retain_graph=True)
    assert saved() is not None
    loss.backward()
    assert saved() is None


def test_10_000_training_steps_keep_flat_memory():
    model = TinyMLP()
    first = model.step()
    with gc_disabled():
        objects_before = len(gc.get_objects())
        for _ in range(2_500):
            model.step()
        # After the collection above, the interpreter's free lists (e.g. 2 000 spare tuples per
        # size) refill during the first ~2 000 steps; from then on a leak of one object per step
        # would add thousands of blocks.
        blocks_before = sys.getallocatedblocks()
        for _ in range(7_500):
            last = model.step()
        blocks_after = sys.getallocatedblocks()
        objects_after = len(gc.get_objects())
        assert gc.collect() == 0  # no step made a reference cycle
    assert objects_after - objects_before < 50
    assert blocks_after - blocks_before < 500, f"{blocks_after - blocks_before} more memory blocks"
    assert last < 0.05 * first  # it did train


def test_grad_arrays_are_reused_in_place_across_steps():
    w = dg.randn(64, requires_grad=True)
    (w * w).sum().backward()
    array = w.grad.numpy()
    for _ in range(3):
        w.grad.zero_()
        (w * 3.0).sum().backward()
        assert np.shares_memory(w.grad.numpy(), array)
    np.testing.assert_allclose(w.grad.numpy(), 3.0)
