"""Elementwise fusion: a run of elementwise ops becomes one generated function of ufunc calls.

Each op of the run is *lowered* to its NumPy ufunc, written with ``out=`` so that the memory
plan (``memory.py``) can hand it a buffer that lives across calls. The function is generated as
Python source (``explain`` prints it) and compiled once with ``exec``::

    def fused_0(env, out):
        env[8] = add(env[5], env[7], out=out.get(8))      # %8 = Add(%5, %7)
        env[9] = maximum(env[8], 0, out=out.get(9))       # %9 = Relu(%8)

An op is lowered only when, on the traced arrays, its ufunc gives exactly the primitive's own
result (same values, shape and dtype). On CuPy arrays a group becomes one generated CUDA
kernel instead (``cupy_codegen.py``). The backward still runs each
primitive's rule: a fused op that backward needs gets the context ``apply`` would have made.
Unlike a compiled kernel, NumPy still writes every intermediate to memory; what fusion removes
is the per-op Python work (a Context, a Tensor, a dispatch) and the per-call allocations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.autograd.function import Context
from deepgrad.compile.graph import Graph, Node
from deepgrad.compile.passes import cupy_codegen
from deepgrad.compile.program import Frame, Step, finish_context
from deepgrad.ops import elementwise as ew

__all__ = ["LOWERINGS", "run"]

# primitive -> (ufunc name, extra trailing argument or None)
LOWERINGS: dict[type, tuple[str, Any]] = {
    ew.Add: ("add", None),
    ew.Sub: ("subtract", None),
    ew.Mul: ("multiply", None),
    ew.Div: ("true_divide", None),
    ew.Neg: ("negative", None),
    ew.Exp: ("exp", None),
    ew.Log: ("log", None),
    ew.Log1p: ("log1p", None),
    ew.Sqrt: ("sqrt", None),
    ew.Tanh: ("tanh", None),
    ew.Relu: ("maximum", 0),
}


def _recipe(node: Node) -> dict | None:
    """Run the primitive and its ufunc on the traced arrays; the context recipe if they agree."""
    if node.fn not in LOWERINGS or node.effectful or node.constants:
        return None
    if node.xp is not np:
        return _cupy_recipe(node) if cupy_codegen.usable(node) else None
    arrays = [v.array for v in node.inputs]
    if any(type(a) is not np.ndarray for a in arrays):
        return None
    ctx = Context()
    ctx.fn, ctx.xp = node.fn, np
    with np.errstate(all="ignore"):
        expected = np.asarray(node.fn.forward(ctx, *arrays))
        name, extra = LOWERINGS[node.fn]
        got = getattr(np, name)(*arrays, *(() if extra is None else (extra,)))
    same = (
        got.shape == expected.shape
        and got.dtype == expected.dtype
        and np.array_equal(got, expected, equal_nan=True)
    )
    attrs = {k: v for k, v in ctx.__dict__.items() if not k.startswith("_")}
    if not same or attrs:
        return None
    return {"saved": ctx._saved, "save_out": ctx._save_out}


def _cupy_recipe(node: Node) -> dict | None:
    """The context recipe of a CuPy op (its kernel is C: ``cupy_codegen.py``)."""
    ctx = Context()
    ctx.fn, ctx.xp = node.fn, node.xp
    node.fn.forward(ctx, *[v.array for v in node.inputs])
    if any(not k.startswith("_") for k in ctx.__dict__):
        return None
    return {"saved": ctx._saved, "save_out": ctx._save_out}


def _joins(group: list, node: Node) -> bool:
    """Whether ``node`` can join the group: the same array module; on CuPy, the same shape."""
    if not group:
        return True
    first = group[0][0]
    if first.xp is not node.xp:
        return False
    return first.xp is np or first.output.shape == node.output.shape


def _source(index: int, members: list[Node]) -> str:
    lines = [f"def fused_{index}(env, out):"]
    for node in members:
        name, extra = LOWERINGS[node.fn]
        args = [f"env[{v.index}]" for v in node.inputs]
        if extra is not None:
            args.append(repr(extra))
        out = node.output.index
        call = f"{name}({', '.join(args)}, out=out.get({out}))"
        if node.output.shape == ():
            call = f"asarray({call})"  # a 0-d ufunc result is a NumPy scalar, not an array
        lines.append(f"    env[{out}] = {call}  # {node.describe()}")
    return "\n".join(lines) + "\n"


def _group_step(node: Node, function: Any, recipes: list) -> Any:
    members = node.extra["members"]

    def make(keep: set[int]) -> Step:
        kept = [(m, r) for m, r in zip(members, recipes) if id(m) in keep]
        buffers = node.extra["buffers"]

        def step(frame: Frame) -> None:
            env = frame.env
            function(env, buffers)
            for member, recipe in kept:
                ctx = Context()
                ctx.fn, ctx.xp = member.fn, member.xp
                ctx._saved, ctx._save_out = recipe["saved"], recipe["save_out"]
                arrays = [env[v.index] for v in member.inputs]
                finish_context(ctx, member, arrays, env[member.output.index])
                frame.ctxs[id(member)] = ctx

        return step

    return make


def run(graph: Graph) -> list[list[str]]:
    """Replace each run of two or more lowerable op nodes by one fused node."""
    groups: list[list[tuple[Node, dict]]] = [[]]
    for node in graph.nodes:
        recipe = _recipe(node) if node.kind == "op" else None
        if recipe is not None and not _joins(groups[-1], node):
            groups.append([])
        if recipe is not None:
            groups[-1].append((node, recipe))
        elif groups[-1]:
            groups.append([])
    buffers: dict = graph.meta.setdefault("buffers", {})
    namespace = {name: getattr(np, name) for name, _ in LOWERINGS.values()}
    namespace["asarray"] = np.asarray
    fused_nodes: dict[int, Node] = {}
    shown: list[list[str]] = []
    for group in (g for g in groups if len(g) >= 2):
        members = [m for m, _ in group]
        index = len(shown)
        xp = members[0].xp
        if xp is np:
            source = _source(index, members)
            exec(compile(source, f"<deepgrad.compile fused_{index}>", "exec"), namespace)
            function = namespace[f"fused_{index}"]
        else:  # CuPy: one generated CUDA kernel
            function, source = cupy_codegen.group_function(xp, index, members)
        fused = Node("fused", f"fused_{index}", [], outputs=[m.output for m in members])
        fused.extra.update(members=members, source=source, buffers=buffers, xp=xp)
        fused.extra["step"] = _group_step(fused, function, [r for _, r in group])
        fused_nodes[id(members[0])] = fused
        shown.append([m.describe() for m in members])
    if fused_nodes:
        inside = {id(m) for f in fused_nodes.values() for m in f.extra["members"]}
        graph.nodes = [
            fused_nodes.get(id(n), n)
            for n in graph.nodes
            if id(n) not in inside or id(n) in fused_nodes
        ]
    graph.meta["fusion_groups"] = shown
    return shown
