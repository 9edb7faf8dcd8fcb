"""Where the tracer listens: the framework's entry points, redirected while a trace runs.

``recording(tracer)`` (``recording.py``, the one place that intercepts ``Function.apply``) makes
every primitive call an op node. ``install(patcher, tracer, optimizers)`` redirects, for the same
block, the entry points only a compiler needs:

- ``Tensor.backward`` (a backward node; the real backward runs inside it);
- the in-place Tensor methods (a host node when they write into an array outside the graph);
- the random sources (``rand``, ``randn``... and dropout's mask: host nodes that draw again from
  the same generator, in the same order) and ``Generator.rng_for`` (a draw anywhere else is a
  graph break);
- ``Tensor.item``/``numpy``/``__bool__``... (a tensor's value read into Python: a graph break);
- ``step``/``zero_grad`` of the optimizers found and ``Module.zero_grad`` (host nodes);
- ``Tensor._make``/``Tensor.__init__`` (tensors made outside the graph become constants).

The patcher puts everything back when the recording ends; the hot paths carry no cost outside
a trace.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from deepgrad.autograd import engine
from deepgrad.autograd.anomaly import user_source_line
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.random import Generator
from deepgrad.compile.islands import call_as_island
from deepgrad.compile.recording import Patcher, run_inside
from deepgrad.compile.tracer import Tracer, active_tracer
from deepgrad.nn.functional import loss, noise
from deepgrad.nn.module import Module
from deepgrad.ops import creation

__all__ = ["install"]

_ORIGINAL_MAKE = Tensor.__dict__["_make"].__func__
_READS = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__", "__index__")
_INPLACE_DUNDERS = ("__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__", "__setitem__")
_NOT_INPLACE = ("requires_grad_",)
_RANDOM_SOURCES: tuple[tuple[Any, str], ...] = (
    (noise, "_keep_mask"),
    *((creation, name) for name in ("rand", "randn", "randint", "normal", "uniform")),
    *((creation, name) for name in ("bernoulli", "randperm", "rand_like", "randn_like")),
)
# Functions that read their inputs' arrays in Python: one EagerIsland node each (islands.py).
_ISLANDS: tuple[tuple[Any, str], ...] = (
    (loss, "_cross_entropy_indices"),
    (loss, "_nll_loss_indices"),
)


def install(patcher: Patcher, tracer: Tracer, optimizers: list[Any]) -> None:
    """Redirect the entry points to ``tracer`` through ``patcher`` (see the module docstring)."""
    patcher.set(Tensor, "_make", staticmethod(_make))
    patcher.set(Tensor, "__init__", _wrap_init(Tensor.__init__))
    patcher.set(Tensor, "backward", _wrap_backward(Tensor.backward))
    for name in _READS:
        patcher.set(Tensor, name, _wrap_read(name, getattr(Tensor, name)))
    for name in _inplace_names():
        patcher.set(Tensor, name, _wrap_inplace(name, getattr(Tensor, name)))
    patcher.set(Generator, "rng_for", _wrap_rng_for(Generator.rng_for))
    patcher.set(engine, "run_backward", _wrap_run_backward(engine.run_backward))
    _patch_random_sources(patcher)
    patcher.set(Module, "zero_grad", _wrap_host_method("Module.zero_grad", Module.zero_grad))
    for opt in optimizers:
        for method in ("step", "zero_grad"):
            bound = getattr(opt, method)
            patcher.set(opt, method, _wrap_optimizer(f"{type(opt).__name__}.{method}", bound))


def _inplace_names() -> list[str]:
    names = [
        n
        for n in dir(Tensor)
        if n.endswith("_") and not n.startswith("_") and n not in _NOT_INPLACE
    ]
    return names + [n for n in _INPLACE_DUNDERS if hasattr(Tensor, n)]


# -- tensors made outside the graph -----------------------------------------------------------
def _make(array: Any, grad_fn: Any) -> Tensor:
    t = _ORIGINAL_MAKE(array, grad_fn)
    tracer = active_tracer()
    if tracer is not None and not tracer.depth:
        tracer.temporaries[id(t)] = str(user_source_line(1))
        tracer._keep.append(t)
    return t


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def init(self: Tensor, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        tracer = active_tracer()
        if tracer is not None and not tracer.depth:
            tracer.temporaries[id(self)] = str(user_source_line(1))
            tracer._keep.append(self)

    return init


# -- graph breaks -----------------------------------------------------------------------------
def _wrap_read(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return original(self, *args, **kwargs)
        tracer.graph_break(
            f"Tensor.{name}() reads a tensor's value into Python (control flow that depends on "
            "tensor values cannot be one graph)"
        )
        return run_inside(tracer, original, self, *args, **kwargs)

    return read


def _wrap_rng_for(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def rng_for(self: Generator, xp: Any) -> Any:
        tracer = active_tracer()
        if tracer is not None and not tracer.depth:
            tracer.graph_break("a random draw outside the random ops the compiler replays")
        return original(self, xp)

    return rng_for


def _wrap_run_backward(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def run_backward(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is not None and not tracer.depth:
            tracer.graph_break("autograd.grad / a backward pass other than Tensor.backward()")
        return original(*args, **kwargs)

    return run_backward


# -- host nodes -------------------------------------------------------------------------------
def _wrap_host_method(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return original(self, *args, **kwargs)
        result = run_inside(tracer, original, self, *args, **kwargs)
        tracer.record_host(name, original, (self, *args), kwargs, [])
        tracer.note_host_changes()
        return result

    return method


def _wrap_optimizer(name: str, bound: Callable[..., Any]) -> Callable[..., Any]:
    def method(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return bound(*args, **kwargs)
        if args or kwargs.get("closure") is not None:
            tracer.graph_break(f"{name}(closure) re-evaluates the loss (not compiled)")
        result = run_inside(tracer, bound, *args, **kwargs)
        tracer.record_host(name, bound, args, kwargs, [])
        tracer.note_host_changes()
        return result

    return method


def _wrap_inplace(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return original(self, *args, **kwargs)
        tracer.value_of(self)
        before = self._data
        mark = tracer.checkpoint()
        host_args = tracer.bind((self, *args))
        host_kwargs = tracer.bind(kwargs)
        result = original(self, *args, **kwargs)
        if self._data is before:
            # Written into the array outside the graph: one host node redoes the whole call.
            tracer.rollback(mark)
            node = tracer.record_host(f"Tensor.{name}", original, (), {}, [self])
            node.args, node.kwargs = host_args, host_kwargs
            node.extra["inplace"] = True
            tracer.note_host_changes()
        return result

    return method


def _wrap_random(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def source(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return original(*args, **kwargs)
        bound_args, bound_kwargs = tracer.bind(args), tracer.bind(kwargs)
        out = run_inside(tracer, original, *args, **kwargs)
        node = tracer.record_host(name, original, (), {}, [out])
        node.args, node.kwargs = bound_args, bound_kwargs
        node.extra["random"] = True
        return out

    return source


def _wrap_island(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def island(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return original(*args, **kwargs)
        return call_as_island(original, args, kwargs)

    return island


def _patch_random_sources(patcher: Patcher) -> None:
    """Replace each random source wherever deepgrad's modules hold it (``deepgrad.randn`` too)."""
    replacements = {}
    for module, name in _RANDOM_SOURCES:
        original = getattr(module, name)
        replacements[id(original)] = _wrap_random(name, original)
    for module, name in _ISLANDS:
        original = getattr(module, name)
        replacements[id(original)] = _wrap_island(original)
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "deepgrad" or module_name.startswith("deepgrad.")):
            continue
        for attr, value in list(vars(module).items()):
            wrapper = replacements.get(id(value))
            if wrapper is not None and callable(value):
                patcher.set(module, attr, wrapper)


# -- backward ---------------------------------------------------------------------------------
def _wrap_backward(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def backward(
        self: Tensor,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        tracer = active_tracer()
        if tracer is None or tracer.depth:
            return original(self, gradient, retain_graph, create_graph, inputs)
        if create_graph or inputs is not None:
            tracer.graph_break("backward(create_graph=True) or backward(inputs=...)")
        elif gradient is not None and not isinstance(gradient, Tensor):
            tracer.graph_break("backward(gradient=...) with a non-tensor gradient")
        else:
            tracer.record_backward(self, gradient, bool(retain_graph))
            node = tracer.graph.nodes[-1]
            run_inside(tracer, original, self, gradient, retain_graph, create_graph, inputs)
            tracer.finish_backward(node)
            return None
        return run_inside(tracer, original, self, gradient, retain_graph, create_graph, inputs)

    return backward
