"""Dead-code elimination: drop the op nodes whose results nobody reads.

A value is *live* when the function returns it, when a host or backward node reads it, or
when a live op reads it. Nodes that change state (host, backward, BatchNorm with its running
statistics) always stay. One walk from the last node to the first finds them all, because a
node comes after everything it reads.
"""

from __future__ import annotations

from deepgrad.compile.graph import Graph, node_inputs
from deepgrad.compile.program import backward_order

__all__ = ["run"]


def run(graph: Graph) -> int:
    """Remove dead op nodes from ``graph``; return how many were removed."""
    live = {v.index for v in graph.output_values()}
    kept = []
    for node in reversed(graph.nodes):
        needed = node.effectful or any(v.index in live for v in node.outputs)
        if not needed:
            continue
        kept.append(node)
        live.update(v.index for v in node_inputs(node))
        if node.kind == "backward":
            # Backward reads what each node in its reach saved: their inputs and outputs.
            for op in backward_order(node.inputs[0]):
                live.update(v.index for v in op.inputs)
                live.update(v.index for v in op.outputs)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    if removed:
        graph.meta.setdefault("log", []).append(f"dce: {removed} dead op(s) removed")
    return removed
