"""Running a model once while every primitive call is turned into ONNX nodes.

Inside ``tracing(g)`` three hooks are in place (and removed on the way out, also on errors):

- ``Function.apply``: after each primitive runs, its converter emits the nodes computing the
  output from its inputs' values, and the output array is bound to the result;
- ``Module.__call__``: a module whose class has a module converter (nn.LSTM, nn.BatchNorm2d ...)
  runs with the primitive hook paused and is then converted as one piece;
- ``deepgrad.ops.minmax.max/min/argmax/argmin``: their indices come from NumPy's argmax on raw
  arrays, outside any primitive, so they are emitted as ONNX ArgMax/ArgMin instead (and the
  values of ``max(x, dim)`` as a reduction); ``sort``/``topk`` order the same way and raise.

Everything else a model does to raw arrays outside a primitive becomes a constant of the graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.nn.module import Module
from deepgrad.onnx.graph import GraphBuilder, unsupported
from deepgrad.onnx.registry import MODULES, PRIMITIVES
from deepgrad.ops import minmax, sorting
from deepgrad.ops import reduce as rd

_FIX = (
    "register one with deepgrad.onnx.register_converter, or compute it outside the exported model"
)


class _State:
    """The builder of the trace in progress and how deep inside a converted module we are."""

    builder: GraphBuilder | None = None
    paused = 0


def _record(cls: type[Function], inputs: tuple, constants: dict, out: Tensor) -> None:
    g = _State.builder
    assert g is not None, "internal: recording outside a trace"
    convert = PRIMITIVES.get(cls)
    if convert is None:
        shapes = ", ".join(str(t.shape) for t in inputs)
        raise unsupported(f"primitive {cls.__name__}", f"{cls.__module__}, inputs {shapes}", _FIX)
    g.bind(out._data, convert(g, inputs, out, **constants))


def _module_call(original: Any):
    def call(self: Module, *args: Any, **kwargs: Any) -> Any:
        entry = MODULES.get(type(self))
        if (
            _State.builder is None
            or _State.paused
            or entry is None
            or not entry[0](self, args, kwargs)
        ):
            return original(self, *args, **kwargs)
        _State.paused += 1
        try:
            output = original(self, *args, **kwargs)
        finally:
            _State.paused -= 1
        entry[1](_State.builder, self, args, kwargs, output)
        return output

    return call


def _apply(original: Any):
    def apply(cls: type[Function], *inputs: Any, **constants: Any) -> Tensor:
        out = original(cls, *inputs, **constants)
        if _State.builder is not None and not _State.paused:
            _record(cls, inputs, constants, out)
        return out

    return classmethod(apply)


def _arg(name: str, original: Any):
    op = "ArgMax" if name == "argmax" else "ArgMin"

    def arg(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        out = original(x, dim, keepdim)
        g = _State.builder
        if g is not None and not _State.paused:
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


def _extreme(name: str, original: Any):
    arg = getattr(minmax, "argmax" if name == "max" else "argmin")
    amax = rd.amax if name == "max" else rd.amin

    def extreme(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
        if _State.builder is None or _State.paused or dim is None or isinstance(dim, Tensor):
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
    if _State.builder is not None:
        raise RuntimeError(
            "deepgrad.onnx.export: an export is already running (exports do not nest)."
        )
    saved_apply = Function.__dict__["apply"]
    saved_call = Module.__call__
    saved_minmax = {name: getattr(minmax, name) for name in ("argmax", "argmin", "max", "min")}
    saved_order = sorting._order
    sorting._order = _sort_order
    Function.apply = _apply(saved_apply.__func__)  # type: ignore[method-assign]
    Module.__call__ = _module_call(saved_call)  # type: ignore[method-assign]
    for name in ("argmax", "argmin"):
        setattr(minmax, name, _arg(name, saved_minmax[name]))
    for name in ("max", "min"):
        setattr(minmax, name, _extreme(name, saved_minmax[name]))
    _State.builder, _State.paused = g, 0
    try:
        yield
    finally:
        _State.builder = None
        Function.apply = saved_apply  # type: ignore[method-assign]
        Module.__call__ = saved_call  # type: ignore[method-assign]
        for name, fn in saved_minmax.items():
            setattr(minmax, name, fn)
        sorting._order = saved_order
