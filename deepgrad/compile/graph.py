"""The traced graph: values (arrays that flow) and nodes (what produced them), in program order.

A ``Value`` is one array of one call of the traced function. It is either an input of the
function (``kind="input"``), a tensor that lives outside the function and is read at run time
(``"external"``: a parameter, a buffer, a tensor from a closure), an array fixed at trace time
(``"constant"``: a tensor made inside the function outside the graph, such as ``zeros``), or the
output of a node (``"node"``).

A ``Node`` is one step of the program:

- ``"op"``: a registered primitive, ``y = fn.forward(ctx, *inputs, **constants)``;
- ``"host"``: a Python call that works on raw arrays and that the compiled program runs as it is
  (an optimizer step, an in-place update outside the graph, a random draw, ``zero_grad``);
- ``"backward"``: ``root.backward(seed)``, expanded by the compiler into the primitives' own
  backward rules, in the engine's order.

Nodes keep program order: a pass that rewrites the graph keeps every host and backward node
where it was, because they change state (parameters, generators, ``.grad``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Graph", "Node", "Value", "ValueRef"]


@dataclass(eq=False)
class Value:
    """One array of the program (see the module docstring for the kinds)."""

    index: int
    kind: str
    shape: tuple
    dtype: Any
    requires_grad: bool = False
    producer: Node | None = None
    position: int | None = None  # input: the flat position among the call's tensor arguments
    tensor: Any = None  # external: the Tensor read at run time
    array: Any = None  # constant: the array; at trace time, also the array the value had
    origin: str = ""  # where a constant was made (file:line), for messages

    @property
    def name(self) -> str:
        return f"%{self.index}"

    def describe(self) -> str:
        shape = "x".join(str(n) for n in self.shape) or "scalar"
        return f"{self.name}:{shape}:{self.dtype}"


@dataclass(frozen=True)
class ValueRef:
    """A value used as a keyword constant (``running_mean=<array>``) or a host-call argument."""

    value: Value
    raw: bool = False  # True: the raw array is meant (a keyword constant), not a Tensor


@dataclass(eq=False)
class Node:
    """One step of the program (see the module docstring)."""

    kind: str
    name: str
    inputs: list[Value]
    outputs: list[Value] = field(default_factory=list)
    fn: Any = None  # op: the Function class
    constants: dict = field(default_factory=dict)
    needs_input_grad: tuple | None = None  # op: recorded when the node was in the graph
    effectful: bool = False  # changes state: never removed, merged or folded
    call: Callable[..., Any] | None = None  # host: the callable run as it is
    args: tuple = ()  # host: positional arguments (ValueRef for values)
    kwargs: dict = field(default_factory=dict)
    grad_mode: bool = True  # the grad mode the node ran under
    xp: Any = None
    extra: dict = field(default_factory=dict)  # backward: root, seed, leaves, retain_graph

    @property
    def output(self) -> Value:
        return self.outputs[0]

    def describe(self) -> str:
        outs = ", ".join(v.name for v in self.outputs)
        if self.kind == "fused":
            reduction = self.extra.get("reduction")
            tail = f" + {reduction.name}" if reduction is not None else ""
            return f"{outs} = {self.name}({len(self.extra['members'])} elementwise ops{tail})"
        if self.kind == "backward":
            leaves = ", ".join(v.name for v in self.extra.get("leaves", ()))
            return f"{outs} = backward({self.inputs[0].name})  # grads of {leaves}"
        if self.kind == "host":
            items = [_short(a) for a in self.args if not _is_object(a)]
            items += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
            prefix = f"{outs} = " if outs else ""
            return f"{prefix}{self.name}({', '.join(items)})"
        ins = ", ".join(v.name for v in self.inputs)
        function = self.constants.get("function") if "spec" in self.constants else None
        if function is not None:  # an EagerIsland: name the function it runs
            return f"{outs} = {self.name}[{getattr(function, '__name__', function)}]({ins})"
        consts = ", ".join(f"{k}={_short(v)}" for k, v in self.constants.items())
        args = ins + (", " + consts if consts and ins else consts)
        prefix = f"{outs} = " if outs else ""
        return f"{prefix}{self.name}({args})"


def _is_object(value: Any) -> bool:
    """A module or optimizer passed as ``self`` to a host call (not shown)."""
    return hasattr(value, "__dict__") and not isinstance(value, (type, ValueRef))


def _short(value: Any) -> str:
    if isinstance(value, ValueRef):
        return value.value.name
    if isinstance(value, type) or (hasattr(value, "names") and hasattr(value, "kind")):
        return str(getattr(value, "__name__", value))
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, tuple):
        return f"array{tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


@dataclass(eq=False)
class Graph:
    """The program: values, nodes in order, the inputs, and the output structure."""

    values: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[Value] = field(default_factory=list)
    output_spec: Any = None  # the returned structure with Values in place of tensors
    meta: dict = field(default_factory=dict)  # what passes leave for later ones (the buffers)

    def new_value(self, kind: str, shape: tuple, dtype: Any, **fields: Any) -> Value:
        value = Value(len(self.values), kind, tuple(shape), dtype, **fields)
        self.values.append(value)
        return value

    def output_values(self) -> list[Value]:
        return list(iter_values(self.output_spec))

    def uses(self) -> dict[Value, list[Node]]:
        """Each value's consumers (inputs, value constants and host arguments)."""
        table: dict[Value, list[Node]] = {}
        for node in self.nodes:
            for value in node_inputs(node):
                table.setdefault(value, []).append(node)
        return table

    def describe(self) -> str:
        """One line per node, as ``explain`` prints it."""
        lines = ["inputs: " + ", ".join(v.describe() for v in self.inputs)]
        for node in self.nodes:
            lines.append("  " + node.describe())
        lines.append("outputs: " + ", ".join(v.name for v in self.output_values()))
        return "\n".join(lines)


def iter_values(spec: Any) -> Iterator[Value]:
    """The Values in a nested tuple/list/dict structure, in order."""
    if isinstance(spec, Value):
        yield spec
    elif isinstance(spec, (tuple, list)):
        for item in spec:
            yield from iter_values(item)
    elif isinstance(spec, dict):
        for item in spec.values():
            yield from iter_values(item)
    elif isinstance(spec, ValueRef):
        yield spec.value


def node_inputs(node: Node) -> list[Value]:
    """Every value a node reads: its inputs, value constants and host-call arguments."""
    found = list(node.inputs)
    for item in (node.constants, node.args, node.kwargs):
        found.extend(iter_values(item))
    return found


def remove_nodes(graph: Graph, dropped: list[Node]) -> None:
    """Take ``dropped`` out of the program (their outputs must be unread by now)."""
    gone = {id(n) for n in dropped}
    graph.nodes = [n for n in graph.nodes if id(n) not in gone]


def replace_uses(graph: Graph, old: Value, new: Value) -> None:
    """Make every reader of ``old`` read ``new`` instead (nodes and the outputs)."""

    def swap(spec: Any) -> Any:
        if spec is old:
            return new
        if isinstance(spec, ValueRef):
            return ValueRef(new, spec.raw) if spec.value is old else spec
        if isinstance(spec, tuple):
            return tuple(swap(s) for s in spec)
        if isinstance(spec, list):
            return [swap(s) for s in spec]
        if isinstance(spec, dict):
            return {k: swap(s) for k, s in spec.items()}
        return spec

    for node in graph.nodes:
        node.inputs = [new if v is old else v for v in node.inputs]
        node.constants = swap(node.constants)
        node.args = swap(node.args)
        node.kwargs = swap(node.kwargs)
        if node.kind == "backward":
            node.extra = {k: swap(v) for k, v in node.extra.items()}
    graph.output_spec = swap(graph.output_spec)
