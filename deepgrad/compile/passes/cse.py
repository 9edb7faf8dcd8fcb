"""Common-subexpression elimination: an op computed twice from the same values runs once.

Two op nodes are the same computation when they run the same primitive on the same input
values with equal constants, in the same grad mode. The second one's readers then read the
first one's output. Nodes that change state (host, backward, BatchNorm) are barriers: a value
read after an optimizer step is not the value read before it, so the table starts afresh.
"""

from __future__ import annotations

from typing import Any

from deepgrad.compile.graph import Graph, Node, remove_nodes, replace_uses

__all__ = ["run", "signature"]


def signature(node: Node) -> Any:
    """What makes two op nodes the same computation (None: never merged)."""
    from deepgrad.compile.api import _plain

    try:
        key = (
            node.fn,
            tuple(v.index for v in node.inputs),
            _plain(node.constants),
            node.needs_input_grad,
            node.grad_mode,
        )
        hash(key)
    except TypeError:
        return None
    return key


def run(graph: Graph) -> int:
    """Merge repeated op nodes; return how many were removed."""
    seen: dict = {}
    dropped = []
    for node in graph.nodes:
        if node.kind != "op" or node.effectful:
            seen.clear()
            continue
        key = signature(node)
        if key is None:
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = node
            continue
        replace_uses(graph, node.output, first.output)
        dropped.append(node)
    remove_nodes(graph, dropped)
    if dropped:
        graph.meta.setdefault("log", []).append(f"cse: {len(dropped)} repeated op(s) merged")
    return len(dropped)
