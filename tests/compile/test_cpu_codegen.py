"""CPU code generation for fused groups: numba kernels, reduction fusion, the choice by timing."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.backend.kernels import use_numba
from deepgrad.compile.api import trace
from deepgrad.compile.passes import copy_graph, cpu_codegen, fusion, memory, numba_codegen
from deepgrad.compile.passes.numba_codegen import use_codegen
from deepgrad.compile.program import Program

needs_numba = pytest.mark.skipif(not numba_codegen.available(), reason="numba not installed")


def traced(fn, *tensors):
    _, tracer = trace(fn, tensors, {}, list(tensors), [])
    assert not tracer.breaks, tracer.breaks
    return copy_graph(tracer.graph)


def fused(graph):
    return [n for n in graph.nodes if n.kind == "fused"]


def loss_step(x, w):
    d = ((x @ w + 1.0) * 2.0).relu() - 0.5
    loss = (d * d).sum()
    loss.backward()
    return loss


def run_loss_step(codegen, x, w):
    with use_codegen(codegen):
        g = traced(loss_step, x, w)
        fusion.run(g)
        buffers = memory.run(g)
    x.grad = None
    out = Program(g, buffers).run([x, w])
    return g, out, x.grad._data.copy()


@needs_numba
def test_numba_group_with_its_sum_is_one_kernel_that_skips_unread_values():
    x, w = dg.randn(5, 3, requires_grad=True), dg.randn(3, 4)
    before = [n.name for n in traced(loss_step, x, w).nodes]
    assert before[:8] == ["MatMul", "Add", "Mul", "Relu", "Sub", "Mul", "Sum", "backward"]
    g, out, grad = run_loss_step("numba", x, w)
    assert [n.name for n in g.nodes] == ["MatMul", "fused_0", "backward"]
    node = fused(g)[0]
    assert node.extra["backend"] == "numba" and node.extra["reduction"].name == "Sum"
    assert "def kernel(" in node.extra["source"] and "acc[lane] +=" in node.extra["source"]
    # written: x @ w + 1 (Mul saves its inputs), the relu (saved), d (saved by the square) and
    # the sum; not (x @ w + 1) * 2 nor d * d, which only the kernel reads
    members = node.extra["members"]
    assert [v.index for v in node.outputs] == [
        members[0].output.index,
        members[2].output.index,
        members[3].output.index,
        node.extra["reduction"].output.index,
    ]
    _, out_np, grad_np = run_loss_step("numpy", x, w)
    np.testing.assert_allclose(out._data, out_np._data, rtol=1e-6)
    np.testing.assert_array_equal(grad, grad_np)  # backward reads the same saved arrays


def test_numpy_choice_keeps_the_ufunc_group_and_the_sum_apart():
    g, _, _ = run_loss_step("numpy", dg.randn(5, 3, requires_grad=True), dg.randn(3, 4))
    assert [n.name for n in g.nodes] == ["MatMul", "fused_0", "Sum", "backward"]
    assert fused(g)[0].extra["backend"] == "numpy"
    assert "multiply(env[" in fused(g)[0].extra["source"]


@needs_numba
def test_numba_elementwise_kernel_is_bit_exact_and_turns_minus_zero_into_zero():
    x = dg.tensor(np.float32([-2.0, -0.0, 0.5, 3.0, 1e30]))
    y = dg.tensor(np.float32([1.0, 0.0, -0.25, 7.0, 1e30]))

    def f(x, y):
        return ((x + y) * x / (y - 3.0)).relu().neg().sqrt()

    with use_codegen("numba"), np.errstate(all="ignore"):
        g = traced(f, x, y)
        fusion.run(g)
    assert fused(g)[0].extra["backend"] == "numba"
    with np.errstate(all="ignore"):
        got = Program(g, {}).run([x, y])._data
        expected = f(x, y)._data
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))  # relu(-0) = +0


@needs_numba
def test_nan_and_inf_propagate_as_in_eager_mode():
    x = dg.tensor([np.nan, -1.0, np.inf, 2.0, -np.inf, 0.0], dtype=dg.float64)

    def f(x):
        a = ((x * 2.0).relu() - 1.0).sqrt()
        return a, (x * x + 1.0).sum()

    compiled = dg.compile(f)
    with use_codegen("numba"), np.errstate(all="ignore"):
        outs = [compiled(x) for _ in range(3)]
        eager = f(x)
    assert all(n.extra["backend"] == "numba" for n in fused(compiled.programs[0].graph))
    np.testing.assert_array_equal(outs[2][0]._data, eager[0]._data)  # NaN where eager has NaN
    assert np.isnan(outs[2][1].item()) and np.isnan(eager[1].item())


@needs_numba
def test_row_sums_over_trailing_dims_with_keepdim_equal_numpy():
    x = dg.randn(3, 4, 37, dtype=dg.float64)  # 37: the lane loop and its tail both run

    def f(x):
        return ((x - 1.0) * (x - 1.0)).sum(dim=(1, 2), keepdim=True)

    compiled = dg.compile(f)
    with use_codegen("numba"):
        outs = [compiled(x) for _ in range(3)]
    node = fused(compiled.programs[0].graph)[0]
    assert node.extra["reduction"] is not None and outs[2].shape == (3, 1, 1)
    np.testing.assert_allclose(outs[2]._data, f(x)._data, rtol=1e-13)


@needs_numba
def test_without_backward_saved_values_are_not_written():
    x, y = dg.randn(3, 40, dtype=dg.float64), dg.randn(3, 40, dtype=dg.float64)

    def f(x, y):  # Mul saves its inputs and Relu its output, but no backward reads them here
        return ((x - y) * (x - y)).relu().sum(dim=1)

    compiled = dg.compile(f)
    with use_codegen("numba"), dg.no_grad():
        outs = [compiled(x, y) for _ in range(3)]
        expected = f(x, y)
    node = fused(compiled.programs[0].graph)[0]
    assert node.extra["backend"] == "numba"
    assert node.outputs == [node.extra["reduction"].output]  # only the row sums are written
    np.testing.assert_allclose(outs[2]._data, expected._data, rtol=1e-13)


def test_a_sum_over_leading_dims_is_not_fused():
    with use_codegen("numba"):
        g = traced(lambda x: (x * x + 1.0).sum(dim=0), dg.randn(4, 3))
        fusion.run(g)
    assert [n.name for n in g.nodes] == ["fused_0", "Sum"]


def test_auto_keeps_numpy_for_small_groups_and_without_numba():
    x = dg.randn(4, 3)
    with use_codegen("auto"):
        g = traced(lambda x: (x * 2.0 + 1.0).relu(), x)
        fusion.run(g)
    assert fused(g)[0].extra["backend"] == "numpy"
    assert "elements <" in fused(g)[0].extra["why"]
    with use_codegen("numba"), use_numba(False):
        g = traced(lambda x: (x * 2.0 + 1.0).relu(), x)
        fusion.run(g)
    assert fused(g)[0].extra["why"] == "numba not installed or switched off"


@needs_numba
@pytest.mark.parametrize(
    ("t_numba", "t_numpy", "agree", "backend"),
    [(1.0, 2.0, True, "numba"), (1.95, 2.0, True, "numpy"), (1.0, 2.0, False, "numpy")],
)
def test_auto_chooses_by_the_measured_times(monkeypatch, t_numba, t_numpy, agree, backend):
    def timed(function, template, outputs, repeats):
        is_numba = getattr(function, "__name__", "") == "function"
        values = {v.index: np.zeros(v.shape, v.dtype) for v in outputs}
        if is_numba and not agree:
            values = {k: v + 1 for k, v in values.items()}
        return (t_numba if is_numba else t_numpy), values

    monkeypatch.setattr(cpu_codegen, "_time", timed)
    x = dg.randn(cpu_codegen.MIN_ELEMENTS)
    with use_codegen("auto"):
        g = traced(lambda x: (x * 2.0 + 1.0).relu(), x)
        fusion.run(g)
    node = fused(g)[0]
    assert node.extra["backend"] == backend
    assert node.extra["why"].startswith("numba 1000000 us" if t_numba == 1.0 else "numba 1950000")
    assert ("disagreed" in node.extra["why"]) == (not agree)


@needs_numba
def test_kernels_are_written_to_the_cache_folder_and_kept_by_numba(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPGRAD_COMPILE_CACHE", str(tmp_path))
    x = dg.randn(6, dtype=dg.float64)
    with use_codegen("numba"):
        g = traced(lambda x: (x * 3.0 - 0.125).relu(), x)
        fusion.run(g)
    source = fused(g)[0].extra["source"]
    files = list(tmp_path.glob("fused_*.py"))
    assert len(files) == 1 and files[0].read_text() == source
    assert list((tmp_path / "__pycache__").glob("fused_*.nbi"))  # numba's index: compiled once
    assert numba_codegen.load(source) is numba_codegen.load(source)
    monkeypatch.setenv("DEEPGRAD_COMPILE_CACHE", "")
    assert not numba_codegen.available()


def test_use_codegen_refuses_an_unknown_choice():
    with pytest.raises(ValueError, match="use_codegen: unknown choice 'llvm'"):
        use_codegen("llvm")
    assert dg.compile.use_codegen is use_codegen
