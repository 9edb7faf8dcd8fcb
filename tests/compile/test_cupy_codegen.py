"""CuPy code generation for fused groups: the generated C, and its dispatch (no GPU needed)."""

from __future__ import annotations

import types

import numpy as np

import deepgrad as dg
from deepgrad.compile.api import trace
from deepgrad.compile.passes import copy_graph, cupy_codegen, fusion, memory


def _graph(fn, *tensors):
    _, tracer = trace(fn, tensors, {}, list(tensors), [])
    assert not tracer.breaks, tracer.breaks
    return copy_graph(tracer.graph)


def _fake_cupy():
    """NumPy's functions plus a recording ``ElementwiseKernel``: CuPy as the compiler sees it."""
    built, calls = [], []

    def elementwise_kernel(in_params, out_params, operation, name, options=()):
        built.append((in_params, out_params, operation, name, tuple(options)))

        def kernel(*arrays):
            calls.append((name, arrays))
            for out in arrays[len(in_params.split(", ")) :]:
                out[...] = len(calls)  # a mark: which launch wrote the output

        return kernel

    names = {k: getattr(np, k) for k in dir(np) if not k.startswith("_")}
    module = types.SimpleNamespace(**names, ElementwiseKernel=elementwise_kernel, __name__="cupy")
    return module, built, calls


def _step(x, b):
    return ((x + b).relu() * x).tanh()


def test_kernel_source_of_a_small_group():
    x, b = dg.randn(2, 3, dtype=dg.float64), dg.randn(3, dtype=dg.float64)
    members = [n for n in _graph(_step, x, b).nodes if n.kind == "op"]
    in_params, out_params, operation, name = cupy_codegen.kernel_parts(4, members)
    assert name == "deepgrad_fused_4"
    assert in_params == "T x0, T x1"
    assert out_params == "T y2, T y3, T y4, T y5"
    assert operation.splitlines() == [
        "T v2 = x0 + x1;  y2 = v2;  // %2 = Add(%0, %1)",
        "T v3 = (v2 < (T)0 ? (T)0 : v2);  y3 = v3;  // %3 = Relu(%2)",
        "T v4 = v3 * x0;  y4 = v4;  // %4 = Mul(%3, %0)",
        "T v5 = tanh(v4);  y5 = v5;  // %5 = Tanh(%4)",
    ]


def test_cupy_groups_dispatch_to_one_kernel_and_numpy_groups_do_not():
    xp, built, calls = _fake_cupy()
    x, b = dg.randn(2, 3, dtype=dg.float32), dg.randn(3, dtype=dg.float32)
    numpy_graph = _graph(_step, x, b)
    fusion.run(numpy_graph)
    assert [n.extra["xp"] for n in numpy_graph.nodes if n.kind == "fused"] == [np]
    assert not built  # NumPy arrays: ufunc calls with out=, no kernel

    graph = _graph(_step, x, b)
    for node in graph.nodes:
        node.xp = xp  # as if traced on CuPy arrays
    groups = fusion.run(graph)
    assert len(groups) == 1 and len(graph.nodes) == 1
    fused = graph.nodes[0]
    assert fused.extra["xp"] is xp and "ElementwiseKernel deepgrad_fused_0" in fused.extra["source"]
    assert [(b[0], b[1], b[3], b[4]) for b in built] == [
        ("T x0, T x1", "T y2, T y3, T y4, T y5", "deepgrad_fused_0", ("--fmad=false",))
    ]
    buffers = memory.run(graph)
    assert set(buffers) == {2, 3, 4}  # %5 is returned: a fresh array each call

    function, _ = cupy_codegen.group_function(xp, 0, list(fused.extra["members"]))
    env = {0: x._data, 1: b._data}
    function(env, buffers)
    ((name, arrays),) = calls
    assert name == "deepgrad_fused_0" and arrays[0] is x._data and arrays[1] is b._data
    assert all(arrays[2 + i] is buffers[k] for i, k in enumerate((2, 3, 4)))
    assert env[5].shape == (2, 3) and env[5].dtype == np.float32 and env[2] is buffers[2]
    np.testing.assert_array_equal(env[5], np.ones((2, 3)))


def test_a_cupy_group_needs_one_dtype_and_one_shape():
    xp, built, _ = _fake_cupy()
    x = dg.randn(2, 3, dtype=dg.float32)
    s = dg.randn(3, dtype=dg.float32)
    # (s * s) has shape (3,), (x + t) shape (2, 3): two kernels would be needed, none is made
    graph = _graph(lambda x, s: (s * s).exp() + x, x, s)
    for node in graph.nodes:
        node.xp = xp
    fusion.run(graph)
    assert [b[3] for b in built] == ["deepgrad_fused_0"]  # Mul and Exp, shape (3,)
    assert [n.kind for n in graph.nodes] == ["fused", "op"]
    floats = _graph(lambda a: (a + a) * a, dg.ones(3, dtype=dg.float64))
    ints = _graph(lambda a: (a + a) * a, dg.ones(3, dtype=dg.int64))
    for node in floats.nodes + ints.nodes:
        node.xp = xp
    assert all(cupy_codegen.usable(n) for n in floats.nodes)
    assert not any(cupy_codegen.usable(n) for n in ints.nodes)  # float32 and float64 only
