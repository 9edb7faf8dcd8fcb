"""``deepgrad.compile.explain(fn, *args)``: the data flow of one call, made visible.

It traces ``fn`` on ``args`` (one eager call), runs the passes, then runs the compiled program
once more, timing each step, and prints (and returns) a report in plain text:

1. the graph as traced: one line per primitive call, host call and backward call;
2. what each pass changed;
3. the graph after the passes;
4. the fusion groups, the code chosen for each (NumPy, numba or CuPy, and why) and that code;
5. the memory plan (which values live in buffers reused by every call);
6. the backward: the primitives whose backward rules run, in the engine's order;
7. the time of each step of the compiled call, slowest first: for a function that changes no
   state, the fastest of several warm calls; otherwise the one timed call (cold: the first).

A function that changes state runs twice, so a training step takes two optimizer steps;
explain a copy of the model when that matters.
"""

from __future__ import annotations

import time
from typing import Any

from deepgrad.compile.api import CompiledFunction, discover, signature, trace
from deepgrad.compile.graph import Graph
from deepgrad.compile.passes import optimize
from deepgrad.compile.program import Program, backward_order, run_timed

__all__ = ["explain"]


def explain(
    fn: Any, *args: Any, passes: tuple[str, ...] | None = None, show: bool = True, **kwargs: Any
) -> str:
    """Trace, optimize and time one call of ``fn(*args, **kwargs)``; print and return the report.

    Args:
        fn: a function, a Module or a ``CompiledFunction``.
        *args, **kwargs: the call's arguments.
        passes: the passes to run (default: all, in the default order).
        show: print the report. Default: True.

    Returns:
        The report (see the module docstring).

    Example:
        >>> import deepgrad as dg
        >>> text = dg.compile.explain(lambda x: (x * 2).exp().sum(), dg.ones(3), show=False)
        >>> print(text.splitlines()[0])
        == graph as traced: 3 nodes ==
    """
    target = fn.fn if isinstance(fn, CompiledFunction) else fn
    extra = fn.optimizers if isinstance(fn, CompiledFunction) else []
    found = discover(target, args, kwargs)
    tensors: list = []
    signature((args, kwargs), tensors)
    start = time.perf_counter()
    _, tracer = trace(target, args, kwargs, tensors, extra + found["optimizers"])
    traced_s = time.perf_counter() - start
    lines = [f"== graph as traced: {len(tracer.graph.nodes)} nodes ==", tracer.graph.describe()]
    if tracer.breaks:
        lines += ["== graph breaks (the function would run eagerly) =="]
        lines += [f"  {b}" for b in tracer.breaks]
        return _done(lines, show)
    start = time.perf_counter()
    graph, buffers = optimize(tracer.graph, passes)
    program = Program(graph, buffers)
    passes_s = time.perf_counter() - start
    lines += ["== passes =="] + [f"  {entry}" for entry in graph.meta.get("log", [])]
    lines += [f"== graph after the passes: {len(graph.nodes)} nodes ==", graph.describe()]
    lines += _fusion(graph) + _memory(graph) + _backward(graph)
    lines += _timing(program, _node_times(program, graph, tensors))
    lines.append(
        f"compile time: trace {traced_s * 1e3:.1f} ms + passes and code generation "
        f"{passes_s * 1e3:.1f} ms (deepgrad.compile traces twice before the first compiled call)"
    )
    return _done(lines, show)


def _done(lines: list[str], show: bool) -> str:
    text = "\n".join(lines)
    if show:
        print(text)
    return text


def _fusion(graph: Any) -> list[str]:
    lines = ["== fusion groups =="]
    fused = [n for n in graph.nodes if n.kind == "fused"]
    if not fused:
        lines.append("  (none: no run of two or more lowerable elementwise ops)")
    for node in fused:
        names = [m.fn.__name__ for m in node.extra["members"]]
        if node.extra.get("reduction") is not None:
            names.append(f"{node.extra['reduction'].name} (reduction fused)")
        backend = f"{node.extra.get('backend', '?')}: {node.extra.get('why', '')}"
        lines.append(f"  {node.name}: " + "; ".join(names) + f"  [{backend}]")
        lines += ["    " + line for line in node.extra["source"].splitlines()]
    return lines


def _memory(graph: Any) -> list[str]:
    plan = graph.meta.get("memory_plan", [])
    total = sum(b.nbytes for b in graph.meta.get("buffers", {}).values())
    lines = [f"== memory plan: {len(graph.meta.get('buffers', {}))} buffers, {total} bytes =="]
    if not plan:
        return lines + ["  (no fused values)"]
    return lines + [f"  {entry}" for entry in plan]


def _backward(graph: Any) -> list[str]:
    lines = []
    for node in graph.nodes:
        if node.kind == "backward":
            order = backward_order(node.inputs[0])
            lines.append(f"== backward of {node.inputs[0].name}: {len(order)} backward rules ==")
            lines.append("  " + " -> ".join(f"{n.name}({n.output.name})" for n in order))
    return lines


TIMED_CALLS = 5
"""Calls of a compiled program without side effects that explain times (after one warm-up)."""


def _node_times(program: Program, graph: Graph, tensors: list) -> tuple[list[float], str]:
    """Seconds per step and how they were taken.

    The first call of a program allocates its buffers and finds the caches cold (a softmax's
    step measured 4x its warm time). A graph without host or backward nodes changes no state, so
    it is called once to warm up and then ``TIMED_CALLS`` times, keeping each step's fastest
    time. A graph with them (an optimizer step, ``.grad``, a random draw) is called only once:
    more calls would train further or draw other numbers.
    """
    _, times = run_timed(program, tensors)
    if any(node.kind in ("host", "backward") for node in graph.nodes):
        return times, "one call, the first (it changes state: allocation and cold caches included)"
    runs = [run_timed(program, tensors)[1] for _ in range(TIMED_CALLS)]
    return [min(step) for step in zip(*runs)], f"fastest of {TIMED_CALLS} warm calls"


def _timing(program: Program, timed: tuple[list[float], str]) -> list[str]:
    times, how = timed
    total = sum(times) or 1e-12
    lines = [f"== time per step of one compiled call: {total * 1e3:.3f} ms ({how}) =="]
    ranked = sorted(zip(times, program.labels), key=lambda item: -item[0])
    for seconds, label in ranked:
        text = label if len(label) <= 90 else label[:87] + "..."
        lines.append(f"  {seconds * 1e6:9.1f} us {100 * seconds / total:5.1f}%  {text}")
    return lines
