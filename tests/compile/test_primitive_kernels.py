"""The primitive-kernels pass: a float32 GELU runs one generated numba loop, same values."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.compile.api import trace
from deepgrad.compile.passes import copy_graph, cpu_codegen, kernels, numba_codegen
from deepgrad.compile.passes.numba_codegen import use_codegen
from deepgrad.compile.program import Program
from deepgrad.ops.fused_layers import Gelu

needs_numba = pytest.mark.skipif(not numba_codegen.available(), reason="numba not installed")


def gelu_step(x):
    y = dg.nn.functional.gelu(x)
    loss = (y * y).sum()
    loss.backward()
    return loss, y


def traced(x):
    with np.errstate(invalid="ignore"):
        _, tracer = trace(gelu_step, (x,), {}, [x], [])
    assert not tracer.breaks, tracer.breaks
    return copy_graph(tracer.graph)


def sample(n, dtype=np.float32):
    data = np.random.default_rng(0).standard_normal(n).astype(dtype) * 3
    data[:4] = [np.nan, np.inf, -np.inf, -0.0]
    return data


def eager(data):
    x = dg.tensor(data, requires_grad=True)
    loss, y = gelu_step(x)
    return loss._data, y._data, x.grad._data


def compiled(graph, data):
    x = dg.tensor(data, requires_grad=True)
    loss, y = Program(graph).run([x])
    return loss._data, y._data, x.grad._data


@needs_numba
def test_gelu_becomes_the_kernel_and_gives_the_primitives_values_bit_for_bit():
    data = sample(1000)
    g = traced(dg.tensor(data, requires_grad=True))
    assert [n.name for n in g.nodes][:1] == ["Gelu"]
    with use_codegen("numba"):
        done = kernels.run(g)
    assert [n.name for n in g.nodes][:1] == ["Gelu[numba]"]
    assert "Gelu -> numba kernel" in done[0]
    assert issubclass(g.nodes[0].fn, Gelu) and g.nodes[0].fn is not Gelu  # Gelu's backward
    with np.errstate(invalid="ignore"):
        for want, got in zip(eager(data), compiled(g, data)):
            np.testing.assert_array_equal(got, want)  # NaN, +-inf and -0 included


def test_gelu_stays_numpy_when_told_small_or_not_float32():
    data = sample(1000)
    g = traced(dg.tensor(data, requires_grad=True))
    with use_codegen("numpy"):
        assert kernels.run(g) == [f"{g.nodes[0].output.name}: Gelu kept (use_codegen('numpy'))"]
    assert g.nodes[0].name == "Gelu"
    g64 = traced(dg.tensor(sample(1000, np.float64), requires_grad=True))
    with use_codegen("numba"):
        done = kernels.run(g64)
    assert g64.nodes[0].name == "Gelu" and "kept" in done[0]
    if numba_codegen.available():
        with use_codegen("auto"):  # 1000 elements: under the size where a kernel pays
            done = kernels.run(g)
        assert g.nodes[0].name == "Gelu"
        assert f"1000 elements < {cpu_codegen.MIN_ELEMENTS}" in done[0]


@needs_numba
def test_gelu_kernel_chosen_by_timing_on_a_large_array():
    data = sample(4 * cpu_codegen.MIN_ELEMENTS)
    g = traced(dg.tensor(data, requires_grad=True))
    with use_codegen("auto"):
        (done,) = kernels.run(g)
    assert "numba " in done and "numpy " in done  # both timed
    with np.errstate(invalid="ignore"):
        for want, got in zip(eager(data), compiled(g, data)):
            np.testing.assert_array_equal(got, want)


def test_kernel_source_is_the_erf_approximation_in_float32():
    source = kernels.gelu_kernel_source()
    assert "def kernel(x, y, phi):" in source
    assert "np.float64" not in source and "math." not in source
