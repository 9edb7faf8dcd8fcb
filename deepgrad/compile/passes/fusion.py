"""Elementwise fusion: a run of elementwise ops becomes one generated function of ufunc calls.

Each op of the run is *lowered* to its NumPy ufunc, written with ``out=`` so that the memory
plan (``memory.py``) can hand it a buffer that lives across calls. The function is generated as
Python source (``explain`` prints it) and compiled once with ``exec``::

    def fused_0(env, out):
        env[8] = add(env[5], env[7], out=out.get(8))      # %8 = Add(%5, %7)
        env[9] = maximum(env[8], 0, out=out.get(9))       # %9 = Relu(%8)

An op is lowered only when, on the traced arrays, its ufunc gives exactly the primitive's own
result (same values, shape and dtype). On the CPU a group may instead become one numba kernel,
chosen by measurement (``cpu_codegen.py``, ``numba_codegen.py``); then a ``Sum`` over trailing
dims right after the run joins it (reduction fusion: the summed values are never written). On
CuPy arrays a group becomes one generated CUDA kernel (``cupy_codegen.py``), and a ``Sum``
after it, over any dims, joins as a ``cupy.ReductionKernel`` whose map is the group's tail (the
members after the last one whose output is read elsewhere). The backward still
runs each primitive's rule: a fused op that backward needs gets the context ``apply`` would have
made. Unlike a compiled kernel, NumPy still writes every intermediate to memory; what its fusion
removes is the per-op Python work (a Context, a Tensor, a dispatch) and the per-call allocations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.autograd.function import Context
from deepgrad.compile.graph import Graph, Node, Value
from deepgrad.compile.passes import cpu_codegen, cupy_codegen, numba_codegen
from deepgrad.compile.program import Frame, Step, ctx_nodes, finish_context
from deepgrad.ops import elementwise as ew
from deepgrad.ops import reduce as rd

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
_NAMESPACE: dict[str, Any] = {name: getattr(np, name) for name, _ in LOWERINGS.values()}
_NAMESPACE.update(asarray=np.asarray, sum=np.sum)


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


def _group_step(node: Node, function: Any, recipes: list) -> Any:
    """The step maker of a fused node: run ``function``, then make the contexts backward reads."""
    reduction = node.extra["reduction"]
    members = node.extra["members"] + ([reduction] if reduction is not None else [])

    def make(keep: set[int]) -> Step:
        kept = [(m, r, _Missing(m.output)) for m, r in zip(members, recipes) if id(m) in keep]
        buffers = node.extra["buffers"]

        def step(frame: Frame) -> None:
            env = frame.env
            function(env, buffers)
            for member, recipe, missing in kept:
                ctx = Context()
                ctx.fn, ctx.xp = member.fn, member.xp
                ctx._saved, ctx._save_out = recipe["saved"], recipe["save_out"]
                if recipe.get("attrs"):
                    ctx.__dict__.update(recipe["attrs"])
                arrays = [env[v.index] for v in member.inputs]
                y = env[member.output.index]
                finish_context(ctx, member, arrays, missing if y is None else y)
                frame.ctxs[id(member)] = ctx

        return step

    return make


class _Missing:
    """The shape and dtype of a value a kernel did not write (all ``finish_context`` reads)."""

    def __init__(self, value: Value) -> None:
        self.shape, self.dtype = value.shape, value.dtype


def _runs(graph: Graph) -> list[tuple[list[tuple[Node, dict]], Node | None]]:
    """The runs of lowerable op nodes, each with the node that follows it (or None)."""
    runs: list[tuple[list[tuple[Node, dict]], Node | None]] = []
    current: list[tuple[Node, dict]] = []
    for node in graph.nodes:
        recipe = _recipe(node) if node.kind == "op" else None
        if current and (recipe is None or not _joins(current, node)):
            runs.append((current, node))
            current = []
        if recipe is not None:
            current.append((node, recipe))
    if current:
        runs.append((current, None))
    return runs


def _sum_recipe(members: list[Node], after: Node | None) -> dict | None:
    """The context recipe of ``after`` when it is a Sum (over some dims) of the last member only."""
    last = members[-1].output
    if after is None or after.kind != "op" or after.fn is not rd.Sum or after.effectful:
        return None
    if len(after.inputs) != 1 or after.inputs[0] is not last or last.producer is not members[-1]:
        return None
    if set(after.constants) - {"dims", "keepdim"} or not after.constants.get("dims"):
        return None
    if 0 in last.shape:
        return None
    ctx = Context()
    ctx.fn, ctx.xp = rd.Sum, np
    zeros = np.broadcast_to(np.zeros((), dtype=last.dtype), last.shape)
    y = np.asarray(rd.Sum.forward(ctx, zeros, **after.constants))
    if y.shape != after.output.shape or y.dtype != after.output.dtype:
        return None
    attrs = {k: v for k, v in ctx.__dict__.items() if not k.startswith("_")}
    return {"saved": ctx._saved, "save_out": ctx._save_out, "attrs": attrs}


def _reduction(members: list[Node], after: Node | None) -> tuple[Node, dict] | None:
    """``after`` with its context recipe when numba can sum it: a Sum over trailing dims."""
    if members[0].xp is not np or numba_codegen.codegen_choice() == "numpy":
        return None
    if not numba_codegen.available() or not numba_codegen.usable(members):
        return None
    recipe = _sum_recipe(members, after)
    if after is None or recipe is None:
        return None
    ndim, dims = len(members[-1].output.shape), after.constants["dims"]
    if sorted(d % ndim for d in dims) != list(range(ndim - len(dims), ndim)):
        return None
    return after, recipe


def _cupy_reduction(
    graph: Graph, members: list[Node], recipes: list, after: Node | None
) -> tuple[Node, dict, int] | None:
    """``after``, its recipe and the split of the group (``cupy_codegen``: head and tail) when
    a ReductionKernel can sum it: the members after the last one whose output is needed."""
    recipe = _sum_recipe(members, after)
    if after is None or recipe is None or not hasattr(members[0].xp, "ReductionKernel"):
        return None
    needed = _needed(graph, members, recipes, {id(m) for m in members} | {id(after)})
    split = max((k + 1 for k, m in enumerate(members) if m.output.index in needed), default=0)
    if split == len(members):
        return None  # the summed values are read elsewhere: nothing to save by fusing the sum
    return after, recipe, split


def _needed(graph: Graph, members: list[Node], recipes: list, inside: set[int]) -> set[int]:
    """Indices of the members' outputs that something outside the kernel reads (a later node,
    the caller, or a backward rule: only the members whose contexts a backward node reads)."""
    uses = graph.uses()
    returned = {v.index for v in graph.output_values()}
    backward = graph.meta.get("ctx_nodes")
    needed: set[int] = set()
    for member, recipe in zip(members, recipes):
        value = member.output
        if value.index in returned or any(id(n) not in inside for n in uses.get(value, [])):
            needed.add(value.index)
        if backward is not None and id(member) not in backward:
            continue  # no backward rule reads this member's context: nothing it saves is read
        if recipe["save_out"]:
            needed.add(value.index)
        needed.update(member.inputs[p].index for p in recipe["saved"] or ())
    return needed


def _fuse(graph: Graph, index: int, group: list, after: Node | None) -> Node | None:
    """The fused node of one run (with the Sum after it when it can join), or None."""
    members, recipes = [m for m, _ in group], [r for _, r in group]
    xp, buffers = members[0].xp, graph.meta.setdefault("buffers", {})
    if xp is np:
        found = _reduction(members, after)
    else:
        found_cupy = _cupy_reduction(graph, members, recipes, after)
        found = found_cupy[:2] if found_cupy else None
    reduction = found[0] if found else None
    if len(members) < 2 and reduction is None:
        return None
    decision: dict[str, Any]
    if xp is np:
        source = cpu_codegen.numpy_source(index, members, LOWERINGS, reduction)
        namespace = dict(_NAMESPACE)
        exec(compile(source, f"<deepgrad.compile fused_{index}>", "exec"), namespace)
        inside = {id(m) for m in members} | {id(reduction)}
        needed = _needed(graph, members, recipes, inside)
        function, outputs, decision = cpu_codegen.choose(
            graph, members, reduction, needed, namespace[f"fused_{index}"]
        )
        if decision["backend"] == "numba":
            source = decision["source"]
    else:  # CuPy: one generated CUDA kernel (and a ReductionKernel for a fused sum)
        split = found_cupy[2] if found_cupy else len(members)
        function, source = cupy_codegen.group_function(xp, index, members, reduction, split)
        outputs = [m.output for m in members[:split]] + ([reduction.output] if reduction else [])
        decision = {"backend": "cupy", "why": "CuPy arrays"}
    fused = Node("fused", f"fused_{index}", [], outputs=outputs)
    fused.extra.update(members=members, reduction=reduction, source=source, buffers=buffers, xp=xp)
    fused.extra.update(backend=decision["backend"], why=decision["why"])
    fused.extra["step"] = _group_step(fused, function, recipes + ([found[1]] if found else []))
    return fused


def run(graph: Graph) -> list[list[str]]:
    """Replace each run of two or more lowerable op nodes (or one and a Sum) by one fused node."""
    replaced: dict[int, Node] = {}
    inside: set[int] = set()
    shown: list[list[str]] = []
    graph.meta["ctx_nodes"] = ctx_nodes(graph)
    for group, after in _runs(graph):
        fused = _fuse(graph, len(shown), group, after)
        if fused is None:
            continue
        taken = fused.extra["members"] + [fused.extra["reduction"]] * bool(fused.extra["reduction"])
        replaced[id(taken[0])] = fused
        inside.update(id(m) for m in taken)
        shown.append([m.describe() for m in taken])
    graph.nodes = [
        replaced.get(id(n), n) for n in graph.nodes if id(n) not in inside or id(n) in replaced
    ]
    graph.meta["fusion_groups"] = shown
    del graph.meta["ctx_nodes"]
    return shown
