"""Running a model once while every primitive call is turned into ONNX nodes.

``tracing(g)`` makes an ``_Export`` the active recorder of ``deepgrad.compile.recording``, the
one place that intercepts primitive calls (the compiler's tracer listens there too): after each
primitive runs, its converter emits the nodes computing the output from its inputs' values,
and the output array is bound to the result. For the same block it redirects, and puts back on
the way out (also on errors):

- ``Module.__call__``: a module whose class has a module converter (nn.LSTM, nn.BatchNorm2d ...)
  runs with its primitives unreported and is then converted as one piece;
- ``deepgrad.ops.minmax.max/min/argmax/argmin``: their indices come from NumPy's argmax on raw
  arrays, outside any primitive, so they are emitted as ONNX ArgMax/ArgMin instead (and the
  values of ``max(x, dim)`` as a reduction); ``sort``/``topk`` order the same way and raise.

Everything else a model does to raw arrays outside a primitive becomes a constant of the graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.compile.recording import active_recorder, recording, run_inside
from deepgrad.nn.module import Module
from deepgrad.onnx.graph import GraphBuilder, unsupported
from deepgrad.onnx.registry import MODULES, PRIMITIVES
from deepgrad.ops import minmax, sorting
from deepgrad.ops import reduce as rd

_FIX = (
    "register one with deepgrad.onnx.register_converter, or compute it outside the exported model"
)


class _Export:
    """The recorder of one export: the graph being built and the depth of converted modules."""

    def __init__(self, builder: GraphBuilder) -> None:
        self.builder = builder
        self.depth = 0

    def record_op(self, cls: type[Function], inputs: tuple, constants: dict, out: Tensor) -> None:
        convert = PRIMITIVES.get(cls)
        if convert is None:
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise unsupported(
                f"primitive {cls.__name__}", f"{cls.__module__}, inputs {shapes}", _FIX
            )
        self.builder.bind(out._data, convert(self.builder, inputs, out, **constants))


def _listening() -> _Export | None:
    """The export in progress, unless a module converter is running its module."""
    recorder = active_recorder()
    return recorder if isinstance(recorder, _Export) and not recorder.depth else None


def _module_call(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Module, *args: Any, **kwargs: Any) -> Any:
        export = _listening()
        entry = MODULES.get(type(self))
        if export is None or entry is None or not entry[0](self, args, kwargs):
            return original(self, *args, **kwargs)
        output = run_inside(export, original, self, *args, **kwargs)
        entry[1](export.builder, self, args, kwargs, output)
        return output

    return call


def _arg(name: str, original: Callable[..., Tensor]) -> Callable[..., Tensor]:
    op = "ArgMax" if name == "argmax" else "ArgMin"

    def arg(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        out = original(x, dim, keepdim)
        export = _listening()
        if export is not None:
            g = export.builder
            source = g.value(x)
            if dim is None:
                flat = g.node(op, [g.node("Reshape", [source, g.ints([-1])])], axis=0, keepdims=0)
                g.bind(
                    out._data, g.node("Reshape", [flat, g.ints(out.shape)]) if out.ndim else flat
                )
            else:
                g.bind(
                    out._data,
                    g.node(op, [source], axis=dim % max(x.ndim, 1), keepdims=int(keepdim)),
                )
        return out

    return arg


def _extreme(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    arg = getattr(minmax, "argmax" if name == "max" else "argmin")
    amax = rd.amax if name == "max" else rd.amin

    def extreme(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
        if _listening() is None or dim is None or isinstance(dim, Tensor):
            return original(x, dim, keepdim)
        # the values by a reduction (a primitive), the indices by ArgMax: both traced
        return minmax.MinMax(amax(x, dim=dim, keepdim=keepdim), arg(x, dim, keepdim))

    return extreme


def _sort_order(*args: Any, **kwargs: Any) -> Any:
    # the order comes from NumPy's argsort on raw arrays: it would be baked in as a constant
    raise unsupported("sort/argsort/topk", "the order is computed outside the primitives", _FIX)


@contextlib.contextmanager
def tracing(g: GraphBuilder) -> Iterator[None]:
    """Convert every primitive call to nodes of ``g`` while the block runs (see the module docstring)."""
    if isinstance(active_recorder(), _Export):
        raise RuntimeError(
            "deepgrad.onnx.export: an export is already running (exports do not nest)."
        )
    with recording(_Export(g)) as patcher:
        patcher.set(Module, "__call__", _module_call(Module.__call__))
        patcher.set(sorting, "_order", _sort_order)
        for name in ("argmax", "argmin"):
            patcher.set(minmax, name, _arg(name, getattr(minmax, name)))
        for name in ("max", "min"):
            patcher.set(minmax, name, _extreme(name, getattr(minmax, name)))
        yield
