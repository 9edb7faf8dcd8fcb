"""Function: one differentiable primitive = forward on arrays + backward on Tensors.

A primitive subclasses ``Function`` and writes two static methods::

    class Exp(Function):
        '''y = exp(x).   dx = dy * y'''

        @staticmethod
        def forward(ctx, x):
            ctx.save_outputs()
            return ctx.xp.exp(x)

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved_outputs
            return dy * y

``forward`` gets the input *arrays* (NumPy or CuPy; ``ctx.xp`` is their module)
and keyword constants; it returns one array. ``backward`` gets the upstream
gradient as a Tensor and returns one gradient Tensor (or None) per input. Because
backward is written with Tensor operations, running it with graph recording on
(``create_graph=True``) gives higher-order gradients for free.

The ``Context`` made for one call is also the graph node: it keeps its parents
(the input's node, or the leaf tensor itself), the saved tensors and constants.
Subclassing registers the primitive in ``Function.registry``; the op tests check
that every registered primitive has an entry in the test table.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepgrad.autograd.anomaly import AnomalyMode, check_forward
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.backend import get_array_module

_ndarray = np.ndarray


class _EveryInput(dict):
    """``_EVERY_INPUT[n]`` is ``(0, 1, ..., n - 1)``: a node that saves all its inputs keeps
    the input tuple itself."""

    def __missing__(self, n: int) -> tuple[int, ...]:
        self[n] = value = tuple(range(n))
        return value


_EVERY_INPUT = _EveryInput()


class BackwardError(RuntimeError):
    """Backward cannot run: a freed graph, an input modified in place after it was saved, or a
    primitive's backward that returned the wrong number of gradients or one of the wrong shape."""


class Context:
    """Per-call state of a primitive and the node of the graph.

    Attributes set by ``Function.apply``: ``fn`` (the Function class), ``xp`` (the array
    module of the inputs, and of the output: a device copy resets it in forward),
    ``parents`` (per input: its node, the leaf Tensor, or None), ``needs_input_grad``
    (per input: whether a gradient is wanted), and ``shape`` and ``dtype`` (of the
    output, which the engine checks the gradients of the node's consumers against).
    Anything else a primitive sets on ``ctx`` is a constant for its backward and is
    dropped when the graph is freed.

    Defaults live on the class so that making a context (once per op) sets only
    what differs: this is the hottest object in the framework.
    """

    # Always-set engine fields are slots; everything a primitive stores (and the saved tensors) lives
    # in __dict__, so freeing the node is one dict.clear().
    __slots__ = (
        "__dict__",
        "__weakref__",
        "dtype",
        "fn",
        "needs_input_grad",
        "parents",
        "shape",
        "xp",
    )
    fn: type[Function]
    xp: Any
    parents: tuple[Any, ...]
    needs_input_grad: tuple[bool, ...]
    shape: tuple[int, ...]
    dtype: np.dtype

    if TYPE_CHECKING:
        # What a primitive keeps on ctx for its backward is its own business (any name).
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    _saved: Any = None  # positions while forward runs; the saved Tensors once the node is recorded
    _saved_versions: tuple[int, ...] = ()
    _saved_out = None
    _save_out = False
    _out_ref: Any = None
    hooks = None
    retained = None
    released = False

    # -- saving, by position ------------------------------------------------------------------
    def save_inputs(self, *positions: int) -> None:
        """Keep the inputs at these positions for backward (``ctx.saved_inputs``)."""
        self._saved = positions  # resolved to Tensors by apply, only when the node is recorded

    def save_outputs(self) -> None:
        """Keep the output for backward (``ctx.saved_outputs``)."""
        self._save_out = True

    @property
    def saved_inputs(self) -> tuple:
        if self.released:
            raise _released_error(self)
        saved, versions = self._saved, self._saved_versions
        n = len(saved)  # one and two inputs unrolled: this runs once per node in backward
        if n == 2:
            if saved[0]._version == versions[0] and saved[1]._version == versions[1]:
                return saved
        elif n == 1 and saved[0]._version == versions[0]:
            return saved
        for t, version in zip(saved, versions):
            if t._version != version:
                raise BackwardError(
                    f"{self.fn.__name__}: an input saved for backward was modified in place "
                    f"(version {version} -> {t._version}, shape {t.shape}); use an out-of-place "
                    "operation (y = x + 1 instead of x += 1) before calling backward."
                )
        return saved

    @property
    def saved_outputs(self) -> tuple:
        # Rebuilt on demand rather than stored: a stored output Tensor would point back at
        # this node and make a reference cycle (DESIGN principle 6).
        return (Tensor._make(self.saved_output_array, self if GradMode.enabled else None),)

    @property
    def saved_output_array(self) -> Any:
        """The array of the saved output, checked like ``saved_outputs``: for a backward computed
        on arrays (graph recording off), without making a Tensor (docs/performance.md, note 11)."""
        if self.released:
            raise _released_error(self)
        ref = self._out_ref
        out = ref() if ref is not None else None
        # An in-place op in the graph rebinds the tensor to a new array and leaves the saved one
        # intact; only a write into the saved array itself makes the gradient wrong.
        if out is not None and out._version != 0 and out._data is self._saved_out:
            raise BackwardError(
                f"{self.fn.__name__}: its output, saved for backward, was modified in place "
                f"(version 0 -> {out._version}, shape {out.shape}); use an out-of-place operation "
                "(y = y * 2 instead of y *= 2) before calling backward."
            )
        return self._saved_out

    def release(self) -> None:
        """Free what backward kept; called after backward unless retain_graph=True."""
        self.__dict__.clear()
        self.released = True


def qualified_name(cls: type) -> str:
    """The registry key of a primitive: ``module.QualName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_primitive(cls: type[Function]) -> None:
    """Add ``cls`` to ``Function.registry``; a second class under the same qualified name raises.

    A script, a notebook or the REPL (module ``__main__``) may define a class again: running a
    cell twice is not a collision, so the new class replaces the old one there.
    """
    key = qualified_name(cls)
    previous = Function.registry.get(key)
    if previous is not None and previous is not cls and cls.__module__ != "__main__":
        raise RuntimeError(
            f"Function: a primitive named {key!r} is already registered (a different class); "
            "rename one, or pass register=False to keep a class out of the registry "
            "(class MyOp(Function, register=False))."
        )
    Function.registry[key] = cls


def _released_error(ctx) -> BackwardError:
    return BackwardError(
        f"{ctx.fn.__name__}: trying to backward through the graph a second time, but its saved "
        "values were already freed; pass retain_graph=True to the first backward() call."
    )


class Function:
    """Base class of all primitives (see the module docstring).

    Every subclass is registered in ``Function.registry`` under its module-qualified name
    (``"deepgrad.ops.elementwise.Exp"``), so a user's ``class Exp(Function)`` sits beside
    deepgrad's instead of replacing it. ``class MyOp(Function, register=False)`` keeps a
    primitive out of the registry (for primitives defined in tests, or inside a function
    that runs more than once).
    """

    registry: ClassVar[dict[str, type[Function]]] = {}
    differentiable = True

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if register:
            register_primitive(cls)

    @staticmethod
    def forward(ctx: Context, *arrays, **constants):  # pragma: no cover - abstract
        """Arrays in (``ctx.xp``'s module), one array (or a tuple) out; subclasses define it."""
        raise NotImplementedError("abstract: Function subclasses define forward")

    @staticmethod
    def backward(ctx: Context, dy):  # pragma: no cover - abstract
        """Tensors in (``dy``), one gradient (or None) per input out; subclasses define it."""
        raise NotImplementedError("abstract: Function subclasses define backward")

    @classmethod
    def apply(cls, *inputs, **constants):
        """Run forward on the inputs' arrays and, when a gradient is wanted, record the node."""
        # The hottest function of the framework (once per op, forward and inside backward): one and
        # two inputs, the common case, are unrolled (docs/performance.md, note 11).
        ctx = Context()
        ctx.fn = cls
        first = inputs[0]
        data = first._data
        ctx.xp = xp = np if type(data) is _ndarray else get_array_module(data)
        n = len(inputs)
        if n == 1:
            out = cls.forward(ctx, data, **constants) if constants else cls.forward(ctx, data)
        elif n == 2:
            second = inputs[1]
            out = (
                cls.forward(ctx, data, second._data, **constants)
                if constants  # an empty **{} still costs ~20 ns
                else cls.forward(ctx, data, second._data)
            )
        else:
            out = cls.forward(ctx, *[t._data for t in inputs], **constants)
        if type(out) is not _ndarray and not hasattr(out, "__cuda_array_interface__"):
            # NumPy turns 0-d results into scalars; device arrays stay as they are.
            out = xp.asarray(out)
        if AnomalyMode.enabled:  # detect_anomaly(): the one check on the hot path when it is off
            check_forward(cls, ctx, [t._data for t in inputs], out, constants)
        result = _new(Tensor)
        result._data = out
        result.grad_fn = None
        result._requires_grad = False
        if not GradMode.enabled or not cls.differentiable:
            return result
        if n == 1:
            if not first._requires_grad:
                return result
            ctx.needs_input_grad = (True,)
            ctx.parents = (first.grad_fn or first,)
        elif n == 2:
            need_a, need_b = first._requires_grad, second._requires_grad
            if not (need_a or need_b):
                return result
            ctx.needs_input_grad = (need_a, need_b)
            ctx.parents = (
                first.grad_fn or (first if need_a else None),
                second.grad_fn or (second if need_b else None),
            )
        else:
            needs = tuple([t._requires_grad for t in inputs])
            if True not in needs:
                return result
            ctx.needs_input_grad = needs
            ctx.parents = tuple([t.grad_fn or (t if t._requires_grad else None) for t in inputs])
        _record(ctx, inputs, out, result)
        return result


def _record(ctx: Context, inputs: tuple, out: Any, result: Tensor) -> None:
    """Make ``result`` the output of node ``ctx``: what the engine checks, and what is saved."""
    ctx.shape = out.shape
    ctx.dtype = out.dtype
    result.grad_fn = ctx  # type: ignore[assignment]  # declared None-typed on the class
    result._requires_grad = True
    positions = ctx._saved
    if positions is not None:
        saved = ctx._saved = (
            inputs
            if positions == _EVERY_INPUT[len(inputs)]
            else tuple([inputs[i] for i in positions])
        )
        n = len(saved)
        ctx._saved_versions = (
            (saved[0]._version, saved[1]._version)
            if n == 2
            else (saved[0]._version,)
            if n == 1
            else tuple([t._version for t in saved])
        )
    if ctx._save_out:
        ctx._saved_out = out
        # Weak, so that the node does not keep its output alive (that would be a cycle);
        # backward checks that the output's version is still 0.
        ctx._out_ref = weakref.ref(result)


# At the bottom: tensor.py imports nothing from this module, and apply makes Tensors at full speed.
from deepgrad.autograd.tensor import Tensor

_new = object.__new__
