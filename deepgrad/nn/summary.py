"""summary(model, input_shape): a table of layers, output shapes, parameter counts and memory.

Like Keras's ``model.summary()``: one forward pass on a dummy batch (zeros, in
evaluation mode, without recording a graph) with a forward hook on every module.
The model's state is left as it was: training flags are restored, batch-norm
statistics are not updated, and no random numbers are drawn.

Example:
    >>> import deepgrad.nn as nn
    >>> model = nn.Sequential(nn.Linear(784, 100), nn.Linear(100, 10))
    >>> info = summary(model, (32, 784), print_table=False)
    >>> info.total_params, info.rows[1].output_shape
    (79510, (32, 10))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import to_dtype
from deepgrad.nn.module import Module
from deepgrad.ops.creation import zeros


@dataclass
class LayerSummary:
    """One row: a module's dotted name, type, output shape(s), own parameters and output bytes."""

    name: str
    type: str
    depth: int
    output_shape: tuple | list | str | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    output_bytes: int = 0
    calls: int = 0
    is_leaf: bool = True

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


@dataclass
class ModelSummary:
    """What ``summary`` measured; ``str(summary)`` is the printed table."""

    model_name: str
    input_shapes: list
    rows: list = field(default_factory=list)
    output_shape: tuple | list | str | None = None
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    input_bytes: int = 0
    activation_bytes: int = 0
    param_bytes: int = 0
    buffer_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.activation_bytes + self.param_bytes + self.buffer_bytes

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #", "Non-trainable #")
        body = []
        for row in self.rows:
            label = "  " * row.depth + f"{row.name} ({row.type})"
            if row.calls > 1:
                label += f" x{row.calls}"
            body.append(
                (
                    label,
                    _shape_text(row.output_shape),
                    f"{row.params:,}",
                    f"{row.non_trainable_params:,}",
                )
            )
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        rule = "=" * len(line)

        def fmt(cells):
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )

        lines = [
            f"Model: {self.model_name}",
            rule,
            fmt(header),
            line,
            *(fmt(r) for r in body),
            rule,
        ]
        lines += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            line,
            f"Input size: {_bytes_text(self.input_bytes)}  (shape {', '.join(map(str, self.input_shapes))})",
            f"Activations (one forward, leaf outputs): {_bytes_text(self.activation_bytes)}",
            f"Parameters: {_bytes_text(self.param_bytes)}",
            f"Buffers: {_bytes_text(self.buffer_bytes)}",
            f"Estimated total: {_bytes_text(self.total_bytes)}",
            rule,
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()


def _shape_text(shape) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return str(shape)


def _bytes_text(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def _describe(output) -> tuple:
    """(shape description, bytes) of a module's output: a Tensor or a (nested) tuple/list of them."""
    if isinstance(output, Tensor):
        return tuple(output.shape), output.nbytes
    if isinstance(output, (tuple, list)):
        parts = [_describe(o) for o in output]
        return [p[0] for p in parts], sum(p[1] for p in parts)
    return type(output).__name__, 0


def summary(
    model: Module,
    input_shape: tuple[int, ...] | list[tuple[int, ...]],
    dtype: Any = None,
    device: Any = None,
    print_table: bool = True,
) -> ModelSummary:
    """Run one forward on a zero batch and report each layer's output shape, parameters and memory.

    Args:
        model: the Module.
        input_shape: the full input shape, batch dimension included (e.g. ``(64, 1, 28, 28)``),
            or a list of shapes for a model whose forward takes several inputs.
        dtype: dtype of the dummy input. Default: float32 (use int64 for embeddings).
        device: device of the dummy input. Default: cpu.
        print_table: print the table. Default: True.

    Returns:
        A ModelSummary (its ``str`` is the table; ``rows`` and the totals are attributes).
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a deepgrad.nn.Module (got {type(model).__name__})")
    shapes = _input_shapes(input_shape)
    dtype = to_dtype(dtype) or to_dtype("float32")
    inputs = [zeros(s, dtype=dtype, device=device) for s in shapes]
    recorder = _LayerRecorder(model)
    try:
        output = _forward_unchanged(model, inputs)
    except Exception as exc:
        exc.add_note(
            f"summary: the forward pass on a zero input of shape(s) {shapes} ({dtype}) failed."
        )
        raise
    finally:
        recorder.remove()
    info = ModelSummary(model_name=type(model).__name__, input_shapes=shapes)
    info.rows = recorder.rows_in_call_order()
    info.output_shape = _describe(output)[0]
    _count_totals(info, model, inputs)
    if print_table:
        print(info)
    return info


def _input_shapes(input_shape) -> list[tuple[int, ...]]:
    """``input_shape`` as a list of int tuples: one shape, or a list of shapes."""
    shapes = [input_shape] if _is_shape(input_shape) else list(input_shape)
    if not shapes or not all(_is_shape(s) for s in shapes):
        raise ValueError(
            "summary: input_shape must be a tuple of ints such as (32, 784), or a list of such "
            f"tuples (got {input_shape!r})"
        )
    return [tuple(int(n) for n in s) for s in shapes]


class _LayerRecorder:
    """Forward hooks on every submodule that fill one LayerSummary per module.

    The pre-hook fixes the row order (the order modules are first called, so a parent comes
    before its children); the hook records the output shape and bytes and counts the calls.
    """

    def __init__(self, model: Module) -> None:
        self.named = [(name, m) for name, m in model.named_modules() if name] or [("model", model)]
        self.rows: dict[int, LayerSummary] = {}
        self.order: list[str] = []
        self._placed: set[str] = set()
        self.handles = []
        for name, module in self.named:
            self.handles.append(module.register_forward_pre_hook(self._pre_hook(name)))
            self.handles.append(module.register_forward_hook(self._hook(name)))

    def _pre_hook(self, name: str):
        def pre_hook(mod, args):
            if id(mod) not in self.rows and name not in self._placed:
                self._placed.add(name)
                self.order.append(name)

        return pre_hook

    def _hook(self, name: str):
        def hook(mod, args, output):
            row = self.rows.get(id(mod))
            if row is None:
                row = self.rows[id(mod)] = _new_row(name, mod)
            shape, nbytes = _describe(output)
            if row.calls == 0:
                row.output_shape = shape
            row.calls += 1
            if row.is_leaf:
                row.output_bytes += nbytes

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def rows_in_call_order(self) -> list[LayerSummary]:
        by_name = dict(self.named)
        return [self.rows[id(by_name[n])] for n in self.order if id(by_name[n]) in self.rows]


def _new_row(name: str, module: Module) -> LayerSummary:
    """A module's row with its own (not its children's) parameter counts."""
    has_children = any(True for _ in module.children())
    row = LayerSummary(name, type(module).__name__, name.count("."), is_leaf=not has_children)
    for p in module.parameters(recurse=False):
        if p.requires_grad:
            row.trainable_params += p.numel()
        else:
            row.non_trainable_params += p.numel()
    return row


def _forward_unchanged(model: Module, inputs: list[Tensor]):
    """model(*inputs) in eval mode without a graph; every module's training flag is restored."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad():
            return model(*inputs)
    finally:
        for module, mode in modes:
            object.__setattr__(module, "training", mode)


def _count_totals(info: ModelSummary, model: Module, inputs: list[Tensor]) -> None:
    """The model-wide parameter counts and the memory lines of the table."""
    for p in model.parameters():
        if p.requires_grad:
            info.trainable_params += p.numel()
        else:
            info.non_trainable_params += p.numel()
        info.param_bytes += p.nbytes
    info.total_params = info.trainable_params + info.non_trainable_params
    info.buffer_bytes = sum(b.nbytes for b in model.buffers())
    info.input_bytes = sum(t.nbytes for t in inputs)
    info.activation_bytes = sum(r.output_bytes for r in info.rows if r.is_leaf)


def _is_shape(value) -> bool:
    if not isinstance(value, (tuple, list)):
        return False
    return all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
