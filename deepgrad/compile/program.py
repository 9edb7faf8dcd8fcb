"""The compiled program: the graph turned into a list of steps that run on raw arrays.

A call fills a list of arrays (``frame.env``, one slot per value: inputs, externals read now,
constants) and runs the steps in order:

- an op step calls the primitive's ``forward`` on arrays, with no graph bookkeeping; when the
  backward needs the node, it keeps a ``Context`` with the saved arrays, as ``apply`` would;
- a fused step runs a generated function of ufunc calls into planned buffers
  (``passes/fusion.py``);
- a host step calls the recorded Python function again (optimizer step, in-place update,
  random draw);
- the backward steps run each primitive's own ``backward`` rule, in the order of the engine
  (``autograd/engine.py``), sum the gradients that meet, and hand the leaves' gradients to the
  engine's ``accumulate_grad``, so ``.grad`` behaves as in eager mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd import engine
from deepgrad.autograd.function import Context
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.compile.graph import Graph, Node, Value, ValueRef, node_inputs

__all__ = ["Frame", "Program", "backward_order"]

_ndarray = np.ndarray
_make = Tensor._make


class Frame:
    """The state of one call: the arrays, the contexts kept for backward, the input tensors."""

    __slots__ = ("ctxs", "env", "tensors")

    def __init__(self, env: list, tensors: list) -> None:
        self.env = env
        self.ctxs: dict[int, Context] = {}
        self.tensors = tensors


Step = Callable[[Frame], None]


class Program:
    """Steps built from an optimized graph; ``run(tensors)`` is one call."""

    def __init__(self, graph: Graph, buffers: dict[int, Any] | None = None) -> None:
        self.graph = graph
        self.buffers = buffers or {}
        self.handed_out = {id(b) for b in self.buffers.values()}
        keep = ctx_nodes(graph)
        self.template: list = [None] * len(graph.values)
        self.externals = [v for v in graph.values if v.kind == "external"]
        for value in graph.values:
            if value.kind == "constant":
                self.template[value.index] = value.array
        self.steps: list[Step] = []
        self.labels: list[str] = []
        for node in graph.nodes:
            self.steps.append(self._step(node, keep))
            self.labels.append(node.describe())
        self.frees = last_uses(graph)
        self.plan = list(zip(self.steps, self.frees))

    def _step(self, node: Node, keep: set[int]) -> Step:
        if node.kind == "op":
            return op_step(node, id(node) in keep)
        if node.kind == "fused":
            return node.extra["step"](keep)
        if node.kind == "host":
            return host_step(node)
        return backward_step(node, self.graph, self.handed_out)

    def guard(self) -> bool:
        """Whether the externals still look as they did at trace time."""
        for value in self.externals:
            t = value.tensor
            array = t._data
            if (
                array.shape != value.shape
                or array.dtype != value.dtype
                or t._requires_grad != value.requires_grad
            ):
                return False
        return True

    def start(self, tensors: list) -> Frame:
        env = self.template.copy()
        for value, tensor in zip(self.graph.inputs, tensors):
            env[value.index] = tensor._data
        for value in self.externals:
            env[value.index] = value.tensor._data
        return Frame(env, tensors)

    def run(self, tensors: list) -> Any:
        frame = self.start(tensors)
        previous = GradMode.enabled
        env = frame.env
        try:
            for step, frees in self.plan:
                step(frame)
                for index in frees:
                    env[index] = None
        finally:
            GradMode.enabled = previous
        return rebuild(self.graph.output_spec, env)


def run_timed(program: Program, tensors: list) -> tuple[Any, list[float]]:
    """One call, timing every step (seconds); for ``explain``."""
    import time

    frame = program.start(tensors)
    previous = GradMode.enabled
    times = []
    try:
        for step in program.steps:
            start = time.perf_counter()
            step(frame)
            times.append(time.perf_counter() - start)
    finally:
        GradMode.enabled = previous
    return rebuild(program.graph.output_spec, frame.env), times


def node_reads(node: Node) -> list[Value]:
    """The values a step reads from the frame (a fused node: its members' inputs)."""
    if node.kind != "fused":
        return node_inputs(node)
    members = list(node.extra["members"])
    if node.extra.get("reduction") is not None:
        members.append(node.extra["reduction"])
    return [v for member in members for v in node_inputs(member)]


def last_uses(graph: Graph) -> list[tuple[int, ...]]:
    """Per node, the values whose last reader it is (or that it writes and nobody reads): the
    program drops them from the frame after the node, so a big intermediate is freed (or its
    memory reused) as soon as in eager mode. The returned values are kept."""
    kept = {v.index for v in graph.output_values()}
    last: dict[int, int] = {}
    for k, node in enumerate(graph.nodes):
        for value in node.outputs:
            last.setdefault(value.index, k)
        for value in node_reads(node):
            last[value.index] = k
    frees: list[list[int]] = [[] for _ in graph.nodes]
    for index, k in last.items():
        if index not in kept:
            frees[k].append(index)
    return [tuple(f) for f in frees]


def rebuild(spec: Any, env: list) -> Any:
    """The returned structure, with a Tensor (outside any graph) for each value."""
    if isinstance(spec, Value):
        return _make(env[spec.index], None)
    if isinstance(spec, tuple):
        return tuple(rebuild(s, env) for s in spec)
    if isinstance(spec, list):
        return [rebuild(s, env) for s in spec]
    if isinstance(spec, dict):
        return {k: rebuild(s, env) for k, s in spec.items()}
    return spec


def ctx_nodes(graph: Graph) -> set[int]:
    """The op nodes whose contexts some backward node needs (by ``id``)."""
    keep: set[int] = set()
    for node in graph.nodes:
        if node.kind == "backward":
            keep.update(id(n) for n in backward_order(node.inputs[0]))
    return keep


def _grad_parent(value: Value) -> Node | None:
    node = value.producer
    if node is not None and node.kind == "op" and node.needs_input_grad is not None:
        return node
    return None


def backward_order(root: Value) -> list[Node]:
    """The op nodes that backward from ``root`` runs, in the engine's order (its algorithm)."""
    first = _grad_parent(root)
    if first is None:
        return []
    order: list[Node] = []
    visited = {id(first)}
    stack = [(first, iter(first.inputs))]
    while stack:
        node, inputs = stack[-1]
        for value in inputs:
            parent = _grad_parent(value)
            if parent is not None and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


# -- steps ------------------------------------------------------------------------------------
def finish_context(ctx: Context, node: Node, arrays: list, y: Any) -> None:
    """What ``Function.apply`` adds to a context that backward reads."""
    ctx.needs_input_grad = node.needs_input_grad or ()
    ctx.shape = y.shape
    ctx.dtype = y.dtype
    positions: Any = ctx._saved
    if positions is not None:
        saved: Any = tuple([_make(arrays[i], None) for i in positions])
        ctx._saved = saved
        versions: Any = (0,) * len(positions)
        ctx._saved_versions = versions
    if ctx._save_out:
        ctx._saved_out = y


def op_step(node: Node, keep_ctx: bool) -> Step:
    """Run one primitive's forward on the frame's arrays."""
    cls, forward, xp = node.fn, node.fn.forward, node.xp
    ins = [v.index for v in node.inputs]
    out = node.output.index
    # a constant that is (or holds, like an index tuple) a value is read from the frame each call
    constants = {k: v for k, v in node.constants.items() if not _holds_ref(v)}
    refs = [(k, v) for k, v in node.constants.items() if _holds_ref(v)]
    grad_mode = node.grad_mode

    def step(frame: Frame) -> None:
        env = frame.env
        ctx = Context()
        ctx.fn = cls
        ctx.xp = xp
        arrays = [env[i] for i in ins]
        kwargs = constants
        if refs:
            kwargs = {**constants, **{k: _arrays_of(v, env) for k, v in refs}}
        GradMode.enabled = grad_mode
        y = forward(ctx, *arrays, **kwargs)
        if type(y) is not _ndarray and not hasattr(y, "__cuda_array_interface__"):
            y = xp.asarray(y)
        env[out] = y
        if keep_ctx:
            finish_context(ctx, node, arrays, y)
            frame.ctxs[id(node)] = ctx

    return step


def _holds_ref(spec: Any) -> bool:
    if isinstance(spec, (tuple, list)):
        return any(_holds_ref(s) for s in spec)
    return isinstance(spec, ValueRef)


def _arrays_of(spec: Any, env: list) -> Any:
    """An op's constant with each value (at any depth of tuples/lists) replaced by its array."""
    if isinstance(spec, ValueRef):
        return env[spec.value.index]
    if isinstance(spec, tuple):
        return tuple(_arrays_of(s, env) for s in spec)
    if isinstance(spec, list):
        return [_arrays_of(s, env) for s in spec]
    return spec


def resolve(spec: Any, env: list) -> Any:
    """Host-call arguments: a Tensor (or the raw array) for each value, externals as themselves."""
    if isinstance(spec, ValueRef):
        value = spec.value
        if spec.raw:
            return env[value.index]
        if value.kind == "external" and value.tensor._data is env[value.index]:
            return value.tensor
        return _make(env[value.index], None)
    if isinstance(spec, tuple):
        return tuple(resolve(s, env) for s in spec)
    if isinstance(spec, list):
        return [resolve(s, env) for s in spec]
    if isinstance(spec, dict):
        return {k: resolve(s, env) for k, s in spec.items()}
    return spec


def host_step(node: Node) -> Step:
    """Call the recorded Python function again (it reads and writes the frame's arrays)."""
    call: Any = node.call
    grad_mode = node.grad_mode
    outs = [v.index for v in node.outputs]
    inplace = node.extra.get("inplace", False)

    def step(frame: Frame) -> None:
        env = frame.env
        args = resolve(node.args, env)
        kwargs = resolve(node.kwargs, env)
        GradMode.enabled = grad_mode
        result = call(*args, **kwargs)
        if inplace:
            env[outs[0]] = args[0]._data
        elif outs:
            env[outs[0]] = result._data

    return step


def backward_step(node: Node, graph: Graph, handed_out: set) -> Step:
    """``root.backward(seed)``: the primitives' backward rules in the engine's order."""
    root = node.inputs[0]
    seed = node.inputs[1] if len(node.inputs) > 1 else None
    order = backward_order(root)
    leaves = list(node.extra["leaves"])
    leaf_slots = {v.index: k for k, v in enumerate(leaves)}
    outs = [v.index for v in node.outputs]
    retain = node.extra.get("retain_graph", False)
    plan = [_backward_plan(n) for n in order]

    def step(frame: Frame) -> None:
        env, ctxs = frame.env, frame.ctxs
        GradMode.enabled = False
        first = env[seed.index] if seed is not None else None
        if first is None:
            first = _ones_like(env[root.index])
        elif first.dtype != root.dtype:
            first = first.astype(root.dtype)
        grads: dict[int, Any] = {root.index: first}
        leaf_grads: list = [None] * len(leaves)
        for target, backward, out, inputs in plan:
            dy = grads.pop(out, None)
            if dy is None:
                continue
            ctx = ctxs[target]
            dxs = backward(ctx, _make(dy, None))
            if type(dxs) is not tuple:
                dxs = (dxs,)
            for (index, shape, dtype, is_leaf), dx in zip(inputs, dxs):
                if index < 0 or dx is None:
                    continue
                data = dx._data
                if data.shape != shape or data.dtype is not dtype:
                    data = engine.checked_gradient(ctx, 0, dx, shape, dtype, ctx.xp)._data
                if is_leaf:
                    k = leaf_slots.get(index)
                    if k is None:
                        continue
                    leaf_grads[k] = data if leaf_grads[k] is None else leaf_grads[k] + data
                elif index in grads:
                    grads[index] = grads[index] + data
                else:
                    grads[index] = data
            if not retain:
                del ctxs[target]
        if root.index in leaf_slots:
            leaf_grads[leaf_slots[root.index]] = grads.pop(root.index)
        seen = set(handed_out)
        if seed is not None:
            seen.add(id(env[seed.index]))
        for k, (leaf, g) in enumerate(zip(leaves, leaf_grads)):
            if g is None:
                continue
            tensor = frame.tensors[leaf.position] if leaf.kind == "input" else leaf.tensor
            engine.accumulate_grad(tensor, _make(g, None), False, seen)
            env[outs[k]] = tensor.grad._data

    return step


def _ones_like(array: Any) -> Any:
    from deepgrad.backend import get_array_module

    xp = np if type(array) is _ndarray else get_array_module(array)
    return xp.ones(array.shape, dtype=array.dtype)


def _backward_plan(node: Node) -> tuple:
    inputs = []
    for value, need in zip(node.inputs, node.needs_input_grad or ()):
        wanted = need and (_grad_parent(value) is not None or value.requires_grad)
        is_leaf = _grad_parent(value) is None
        inputs.append((value.index if wanted else -1, value.shape, value.dtype, is_leaf))
    return id(node), node.fn.backward, node.output.index, inputs
