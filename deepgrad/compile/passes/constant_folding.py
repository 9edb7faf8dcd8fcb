"""Constant folding: an op whose inputs are all constants runs once, when compiling.

Its output becomes a constant of the program (``kind="constant"``). Constants never require
grad, so no backward rule is lost. Nodes that change state are never folded.
"""

from __future__ import annotations

from deepgrad.autograd.function import Context
from deepgrad.compile.graph import Graph, ValueRef, remove_nodes

__all__ = ["run"]


def run(graph: Graph) -> int:
    """Fold every op node whose inputs are constants; return how many were folded."""
    folded = []
    for node in graph.nodes:
        if node.kind != "op" or node.effectful or node.needs_input_grad is not None:
            continue
        if any(isinstance(v, ValueRef) for v in node.constants.values()):
            continue
        if not node.inputs or any(v.kind != "constant" for v in node.inputs):
            continue
        ctx = Context()
        ctx.fn, ctx.xp = node.fn, node.xp
        result = node.fn.forward(ctx, *[v.array for v in node.inputs], **node.constants)
        out = node.output
        out.kind, out.array, out.producer = "constant", node.xp.asarray(result), None
        out.origin = f"folded {node.describe()}"
        folded.append(node)
    remove_nodes(graph, folded)
    if folded:
        graph.meta.setdefault("log", []).append(f"constant folding: {len(folded)} op(s) folded")
    return len(folded)
