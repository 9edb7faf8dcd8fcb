from __future__ import annotations

from deepgrad.compile.graph import Graph


def run(graph: Graph) -> dict:
    return {}
