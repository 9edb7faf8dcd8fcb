"""deepgrad.compile: trace a function into a graph of primitives, optimize it, run it compiled.

The data-flow idea of Theano and TensorFlow 1, as JAX's ``jit`` and PyTorch 2's
``torch.compile`` do it today, written to be read::

    step = deepgrad.compile(train_step)      # or @deepgrad.compile on the definition
    for x, y in loader:
        loss = step(x, y)                    # calls 1-2 trace, later calls run the program
    deepgrad.compile.explain(train_step, x, y)   # the graph before/after the passes

How it works (``docs/compile.md``): the tracer (``tracer.py``, ``patches.py``) runs the
function eagerly and records every primitive call, the backward call, the optimizer step,
in-place updates and random draws; the passes (``passes/``) rewrite the graph; the program
(``program.py``) replays it on raw arrays, with each primitive's own forward and backward.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from deepgrad.compile.api import (
    CompiledFunction,
    GraphBreakError,
    GraphBreakWarning,
    RecompileWarning,
)
from deepgrad.compile.explain import explain
from deepgrad.compile.passes.numba_codegen import use_codegen

__all__ = [
    "CompiledFunction",
    "GraphBreakError",
    "GraphBreakWarning",
    "RecompileWarning",
    "compile",
    "explain",
    "use_codegen",
]


def compile(
    fn: Callable[..., Any] | None = None,
    *,
    optimizers: list[Any] | None = None,
    passes: tuple[str, ...] | None = None,
    cache_size_limit: int = 8,
    fullgraph: bool = False,
) -> Any:
    """Compile ``fn`` (a function or a Module): ``deepgrad.compile(fn)`` or ``@deepgrad.compile``.

    The first two calls with a signature (tensor shapes, dtypes, ``requires_grad``, other
    arguments, grad mode, the modules' ``training`` flags) run eagerly and trace; later calls
    run the compiled program: forward, backward (each primitive's own backward rule), the
    optimizer step and in-place updates, dropout masks drawn from the same generator in the
    same order as eager mode.

    Args:
        fn: the function to compile; None returns a decorator.
        optimizers: optimizers the function steps that are not in its closure or globals.
        passes: graph passes by name (default ``passes.DEFAULT_PASSES``); ``()`` for none.
        cache_size_limit: signatures compiled before new ones run eagerly. Default: 8.
        fullgraph: raise ``GraphBreakError`` on a graph break instead of warning.

    Returns:
        A ``CompiledFunction`` (or a decorator making one).

    Example:
        >>> import deepgrad as dg
        >>> f = dg.compile(lambda x: (x * 2).exp().sum())
        >>> [round(float(f(dg.ones(3)).item()), 3) for _ in range(3)]
        [22.167, 22.167, 22.167]
    """

    def wrap(function: Callable[..., Any]) -> CompiledFunction:
        return CompiledFunction(
            function,
            optimizers=optimizers,
            passes=passes,
            cache_size_limit=cache_size_limit,
            fullgraph=fullgraph,
        )

    return wrap if fn is None else wrap(fn)


class _CallableModule(types.ModuleType):
    """``deepgrad.compile`` is both this package and, called, the ``compile`` function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return compile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
