"""Graph passes: each takes a ``Graph`` and rewrites it in place (one small module each).

``optimize(graph, passes)`` copies the traced graph, runs the passes in order and returns the
optimized graph and the memory plan's buffers. The default order:

1. ``simplify``: algebraic rewrites and numerical stabilization (log(softmax) -> log_softmax,
   log(1 + x) -> log1p, exp(log x) -> x, log(exp x) -> x);
2. ``constant_folding``: ops whose inputs are all constants run once, at compile time;
3. ``cse``: an op computed twice from the same values is computed once;
4. ``dce``: ops whose results nobody reads are dropped;
5. ``fusion``: runs of elementwise ops (and a trailing-dims Sum after one) become one generated
   function: NumPy ufunc calls or a numba kernel, chosen by measurement (``cpu_codegen.py``);
6. ``memory``: every fused intermediate gets a buffer, allocated once and reused by every call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from deepgrad.compile.graph import Graph
from deepgrad.compile.passes import constant_folding, cse, dce, fusion, memory, simplify

__all__ = ["DEFAULT_PASSES", "PASSES", "copy_graph", "optimize"]

PASSES: dict[str, Callable[[Graph], Any]] = {
    "simplify": simplify.run,
    "constant_folding": constant_folding.run,
    "cse": cse.run,
    "dce": dce.run,
    "fusion": fusion.run,
    "memory": memory.run,
}
DEFAULT_PASSES = ("simplify", "constant_folding", "cse", "dce", "fusion", "memory")


def copy_graph(graph: Graph) -> Graph:
    """A copy whose nodes and values a pass may change (arrays, tensors and calls are shared)."""
    memo: dict[int, Any] = {}
    for value in graph.values:
        for item in (value.array, value.tensor):
            if item is not None:
                memo[id(item)] = item
    for node in graph.nodes:
        for item in (node.fn, node.call, node.xp, node.extra.get("ctx")):
            if item is not None:
                memo[id(item)] = item
        for item in list(node.args) + list(node.kwargs.values()) + list(node.constants.values()):
            if not _copyable(item):
                memo[id(item)] = item
    return copy.deepcopy(graph, memo)


def _copyable(item: Any) -> bool:
    from deepgrad.compile.graph import Value, ValueRef

    if isinstance(item, (Value, ValueRef)):
        return True
    if isinstance(item, (tuple, list)):
        return all(_copyable(x) for x in item)
    if isinstance(item, dict):
        return all(_copyable(x) for x in item.values())
    return item is None or isinstance(item, (bool, int, float, str))


def optimize(graph: Graph, passes: tuple[str, ...] | None = None) -> tuple[Graph, dict]:
    """Run ``passes`` (default ``DEFAULT_PASSES``) on a copy of ``graph``.

    Returns:
        The optimized graph and the buffers of the memory plan (value index -> array).
    """
    names = DEFAULT_PASSES if passes is None else tuple(passes)
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise ValueError(
            f"compile: unknown pass {unknown[0]!r}; the passes are {', '.join(PASSES)}."
        )
    graph = copy_graph(graph)
    buffers: dict = {}
    for name in names:
        result = PASSES[name](graph)
        if name == "memory":
            buffers = result
    return graph, buffers
