"""Graph breaks, retracing, the cache limit and the ways to call deepgrad.compile."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.compile import GraphBreakError, GraphBreakWarning, RecompileWarning


def test_deepgrad_compile_is_callable_and_a_decorator():
    @dg.compile
    def f(x):
        return (x * 3).sum()

    g = dg.compile(cache_size_limit=2)(lambda x: x + 1)
    x = dg.ones(3)
    assert [f(x).item() for _ in range(3)] == [9.0, 9.0, 9.0]
    assert len(f.programs) == 1
    np.testing.assert_array_equal(g(g(x))._data, [3.0, 3.0, 3.0])
    assert callable(dg.compile) and hasattr(dg.compile, "explain")


def test_value_dependent_control_flow_is_a_graph_break_naming_the_line():
    def f(x):
        y = x * 2
        if y.sum() > 0:  # the break
            return y + 1
        return y - 1

    line = inspect.getsourcelines(f)[1] + 2
    cf = dg.compile(f)
    with pytest.warns(GraphBreakWarning, match=rf"__bool__.*test_tracer.py:{line}"):
        out = cf(dg.ones(2))
    np.testing.assert_array_equal(out._data, [3.0, 3.0])
    np.testing.assert_array_equal(cf(-dg.ones(2))._data, [-3.0, -3.0])  # eager from now on
    assert cf.eager_reason is not None and not cf.programs


def test_item_and_unknown_random_draws_break_fullgraph_raises():
    cf = dg.compile(lambda x: x * x.sum().item(), fullgraph=True)
    with pytest.raises(GraphBreakError, match=r"Tensor.item\(\)"):
        cf(dg.ones(2))
    cf = dg.compile(lambda x: x + dg.tensor(dg.default_generator.rng_for(np).random(2)))
    with pytest.warns(GraphBreakWarning, match="random draw"):
        cf(dg.ones(2))


def test_random_sources_replay_the_same_draws_as_eager():
    def f(x):
        return x + dg.randn(3) + dg.nn.functional.dropout(x, 0.5) + dg.empty(3).uniform_()

    cf = dg.compile(f)
    x = dg.ones(3)
    dg.manual_seed(7)
    compiled = [cf(x)._data.copy() for _ in range(4)]
    dg.manual_seed(7)
    eager = [f(x)._data.copy() for _ in range(4)]
    assert cf.programs
    for a, b in zip(compiled, eager):
        np.testing.assert_array_equal(a, b)


def test_new_signature_retraces_and_the_cache_limit_warns():
    cf = dg.compile(lambda x: x.exp().sum(), cache_size_limit=2)
    for n in (2, 3):
        for _ in range(3):
            cf(dg.ones(n))
    assert len(cf.programs) == 2
    with pytest.warns(RecompileWarning, match="cache_size_limit"):
        out = cf(dg.ones(4))
    assert out.item() == pytest.approx(4 * np.e)


def test_a_constant_that_depends_on_the_data_keeps_the_function_eager():
    def f(x):
        mask = dg.tensor(x.detach()._data > 0)  # raw array read: invisible to the graph
        return x * mask

    cf = dg.compile(f)
    with pytest.warns(GraphBreakWarning, match="different values on two calls"):
        for data in ([1.0, -1.0], [-1.0, 1.0]):
            out = cf(dg.tensor(data))
    np.testing.assert_array_equal(out._data, [0.0, 1.0])


def test_returning_a_tensor_that_requires_grad_without_backward_falls_back():
    w = dg.ones(2, requires_grad=True)
    cf = dg.compile(lambda x: x * w)
    with pytest.warns(GraphBreakWarning, match="requires grad"):
        out = cf(dg.ones(2))
    out.sum().backward()
    np.testing.assert_array_equal(w.grad._data, [1.0, 1.0])


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        dg.compile(3)
    with pytest.raises(ValueError, match="cache_size_limit"):
        dg.compile(lambda x: x, cache_size_limit=0)
    with pytest.raises(ValueError, match="unknown pass 'nope'"):
        cf = dg.compile(lambda x: x + 1, passes=("nope",))
        with warnings.catch_warnings():
            for _ in range(2):
                cf(dg.ones(1))
