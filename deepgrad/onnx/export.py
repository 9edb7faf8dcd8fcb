"""``deepgrad.onnx.export``: trace a model on example inputs and write it as an ONNX model."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO

from deepgrad.autograd.grad_mode import enable_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.nn.module import Module
from deepgrad.onnx.graph import GraphBuilder
from deepgrad.onnx.trace import tracing

MIN_OPSET = 13


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "deepgrad.onnx.export: needs the onnx package (got none installed); "
            "install it with `pip install deepgrad[onnx]` (or `pip install onnx onnxruntime`)."
        ) from None
    return onnx


def _check_opset(onnx: Any, opset_version: int) -> int:
    newest = onnx.defs.onnx_opset_version()
    if (
        isinstance(opset_version, bool)
        or not isinstance(opset_version, int)
        or not MIN_OPSET <= opset_version <= newest
    ):
        raise ValueError(
            f"deepgrad.onnx.export: opset_version must be an int in [{MIN_OPSET}, {newest}] "
            f"(got {opset_version!r}); the default 17 suits onnxruntime >= 1.17."
        )
    return opset_version


def _names(given: Sequence[str] | None, count: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}_{i}" for i in range(count)]
    names = list(given)
    if (
        len(names) != count
        or len(set(names)) != count
        or not all(isinstance(n, str) for n in names)
    ):
        raise ValueError(
            f"deepgrad.onnx.export: {what} must be {count} distinct strings, one per {prefix} tensor "
            f"(got {given!r})."
        )
    return names


def _flatten(output: Any) -> list[Tensor]:
    """The Tensors of a model's output, depth first (tuples, lists and dicts; None is skipped)."""
    if isinstance(output, Tensor):
        return [output]
    if output is None:
        return []
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in _flatten(item)]
    raise TypeError(
        f"deepgrad.onnx.export: the model returned a {type(output).__name__}; an exported model "
        "must return Tensors (or tuples, lists or dicts of them)."
    )


def _dynamic(
    dynamic_axes: Mapping[str, Any] | None, shapes: dict[str, tuple[int, ...]]
) -> dict[str, dict[int, str]]:
    """PyTorch's dynamic_axes ({name: [axes]} or {name: {axis: dim_name}}), checked and spelled out."""
    out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in shapes:
            raise ValueError(
                f"deepgrad.onnx.export: dynamic_axes names {name!r}, which is no input or output "
                f"(they are {sorted(shapes)}); use the names of input_names / output_names."
            )
        spelled = (
            dict(axes)
            if isinstance(axes, Mapping)
            else {a: f"{name}_dynamic_axes_{a}" for a in axes}
        )
        rank = len(shapes[name])
        for axis in spelled:
            if not isinstance(axis, int) or not -rank <= axis < max(rank, 1):
                raise ValueError(
                    f"deepgrad.onnx.export: dynamic_axes[{name!r}] holds axis {axis!r}, out of range "
                    f"for shape {shapes[name]}."
                )
        out[name] = {a % rank: str(d) for a, d in spelled.items()}
    return out


def _value_info(
    onnx: Any,
    g: GraphBuilder,
    name: str,
    t: Tensor,
    dims: dict[int, str] | None,
    unknown: bool = False,
) -> Any:
    """Name, type and shape of a graph input or output; ``unknown``: only the rank is declared."""
    shape: list[int | str | None] = [None] * t.ndim if unknown else list(t.shape)
    for axis, label in (dims or {}).items():
        shape[axis] = label
    return onnx.helper.make_tensor_value_info(name, g.tensor_type(t.dtype), shape)


def _alias(arg: Any) -> Any:
    """The example input with each float Tensor replaced by an alias that requires grad (so that
    in-place ops on it go through primitives, which the trace records); tuples and lists kept."""
    if isinstance(arg, Tensor):
        return arg.detach().requires_grad_(True) if arg.dtype.kind == "f" else arg
    if isinstance(arg, (tuple, list)):
        items = [_alias(a) for a in arg]
        return type(arg)(*items) if hasattr(arg, "_fields") else type(arg)(items)  # namedtuple
    return arg


def _trace(
    model: Callable, args: tuple, g: GraphBuilder, tensors: list[Tensor], names: list[str]
) -> Any:
    """Run the model on the example inputs with the conversion hooks in place."""
    for t, name in zip(tensors, names):
        g.bind(t._data, name)
    with enable_grad(), tracing(g):
        return model(*_alias(args))


def _named_arrays(model: Callable) -> dict[int, tuple[str, Any]]:
    if not isinstance(model, Module):
        return {}
    named = list(model.named_parameters()) + list(model.named_buffers())
    return {id(t._data): (name, t._data) for name, t in reversed(named) if t is not None}


def _modes(model: Callable) -> list[tuple[Module, bool]]:
    return [(m, m.training) for m in model.modules()] if isinstance(model, Module) else []


def _prune(nodes: list, initializers: list, outputs: list[str]) -> tuple[list, list]:
    """Drop the nodes and initializers no output depends on (argmax indices nobody read ...)."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    return kept[::-1], [t for t in initializers if t.name in needed]


def _write(data: bytes, f: str | os.PathLike | BinaryIO) -> None:
    if hasattr(f, "write"):
        f.write(data)  # type: ignore[union-attr]
        return
    path = os.fspath(f)  # type: ignore[arg-type]
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # atomic: a crash never leaves half a model
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def export(
    model: Callable,
    args: Tensor | tuple | list,
    f: str | os.PathLike | BinaryIO | None = None,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    opset_version: int = 17,
    verbose: bool = False,
) -> Any:
    """Trace ``model(*args)`` once and write the computation as an ONNX model (as torch.onnx.export).

    The model runs in evaluation mode (dropout is the identity, batch norm uses its running
    statistics; the modes are restored afterwards). Every primitive it calls becomes ONNX nodes;
    nn.RNN/LSTM/GRU become ONNX's RNN/LSTM/GRU operators and batch norm BatchNormalization.
    Parameters and buffers are stored as initializers under their ``state_dict`` names. Control
    flow is fixed by the example: Python branches and loops are unrolled as they ran, and arrays
    computed outside the primitives (on raw NumPy arrays) are stored as constants.

    Args:
        model: an ``nn.Module`` (or any callable on Tensors).
        args: the example input: a Tensor, or a tuple of positional arguments. Its Tensors, also
            inside nested tuples and lists (an LSTM's ``(h0, c0)``), become the graph inputs,
            depth first; other values are passed to the model as they are.
        f: where to write the model: a path (written atomically) or a binary file object; None
            writes nothing. Default: None.
        input_names: names of the graph inputs, one per Tensor in ``args``. Default: input_0, ...
        output_names: names of the graph outputs, one per Tensor the model returns (tuples,
            lists and dicts are flattened depth first). Default: output_0, ...
        dynamic_axes: axes whose size may change, as in PyTorch: ``{name: [axis, ...]}`` or
            ``{name: {axis: "dim_name"}}``, e.g. ``{"input_0": {0: "batch"}}``. Default: none.
        opset_version: the ONNX opset of the nodes, 13 or newer. Default: 17.
        verbose: print the graph. Default: False.

    Returns:
        The ``onnx.ModelProto`` (checked with ``onnx.checker.check_model``).

    Raises:
        UnsupportedOperatorError: the model uses an operation with no ONNX conversion (the message
            names it).

    Example:
        >>> import deepgrad as dg
        >>> net = dg.nn.Sequential(dg.nn.Linear(4, 3), dg.nn.ReLU())
        >>> proto = export(net, dg.randn(2, 4), dynamic_axes={"input_0": [0], "output_0": [0]})
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Relu', 'Identity']
    """
    onnx = _onnx()
    opset = _check_opset(onnx, opset_version)
    args = (args,) if isinstance(args, Tensor) else tuple(args)
    tensors = _flatten(args)
    inputs = _names(input_names, len(tensors), "input", "input_names")
    g = GraphBuilder(opset, _named_arrays(model))
    modes = _modes(model)
    if isinstance(model, Module):
        model.eval()
    try:
        outputs = _flatten(_trace(model, args, g, tensors, inputs))
    finally:
        for module, training in modes:
            module.training = training
    names = _names(output_names, len(outputs), "output", "output_names")
    for t, name in zip(outputs, names):
        g.nodes.append(
            onnx.helper.make_node("Identity", [g.value(t)], [name], name=f"output_{name}")
        )
    shapes = {n: tuple(t.shape) for n, t in zip(inputs + names, tensors + outputs)}
    dims = _dynamic(dynamic_axes, shapes)
    # an output whose axes were not named may still change size with a dynamic input
    vague = any(n in dims for n in inputs)
    nodes, initializers = _prune(g.nodes, g.initializers, names)
    graph = onnx.helper.make_graph(
        nodes,
        type(model).__name__,
        [_value_info(onnx, g, n, t, dims.get(n)) for n, t in zip(inputs, tensors)],
        [
            _value_info(onnx, g, n, t, dims.get(n), vague and n not in dims)
            for n, t in zip(names, outputs)
        ],
        initializer=initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="deepgrad")
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto)
    if verbose:
        printer = getattr(onnx, "printer", None)
        print(printer.to_text(proto.graph) if printer else onnx.helper.printable_graph(proto.graph))
    if f is not None:
        _write(proto.SerializeToString(), f)
    return proto
