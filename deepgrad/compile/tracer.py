"""The tracer: run the function once, eagerly, and record what it did as a ``Graph``.

While a trace is active (``recording.py`` makes the tracer the active recorder and
``patches.py`` routes the framework's other entry points here), every ``Function.apply`` becomes
an ``"op"`` node; ``Tensor.backward`` a ``"backward"`` node;
an optimizer's ``step``/``zero_grad``, an in-place update outside the graph and a random draw
(dropout masks, ``randn``) each a ``"host"`` node that the compiled program calls again.

The function really runs: its results, the gradients and the parameter updates of the traced
call are the eager ones. Anything the graph cannot express (a tensor's value read into Python,
a random draw that no known op makes, a tensor changed where the tracer does not look) is a
*graph break*: the trace goes on eagerly and the function stays eager, with a warning that
names the line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import numpy as np

from deepgrad.autograd.anomaly import SourceLine
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.compile.graph import Graph, Node, Value, ValueRef
from deepgrad.compile.recording import active_recorder

__all__ = ["GraphBreak", "Tracer", "active_tracer"]


class GraphBreak(Exception):
    """Why a function cannot be one graph (kept on the tracer; the call itself runs on)."""


def active_tracer() -> Tracer | None:
    """The tracer of the running trace, or None (also while another recorder, an ONNX export,
    is the innermost one)."""
    recorder = active_recorder()
    return recorder if isinstance(recorder, Tracer) else None


class Tracer:
    """Records one eager call (see the module docstring).

    Attributes:
        graph: what was recorded.
        depth: > 0 while a recorded call runs (its inner ops belong to it and are not recorded).
        breaks: the graph breaks met, as messages naming the line.
    """

    def __init__(self) -> None:
        self.graph = Graph()
        self.depth = 0
        self.breaks: list[str] = []
        self._by_array: dict[int, Value] = {}
        self._keep: list[Any] = []  # the arrays and tensors seen (so that their ids stay unique)
        self.temporaries: dict[int, str] = {}  # id(tensor) -> where it was made, at depth 0
        self.externals: list[Value] = []
        self.external_versions: dict[int, int] = {}
        self.touched_externals: set[int] = set()  # changed by a recorded host node
        self.input_tensors: list[Tensor] = []

    # -- values -----------------------------------------------------------------------------
    def add_input(self, tensor: Tensor, position: int) -> Value:
        value = self._new(
            tensor._data, "input", requires_grad=tensor._requires_grad, position=position
        )
        self.graph.inputs.append(value)
        self.input_tensors.append(tensor)
        return value

    def _new(self, array: Any, kind: str, **fields: Any) -> Value:
        value = self.graph.new_value(kind, array.shape, array.dtype, array=array, **fields)
        self._by_array[id(array)] = value
        self._keep.append(array)
        return value

    def value_of(self, tensor: Tensor) -> Value:
        """The value a tensor holds now; an unseen one is external or a trace-time constant."""
        value = self._by_array.get(id(tensor._data))
        if value is not None:
            return value
        self._keep.append(tensor)
        origin = self.temporaries.get(id(tensor))
        if origin is not None:
            return self._new(tensor._data, "constant", origin=origin)
        value = self._new(
            tensor._data, "external", tensor=tensor, requires_grad=tensor._requires_grad
        )
        self.externals.append(value)
        self.external_versions[id(tensor)] = tensor._version
        return value

    def bind(self, item: Any) -> Any:
        """Arguments with Tensors replaced by ``ValueRef``s (arrays of known values too)."""
        if isinstance(item, Tensor):
            return ValueRef(self.value_of(item))
        if isinstance(item, (tuple, list)):
            bound = [self.bind(x) for x in item]
            return tuple(bound) if isinstance(item, tuple) else bound
        if isinstance(item, dict):
            return {k: self.bind(v) for k, v in item.items()}
        if type(item) is np.ndarray or hasattr(item, "__cuda_array_interface__"):
            value = self._by_array.get(id(item))
            return ValueRef(value, raw=True) if value is not None else item
        return item

    def output_value(self, tensor: Tensor, node: Node) -> Value:
        value = self._new(tensor._data, "node", requires_grad=tensor._requires_grad, producer=node)
        node.outputs.append(value)
        return value

    # -- recording --------------------------------------------------------------------------
    def record_op(self, cls: type, inputs: tuple, constants: dict, out: Tensor) -> None:
        values = [self.value_of(t) for t in inputs]
        bound = self.bind(constants)
        node = Node("op", cls.__name__, values, fn=cls, constants=bound)
        node.effectful = _holds_arrays(constants)  # BatchNorm writes its running statistics
        node.grad_mode = GradMode.enabled
        node.xp = out.xp
        ctx = out.grad_fn
        if ctx is not None and getattr(ctx, "fn", None) is cls:
            node.needs_input_grad = ctx.needs_input_grad
            node.extra["ctx"] = ctx  # trace time only: hooks and retain_grad are checked on it
        self.graph.nodes.append(node)
        self.output_value(out, node)

    def record_host(
        self, name: str, call: Callable[..., Any], args: tuple, kwargs: dict, outputs: list
    ) -> Node:
        """A host node; ``outputs`` are Tensors whose arrays it made (or changed in place)."""
        node = Node(
            "host",
            name,
            [],
            call=call,
            args=self.bind(args),
            kwargs=self.bind(kwargs),
            effectful=True,
            grad_mode=GradMode.enabled,
        )
        self.graph.nodes.append(node)
        for tensor in outputs:
            self.output_value(tensor, node)
        return node

    def record_backward(self, root: Tensor, gradient: Tensor | None, retain_graph: bool) -> None:
        """A backward node; its leaves are found now, their gradients by ``finish_backward``."""
        inputs = [self.value_of(root)]
        if gradient is not None:
            inputs.append(self.value_of(gradient))
        leaves, problems = self._backward_leaves(inputs[0])
        for problem in problems:
            self.graph_break(problem, skip=3)
        node = Node("backward", "backward", inputs, effectful=True, grad_mode=GradMode.enabled)
        node.extra.update(leaves=leaves, retain_graph=retain_graph)
        self.graph.nodes.append(node)

    def finish_backward(self, node: Node) -> None:
        reached = []
        for leaf in node.extra["leaves"]:
            tensor = self.leaf_tensor(leaf)
            if tensor.grad is not None:
                reached.append(leaf)
                self.output_value(tensor.grad, node)
        node.extra["leaves"] = reached

    def leaf_tensor(self, leaf: Value) -> Tensor:
        if leaf.kind == "input" and leaf.position is not None:
            return self.input_tensors[leaf.position]
        return leaf.tensor

    def _backward_leaves(self, root: Value) -> tuple[list[Value], list[str]]:
        leaves: list[Value] = []
        problems: list[str] = []
        seen: set[int] = set()
        stack = [root]
        while stack:
            value = stack.pop()
            if value.index in seen:
                continue
            seen.add(value.index)
            node = value.producer
            if node is not None and node.kind == "op" and node.needs_input_grad is not None:
                ctx = node.extra.get("ctx")
                if ctx is not None and (ctx.hooks or ctx.retained is not None):
                    problems.append("a hook or retain_grad() on a tensor inside the graph")
                stack.extend(v for v, need in zip(node.inputs, node.needs_input_grad) if need)
            elif value.requires_grad and value.kind in ("input", "external"):
                tensor = self.leaf_tensor(value)
                if tensor._hooks or tensor._post_accumulate_hooks:
                    problems.append("a gradient hook on a leaf tensor")
                leaves.append(value)
            elif value.requires_grad:
                problems.append(
                    "a tensor that requires grad was made inside the compiled function (make "
                    "parameters outside it)"
                )
        return leaves, problems

    def checkpoint(self) -> int:
        return len(self.graph.nodes)

    def rollback(self, mark: int) -> None:
        """Forget the nodes recorded since ``mark`` (a host node replaces them)."""
        for node in self.graph.nodes[mark:]:
            for value in node.outputs:
                if self._by_array.get(id(value.array)) is value:
                    del self._by_array[id(value.array)]
        del self.graph.nodes[mark:]

    def note_host_changes(self) -> None:
        """Externals whose version moved during a host call are explained by it."""
        for value in self.externals:
            tensor = value.tensor
            if tensor._version != self.external_versions.get(id(tensor)):
                self.touched_externals.add(id(tensor))

    def graph_break(self, reason: str, skip: int = 2) -> None:
        line = break_line(skip)
        where = f" at {line}" if line is not None else ""
        self.breaks.append(f"{reason}{where}")

    def unexplained_changes(self) -> list[str]:
        """Externals changed in place by code that no recorded node stands for."""
        found = []
        for value in self.externals:
            tensor = value.tensor
            moved = tensor._version != self.external_versions[id(tensor)]
            if moved and id(tensor) not in self.touched_externals:
                found.append(
                    f"a tensor of shape {value.shape} read by the function was changed in place "
                    "by code the tracer cannot see (an optimizer it did not find? pass it with "
                    "compile(fn, optimizers=[...]))"
                )
        return found


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_MACHINERY = tuple(_PACKAGE_DIR + d + os.sep for d in ("autograd", "ops", "backend", "compile"))


def break_line(skip: int = 1) -> SourceLine | None:
    """The innermost frame, above the caller's ``skip`` frames, outside the tensor machinery.

    That is the line of the function being traced, or of the library code it called (a model's
    ``train_step`` reading ``loss.item()`` is named in the model's file, not at its caller).
    """
    frame: FrameType | None = sys._getframe(skip + 1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_MACHINERY):
            return SourceLine(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


def _holds_arrays(constants: dict) -> bool:
    return any(
        type(v) is np.ndarray or hasattr(v, "__cuda_array_interface__") for v in constants.values()
    )
