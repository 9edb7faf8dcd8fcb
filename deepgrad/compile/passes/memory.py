"""The memory plan: every fused intermediate gets one buffer, allocated once, reused by each call.

A value may live in a reused buffer only if nothing outside the call can hold it: the function
does not return it, no host or backward node reads it (an optimizer keeps nothing, but
``.grad`` must never alias a buffer that the next call overwrites), and no op reads it whose
output escapes (that output could be a view of the buffer). The backward's gradients are fresh
arrays; those that become a ``.grad`` are checked by the engine's ``accumulate_grad``, which
copies an array it does not own (the program lists the buffers as "handed out").
"""

from __future__ import annotations

import numpy as np

from deepgrad.compile.graph import Graph, node_inputs

__all__ = ["escaping", "run"]


def escaping(graph: Graph) -> set[int]:
    """Indices of the values that may outlive a call (or alias one that does)."""
    out = {v.index for v in graph.output_values()}
    for node in reversed(graph.nodes):
        if node.kind in ("host", "backward") or (
            node.kind == "op" and any(v.index in out for v in node.outputs)
        ):
            out.update(v.index for v in node_inputs(node))
    return out


def run(graph: Graph) -> dict[int, np.ndarray]:
    """Allocate the buffers of the fused nodes' outputs; return value index -> buffer."""
    buffers: dict = graph.meta.setdefault("buffers", {})
    escapes = escaping(graph)
    plan = []
    for node in graph.nodes:
        if node.kind != "fused":
            continue
        for value in node.outputs:
            if value.index in escapes:
                plan.append(f"{value.describe()}: fresh array each call (leaves the call)")
                continue
            xp = node.extra.get("xp", np)  # CuPy groups: device buffers
            buffers[value.index] = xp.empty(value.shape, dtype=value.dtype)
            plan.append(f"{value.describe()}: buffer, {buffers[value.index].nbytes} bytes")
    graph.meta["memory_plan"] = plan
    return buffers
