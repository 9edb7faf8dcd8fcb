"""The CPU code of a fused group: NumPy ufunc calls or a numba kernel, chosen by measurement.

Every group first gets its NumPy function: one ufunc call per op with ``out=`` (the memory
plan's buffers), then, for a group that ends in a reduction, one ``sum(..., out=)``. It gives
the primitives' results bit for bit. When numba can take the group (``numba_codegen.usable``),
the choice (``use_codegen``) decides:

- ``"numpy"``: NumPy always;
- ``"numba"``: the numba kernel;
- ``"auto"`` (the default): groups under ``MIN_ELEMENTS`` elements keep NumPy (a kernel's first
  compile costs ~0.3 s and on a few thousand elements saves microseconds); larger ones run
  both on the arrays seen at trace time (best of ``REPEATS``) and keep numba only when it is
  at least ``MARGIN`` faster and agrees with NumPy (within reassociation tolerance).

The decision and the times are kept on the fused node; ``explain`` prints them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.compile.graph import Graph, Node, Value
from deepgrad.compile.passes import numba_codegen

__all__ = ["MARGIN", "MIN_ELEMENTS", "REPEATS", "choose", "numpy_source"]

MIN_ELEMENTS = 16384
MARGIN = 0.1
REPEATS = 5
_AGREE = {np.dtype("float32"): 1e-5, np.dtype("float64"): 1e-12}


def numpy_source(index: int, members: list[Node], lowerings: dict, reduction: Node | None) -> str:
    """``fused_<index>(env, out)``: one ufunc call per member (and one ``sum``) with ``out=``."""
    lines = [f"def fused_{index}(env, out):"]
    for node in members:
        name, extra = lowerings[node.fn]
        args = [f"env[{v.index}]" for v in node.inputs]
        if extra is not None:
            args.append(repr(extra))
        lines.append(_assign(node.output, f"{name}({', '.join(args)}", node))
    if reduction is not None:
        dims, keepdim = reduction.constants["dims"], reduction.constants.get("keepdim", False)
        x = f"env[{reduction.inputs[0].index}]"
        lines.append(
            _assign(reduction.output, f"sum({x}, axis={dims!r}, keepdims={keepdim}", reduction)
        )
    return "\n".join(lines) + "\n"


def _assign(value: Value, call: str, node: Node) -> str:
    call = f"{call}, out=out.get({value.index}))"
    if value.shape == ():
        call = f"asarray({call})"  # a 0-d ufunc result is a NumPy scalar, not an array
    return f"    env[{value.index}] = {call}  # {node.describe()}"


def choose(
    graph: Graph,
    members: list[Node],
    reduction: Node | None,
    needed: set[int],
    numpy_function: Callable[[list, dict], None],
) -> tuple[Callable[[list, dict], None], list[Value], dict[str, Any]]:
    """The group's function, the values it writes and the decision (``backend``, ``why``...)."""
    everything = [m.output for m in members] + ([reduction.output] if reduction else [])
    numpy_choice = (numpy_function, everything)
    choice = numba_codegen.codegen_choice()
    if choice == "numpy":
        return (*numpy_choice, {"backend": "numpy", "why": "use_codegen('numpy')"})
    if not numba_codegen.available():
        return (*numpy_choice, {"backend": "numpy", "why": "numba not installed or switched off"})
    if not numba_codegen.usable(members):
        return (*numpy_choice, {"backend": "numpy", "why": "mixed shapes/dtypes or ops"})
    size = math.prod(members[0].output.shape)
    if choice == "auto" and size < MIN_ELEMENTS:
        why = f"{size} elements < {MIN_ELEMENTS}"
        return (*numpy_choice, {"backend": "numpy", "why": why})
    written = [m.output for m in members if m.output.index in needed]
    if reduction is not None:
        written.append(reduction.output)  # the kernel's reason to exist
    function, source = numba_codegen.group_function(members, written, reduction)
    inputs = _traced_inputs(graph, members)
    if choice == "numba":
        if inputs is not None:
            _time(function, inputs, written, 1)  # compile (or load from disk) now, not in call 3
        return (
            function,
            written,
            {"backend": "numba", "why": "use_codegen('numba')", "source": source},
        )
    if inputs is None:
        return (*numpy_choice, {"backend": "numpy", "why": "no traced arrays to time"})
    t_numpy, expected = _time(numpy_function, inputs, everything, REPEATS)
    t_numba, got = _time(function, inputs, written, REPEATS)
    times = f"numba {t_numba * 1e6:.0f} us, numpy {t_numpy * 1e6:.0f} us"
    agree = all(_close(got[v.index], expected[v.index]) for v in written)
    if agree and t_numba < t_numpy * (1 - MARGIN):
        return function, written, {"backend": "numba", "why": times, "source": source}
    why = times if agree else f"{times}; numba disagreed with NumPy"
    return (*numpy_choice, {"backend": "numpy", "why": why, "source": source})


def _traced_inputs(graph: Graph, members: list[Node]) -> list | None:
    """An environment holding the arrays the group's inputs had at trace time (None: missing)."""
    env: list = [None] * len(graph.values)
    for index in numba_codegen.reads(members):
        array = graph.values[index].array
        if array is None:
            return None
        env[index] = array
    return env


def _time(function: Callable, template: list, outputs: list[Value], repeats: int) -> tuple:
    """The best time of ``repeats`` calls after one warm-up call, and the values written."""
    out = {v.index: np.empty(v.shape, dtype=v.dtype) for v in outputs}
    env = list(template)
    best = math.inf
    with np.errstate(all="ignore"):
        function(env, out)
        for _ in range(repeats):
            start = time.perf_counter()
            function(env, out)
            best = min(best, time.perf_counter() - start)
    return best, {v.index: env[v.index] for v in outputs}


def _close(got: Any, expected: Any) -> bool:
    tolerance = _AGREE.get(np.dtype(expected.dtype), 0.0)
    return bool(np.allclose(got, expected, rtol=tolerance, atol=tolerance, equal_nan=True))
