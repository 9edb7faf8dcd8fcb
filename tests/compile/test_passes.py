"""Each graph pass on small traced graphs: the nodes before and after, and the same results."""

from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad.compile.api import trace
from deepgrad.compile.passes import (
    constant_folding,
    copy_graph,
    cse,
    dce,
    fusion,
    memory,
    optimize,
    simplify,
)
from deepgrad.compile.passes.numba_codegen import use_codegen
from deepgrad.compile.program import Program


def traced(fn, *tensors):
    _, tracer = trace(fn, tensors, {}, list(tensors), [])
    assert not tracer.breaks, tracer.breaks
    return copy_graph(tracer.graph)


def ops(graph):
    return [n.name for n in graph.nodes]


def run(graph, *tensors):
    return Program(graph, graph.meta.get("buffers")).run(list(tensors))


def test_dce_drops_unread_ops_and_keeps_state_changes():
    def f(x):
        unused = x.exp()  # noqa: F841
        return x * 2

    g = traced(f, dg.ones(3))
    assert ops(g) == ["Exp", "Mul"]
    assert dce.run(g) == 1
    assert ops(g) == ["Mul"]
    np.testing.assert_array_equal(run(g, dg.ones(3))._data, [2.0, 2.0, 2.0])


def test_cse_merges_repeats_but_not_across_an_in_place_update():
    def f(x, w):
        a = (x * w).sum()
        b = (x * w).sum()
        with dg.no_grad():
            w += 1
        c = (x * w).sum()
        return a + b + c

    x, w = dg.ones(2), dg.ones(2)
    g = traced(f, x, w)
    assert ops(g).count("Mul") == 3
    assert cse.run(g) == 2  # the second Mul and Sum; the third product reads the new w
    dce.run(g)
    assert ops(g).count("Mul") == 2
    assert run(g, dg.ones(2), dg.ones(2)).item() == 2 + 2 + 4


def test_constant_folding_runs_constant_ops_once():
    def f(x):
        scale = dg.tensor([1.0, 2.0]).exp() * 3
        return x * scale

    g = traced(f, dg.ones(2))
    assert ops(g) == ["Exp", "Mul", "Mul"]
    assert constant_folding.run(g) == 2
    assert ops(g) == ["Mul"]
    np.testing.assert_allclose(run(g, dg.ones(2))._data, np.exp([1.0, 2.0]) * 3)


def test_simplify_stabilizes_log_softmax_and_log1p():
    def f(x):
        a = dg.log(dg.softmax(x, dim=1))
        b = dg.log(1 + x.abs())
        c = dg.exp(dg.log(x.abs() + 2))
        return a, b, c

    x = dg.tensor([[1e-20, 60.0, -60.0]], dtype=dg.float32)
    with np.errstate(divide="ignore"):
        g = traced(f, x)
    assert ops(g) == ["Softmax", "Log", "Abs", "Add", "Log", "Abs", "Add", "Log", "Exp"]
    done = simplify.run(g)
    assert [d.split(": ")[1] for d in done] == [
        "log(softmax(x)) -> log_softmax(x)",
        "log(1 + x) -> log1p(x)",
        "exp(log(x)) -> x",
    ]
    dce.run(g)
    assert ops(g) == ["LogSoftmax", "Abs", "Log1p", "Abs", "Add"]
    a, b, c = run(g, x)
    assert np.isfinite(a._data).all()  # log(softmax) underflows to -inf at -60
    assert b._data[0, 0] == np.float32(1e-20)  # log(1 + 1e-20) would be 0 in float32
    np.testing.assert_allclose(c._data, np.abs(x._data) + 2)


def test_fusion_and_memory_plan_reuse_buffers_across_calls():
    def f(x, w):
        return ((x @ w + 1.0).tanh() * 2.0).relu().sum()

    x, w = dg.randn(4, 3), dg.randn(3, 5)
    g = traced(f, x, w)
    assert ops(g) == ["MatMul", "Add", "Tanh", "Mul", "Relu", "Sum"]
    with use_codegen("numpy"):  # the ufunc path; numba and reduction fusion: test_cpu_codegen.py
        groups = fusion.run(g)
    assert len(groups) == 1 and len(groups[0]) == 4
    assert ops(g) == ["MatMul", "fused_0", "Sum"]
    assert "tanh(env[" in g.nodes[1].extra["source"]
    buffers = memory.run(g)
    # Add, Tanh, Mul; Relu's output is read by Sum, whose result (maybe a view) is returned.
    assert len(buffers) == 3
    first = {k: id(b) for k, b in buffers.items()}
    program = Program(g, buffers)
    outs = [program.run([x, w]).item() for _ in range(2)]
    assert {k: id(b) for k, b in buffers.items()} == first
    assert outs[0] == outs[1] == f(x, w).item()


def test_memory_plan_never_buffers_a_returned_value():
    g = traced(lambda x: (x + 1).exp(), dg.ones(2))
    with use_codegen("numpy"):
        fusion.run(g)
    buffers = memory.run(g)
    assert set(buffers) == {g.nodes[0].outputs[0].index}  # x + 1 only; exp(x + 1) is returned
    a = run(g, dg.ones(2))
    b = run(g, dg.zeros(2))
    np.testing.assert_array_equal(a._data, np.exp(np.float32([2.0, 2.0])))  # not overwritten
    np.testing.assert_array_equal(b._data, np.exp(np.float32([1.0, 1.0])))


def test_optimize_runs_the_default_pipeline_on_a_copy():
    def f(x):
        return dg.log(dg.softmax(x * 1.0, dim=0)).sum()

    g = traced(f, dg.ones(3))
    before = ops(g)
    optimized, _ = optimize(g)
    assert ops(g) == before
    assert "Softmax" not in ops(optimized)


def test_program_drops_each_value_after_its_last_reader():
    def f(x):
        a = x * 2.0
        b = a.exp()
        return b.sum(), a

    x = dg.ones(3)
    g = traced(f, x)
    assert ops(g) == ["Mul", "Exp", "Sum"]
    program = Program(g)
    mul, exp, _ = g.nodes
    names = [{g.values[i].name for i in frees} for frees in program.frees]
    # x and the constant 2 are last read by Mul; b (Exp's output) by Sum; a and the sum are
    # returned: kept
    assert names == [{v.name for v in mul.inputs}, set(), {exp.output.name}]
    assert g.inputs[0] in mul.inputs
    assert mul.output.name not in set().union(*names)
    s, a = program.run([x])
    np.testing.assert_allclose(s.item(), 3 * np.exp(2.0), rtol=1e-6)
    np.testing.assert_array_equal(a._data, [2.0, 2.0, 2.0])


def test_simplify_turns_matmul_by_a_transposed_weight_plus_bias_into_linear():
    def f(x, w, b, w2):
        y = x @ w.mT + b  # the pattern: one Linear
        z = b + (y @ w2.mT)  # bias first, the weight's transpose read twice below: both fine
        kept = x @ w.mT  # a product read elsewhere (returned) stays a MatMul
        loss = (z * z).sum()
        loss.backward()
        return loss, kept

    x = dg.tensor(np.random.default_rng(0).standard_normal((6, 3)), requires_grad=True)
    w = dg.tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    w2 = dg.tensor(np.random.default_rng(2).standard_normal((4, 4)), requires_grad=True)
    b = dg.tensor(np.random.default_rng(3).standard_normal(4), requires_grad=True)
    g = traced(f, x, w, b, w2)
    assert ops(g)[:7] == ["Permute", "MatMul", "Add", "Permute", "MatMul", "Add", "Permute"]
    done = simplify.run(g)
    assert [d.split(": ")[1] for d in done] == ["x @ w.mT + b -> linear(x, w, b)"] * 2
    dce.run(g)
    assert ops(g)[:4] == ["Linear", "Linear", "Permute", "MatMul"]
    assert g.nodes[0].needs_input_grad == (True, True, True)
    for t in (x, w, b, w2):
        t.grad = None  # the trace ran f once
    expected = f(x, w, b, w2)
    grads = [t.grad._data.copy() for t in (x, w, b, w2)]
    for t in (x, w, b, w2):
        t.grad = None
    loss, kept = run(g, x, w, b, w2)
    np.testing.assert_array_equal(loss._data, expected[0]._data)  # same forward values
    np.testing.assert_array_equal(kept._data, expected[1]._data)
    for t, want in zip((x, w, b, w2), grads):
        np.testing.assert_allclose(t.grad._data, want, rtol=1e-12, atol=1e-12)  # reassociation


def test_simplify_leaves_a_bias_that_broadcasts_more_than_a_row():
    def f(x, w, b):
        return x @ w.mT + b

    g = traced(f, dg.ones(2, 3), dg.ones(4, 3), dg.ones(2, 4))  # b (2, 4): not a Linear bias
    assert simplify.run(g) == []
    assert "Linear" not in ops(g)
