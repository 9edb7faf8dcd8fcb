"""``deepgrad.compile(fn)``: trace on the first calls, run the compiled program afterwards.

For each *signature* (the shapes, dtypes and ``requires_grad`` of the tensor arguments, the
other arguments' values, the grad mode and the modules' ``training`` flags) the function is
traced twice, eagerly: the first call records the graph, the second records it again and
checks that nothing changed but the data (a tensor made outside the graph that differs
between the two calls depends on the data or on a random draw the compiler does not replay:
the function then stays eager). From the third call on, the compiled program runs.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.compile import patches
from deepgrad.compile.graph import Graph, Value, ValueRef, iter_values
from deepgrad.compile.program import Program
from deepgrad.compile.recording import active_recorder, recording
from deepgrad.compile.tracer import Tracer
from deepgrad.nn.module import Module

__all__ = ["CompiledFunction", "GraphBreakError", "GraphBreakWarning", "RecompileWarning"]


class GraphBreakWarning(UserWarning):
    """A compiled function runs eagerly: the graph broke (the message names the line)."""


class GraphBreakError(RuntimeError):
    """``compile(fn, fullgraph=True)``: the function cannot be one graph."""


class RecompileWarning(UserWarning):
    """A compiled function was traced for too many signatures; new ones run eagerly."""


class _Entry:
    """The cache entry of one signature."""

    def __init__(self) -> None:
        self.first: Tracer | None = None
        self.program: Program | None = None
        self.graph_before: Graph | None = None
        self.compile_seconds = 0.0


class CompiledFunction:
    """A function with a compiled program per signature (see the module docstring).

    Args:
        fn: the function (or Module) to compile.
        optimizers: optimizers whose ``step``/``zero_grad`` the function calls; those found in
            its closure, its globals and its arguments are added. Default: none.
        passes: the graph passes to run, by name (``deepgrad.compile.passes.DEFAULT_PASSES``).
        cache_size_limit: how many signatures to compile before new ones run eagerly.
            Default: 8.
        fullgraph: raise ``GraphBreakError`` instead of falling back to eager.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        optimizers: list[Any] | None = None,
        passes: tuple[str, ...] | None = None,
        cache_size_limit: int = 8,
        fullgraph: bool = False,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"compile: fn must be callable (got {type(fn).__name__}).")
        if cache_size_limit < 1:
            raise ValueError(
                f"compile: cache_size_limit must be >= 1 (got {cache_size_limit}); "
                "pass the number of signatures to keep."
            )
        self.fn = fn
        self.optimizers = list(optimizers or [])
        self.passes = passes
        self.cache_size_limit = cache_size_limit
        self.fullgraph = fullgraph
        self.cache: dict[tuple, _Entry] = {}
        self.eager_reason: str | None = None
        self.traces = 0
        self._found: dict | None = None  # what the function's closure and globals hold
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # inside a trace or an ONNX export, the function is part of what is being recorded
        if active_recorder() is not None or self.eager_reason is not None:
            return self.fn(*args, **kwargs)
        found = self._found
        if found is None or args or kwargs:
            found = discover(self.fn, args, kwargs, self._found)
            if self._found is None:
                self._found = discover(self.fn, (), {})
        tensors: list[Tensor] = []
        key = (signature((args, kwargs), tensors), GradMode.enabled, _training(found))
        entry = self.cache.get(key)
        if entry is None:
            if len(self.cache) >= self.cache_size_limit:
                self._warn_recompiles(key)
                return self.fn(*args, **kwargs)
            entry = self.cache[key] = _Entry()
        if entry.program is not None and entry.program.guard():
            return entry.program.run(tensors)
        return self._trace(entry, args, kwargs, tensors, found)

    def _trace(self, entry: _Entry, args: tuple, kwargs: dict, tensors: list, found: dict) -> Any:
        import time

        start = time.perf_counter()
        optimizers = self.optimizers + [o for o in found["optimizers"] if o not in self.optimizers]
        result, tracer = trace(self.fn, args, kwargs, tensors, optimizers)
        self.traces += 1
        problems = tracer.breaks
        if not problems and entry.first is not None:
            problems = compare_traces(entry.first.graph, tracer.graph)
        if problems:
            self._fall_back(problems)
        elif entry.first is None or entry.program is not None:
            entry.first = tracer
            entry.program = None
        else:
            from deepgrad.compile.passes import optimize

            entry.graph_before = tracer.graph
            graph, buffers = optimize(tracer.graph, self.passes)
            entry.program = Program(graph, buffers)
            entry.first = None
        entry.compile_seconds += time.perf_counter() - start
        return result

    def _fall_back(self, problems: list[str]) -> None:
        self.eager_reason = problems[0]
        message = (
            f"compile({self.__name__}): graph break: {problems[0]}; the function runs eagerly "
            "from now on."
        )
        if self.fullgraph:
            raise GraphBreakError(message)
        warnings.warn(message, GraphBreakWarning, stacklevel=4)

    def _warn_recompiles(self, key: tuple) -> None:
        if getattr(self, "_warned_recompiles", False):
            return
        self._warned_recompiles = True
        warnings.warn(
            f"compile({self.__name__}): traced for {self.cache_size_limit} signatures "
            f"(cache_size_limit); a new one (shapes, dtypes or arguments: {_short_key(key)}) "
            "runs eagerly. Pad inputs to a few fixed shapes, or raise cache_size_limit.",
            RecompileWarning,
            stacklevel=3,
        )

    @property
    def programs(self) -> list[Program]:
        """The compiled programs, one per input signature traced so far (eager ones excluded)."""
        return [e.program for e in self.cache.values() if e.program is not None]


def _short_key(key: tuple) -> str:
    text = repr(key[0])
    return text if len(text) <= 120 else text[:117] + "..."


# -- signatures and what the function uses ----------------------------------------------------
def signature(item: Any, tensors: list) -> Any:
    """A hashable description of the arguments; their tensors are appended to ``tensors``."""
    if isinstance(item, Tensor):
        tensors.append(item)
        array = item._data
        return ("T", array.shape, array.dtype.str, item._requires_grad, type(array).__name__)
    if isinstance(item, (tuple, list)):
        return (type(item).__name__, tuple(signature(x, tensors) for x in item))
    if isinstance(item, dict):
        return ("dict", tuple((k, signature(v, tensors)) for k, v in item.items()))
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    return ("id", id(item))


def discover(fn: Any, args: tuple, kwargs: dict, known: dict | None = None) -> dict:
    """The modules and optimizers (duck-typed: ``param_groups`` and ``step``) the function uses.

    ``known``: what an earlier call found in the function's closure and globals (not searched
    again); only the arguments are searched then.
    """
    if known is not None:
        extra = discover(None, args, kwargs)
        return {
            k: known[k] + [o for o in extra[k] if all(o is not x for x in known[k])] for k in known
        }
    candidates: list[Any] = [fn, *args, *kwargs.values()]
    target = getattr(fn, "__func__", fn)
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        candidates.append(owner)
    code = getattr(target, "__code__", None)
    for cell in getattr(target, "__closure__", None) or ():
        try:
            candidates.append(cell.cell_contents)
        except ValueError:
            continue
    if code is not None:
        space = getattr(target, "__globals__", {})
        candidates.extend(space[n] for n in code.co_names if n in space)
    for obj in list(candidates):
        plain = not isinstance(obj, (Module, types.ModuleType)) and not callable(obj)
        if plain and hasattr(obj, "__dict__"):
            candidates.extend(vars(obj).values())
    modules = [c for c in candidates if isinstance(c, Module)]
    optimizers: list[Any] = []
    for c in candidates:
        duck = hasattr(c, "param_groups") and callable(getattr(c, "step", None))
        if duck and all(c is not o for o in optimizers):
            optimizers.append(c)
    return {"modules": modules, "optimizers": optimizers}


def _training(found: dict) -> tuple:
    return tuple(m.training for module in found["modules"] for m in module.modules())


# -- tracing ----------------------------------------------------------------------------------
def trace(
    fn: Callable[..., Any], args: tuple, kwargs: dict, tensors: list, optimizers: list
) -> tuple[Any, Tracer]:
    """Run ``fn`` eagerly under a tracer; return its result and the tracer."""
    tracer = Tracer()
    for position, tensor in enumerate(tensors):
        tracer.add_input(tensor, position)
    with recording(tracer) as patcher:
        patches.install(patcher, tracer, optimizers)
        result = fn(*args, **kwargs)
    tracer.graph.output_spec = _output_spec(tracer, result)
    tracer.breaks.extend(tracer.unexplained_changes())
    return result, tracer


def _output_spec(tracer: Tracer, result: Any) -> Any:
    if isinstance(result, Tensor):
        if result._requires_grad and not any(n.kind == "backward" for n in tracer.graph.nodes):
            tracer.breaks.append(
                "the function returns a tensor that requires grad and calls no backward() "
                "(compile the whole training step, or call it under no_grad())"
            )
        return tracer.value_of(result)
    if isinstance(result, (tuple, list)):
        spec = [_output_spec(tracer, r) for r in result]
        return tuple(spec) if isinstance(result, tuple) else spec
    if isinstance(result, dict):
        return {k: _output_spec(tracer, v) for k, v in result.items()}
    if result is None or isinstance(result, (bool, int, float, str)):
        return result
    tracer.breaks.append(f"the function returns a {type(result).__name__} (not compiled)")
    return None


def compare_traces(first: Graph, second: Graph) -> list[str]:
    """Differences between two traces of one signature (structure, or a constant's value)."""
    a, b = _structure(first), _structure(second)
    if a != b:
        where = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        nodes = where - len(first.values)
        what = ""
        if 0 <= nodes < min(len(first.nodes), len(second.nodes)):
            what = (
                f" (first: {first.nodes[nodes].describe()}; then: {second.nodes[nodes].describe()})"
            )
        return [f"the function ran different operations on two calls with the same signature{what}"]
    overwritten = {
        n.args[0].value.index
        for n in second.nodes
        if n.extra.get("inplace") and n.args and isinstance(n.args[0], ValueRef)
    }
    for va, vb in zip(first.values, second.values):
        if va.index in overwritten:
            continue  # filled in place by the function itself (empty(3).uniform_())
        if va.kind == "constant" and not _same_array(va.array, vb.array):
            return [
                f"a tensor made at {vb.origin} outside the graph has different values on two "
                "calls (it depends on the data, or on a random draw the compiler does not replay)"
            ]
    return []


def _same_array(a: Any, b: Any) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _structure(graph: Graph) -> list:
    items: list = [(v.kind, v.shape, str(v.dtype), v.position, id(v.tensor)) for v in graph.values]
    for node in graph.nodes:
        call = node.call
        items.append(
            (
                node.kind,
                node.name,
                node.fn,
                tuple(v.index for v in node.inputs),
                tuple(v.index for v in node.outputs),
                _plain(node.constants),
                _plain(node.args),
                _plain(node.kwargs),
                node.needs_input_grad,
                getattr(call, "__func__", call),
                id(getattr(call, "__self__", None)),
            )
        )
    items.append(tuple(v.index for v in iter_values(graph.output_spec)))
    return items


def _plain(spec: Any) -> Any:
    if isinstance(spec, ValueRef):
        return ("ref", spec.value.index)
    if isinstance(spec, Value):
        return ("value", spec.index)
    if isinstance(spec, (tuple, list)):
        return tuple(_plain(s) for s in spec)
    if isinstance(spec, dict):
        return tuple((k, _plain(v)) for k, v in spec.items())
    if spec is None or spec is Ellipsis or isinstance(spec, (bool, int, float, str, type)):
        return spec
    if isinstance(spec, slice):
        return ("slice", _plain(spec.start), _plain(spec.stop), _plain(spec.step))
    if isinstance(spec, (np.dtype, np.generic)):
        return (type(spec).__name__, str(spec))
    if isinstance(spec, np.ndarray):
        return ("array", id(spec))
    return ("object", id(spec))
