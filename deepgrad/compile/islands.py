"""Eager islands: library functions that compute on raw arrays of their inputs, kept whole.

Some functions read their inputs' arrays in Python: cross-entropy with class indices turns the
targets into row indices, masks ``ignore_index`` and counts the valid rows on raw arrays. A
trace would freeze those arrays as constants of the first batch. Such a function becomes one
node, ``EagerIsland``: its forward runs the function eagerly with a small graph of its own,
and its backward hands that graph to the engine (``capture_gradients``), so the gradients are
the function's own. Everything around it is compiled as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepgrad.autograd import engine
from deepgrad.autograd.function import Context, Function
from deepgrad.autograd.grad_mode import enable_grad
from deepgrad.autograd.tensor import Tensor

__all__ = ["EagerIsland", "call_as_island"]

_SLOT = "__island_input__"


class EagerIsland(Function, register=False):
    """y = f(x_1, ..., x_n), run eagerly.   dx_i = the engine's backward through f's own graph."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, function: Callable, spec: Any, grads: tuple) -> Any:
        inputs = []
        for array, wanted in zip(arrays, grads):
            t = Tensor._make(array, None)
            if wanted:
                t.requires_grad_(True)
            inputs.append(t)
        args, kwargs = _fill(spec, inputs)
        with enable_grad():
            out = function(*args, **kwargs)
        ctx.island = (out, [t for t, wanted in zip(inputs, grads) if wanted])
        ctx.apply_grads = grads
        return out._data

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> tuple:
        out, wanted = ctx.island
        found = iter(engine.capture_gradients([out], [dy], False, False, wanted))
        grads = ctx.apply_grads
        return tuple(next(found) if g else None for g in grads)


def _fill(spec: Any, inputs: list) -> Any:
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] == _SLOT:
        return inputs[spec[1]]
    if isinstance(spec, tuple):
        return tuple(_fill(s, inputs) for s in spec)
    if isinstance(spec, list):
        return [_fill(s, inputs) for s in spec]
    if isinstance(spec, dict):
        return {k: _fill(s, inputs) for k, s in spec.items()}
    return spec


def _split(item: Any, tensors: list) -> Any:
    if isinstance(item, Tensor):
        tensors.append(item)
        return (_SLOT, len(tensors) - 1)
    if isinstance(item, tuple):
        return tuple(_split(x, tensors) for x in item)
    if isinstance(item, list):
        return [_split(x, tensors) for x in item]
    if isinstance(item, dict):
        return {k: _split(v, tensors) for k, v in item.items()}
    return item


def call_as_island(function: Callable, args: tuple, kwargs: dict) -> Tensor:
    """``function(*args, **kwargs)`` as one ``EagerIsland`` node."""
    tensors: list[Tensor] = []
    spec = _split((args, kwargs), tensors)
    grads = tuple(t.requires_grad and t.dtype.kind == "f" for t in tensors)
    return EagerIsland.apply(*tensors, function=function, spec=spec, grads=grads)
