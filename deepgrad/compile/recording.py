"""The one place where primitive calls are intercepted, for every tool that records a run.

The compiler's tracer (``tracer.py``) and ONNX export (``deepgrad.onnx``) both learn what a
function computes by running it once, eagerly, and watching each primitive call. Inside
``with recording(recorder) as patcher:`` the recorder is *active*: ``Function.apply`` is
redirected so that, after each primitive runs, ``recorder.record_op(cls, inputs, constants,
out)`` sees the call. A primitive called while another recorded call runs (``recorder.depth >
0``: a host call of the tracer, a module that an ONNX converter turns into one node) belongs to
that call and is not reported.

The block redirects the other entry points it listens at through ``patcher`` (the tracer patches
``Tensor.backward`` and the optimizers, ONNX export ``Module.__call__``). Everything, including
``Function.apply``, is put back in reverse order when the block ends, also on an error, so the
hot path carries no cost outside a recording. Recordings nest: the innermost recorder sees the
calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor

__all__ = ["Patcher", "Recorder", "active_recorder", "recording", "run_inside"]

_ORIGINAL_APPLY = Function.__dict__["apply"].__func__


class Recorder(Protocol):
    """What listens while a recording runs.

    Attributes:
        depth: > 0 while a call that the recorder handles whole runs (its primitives are not
            reported one by one).
    """

    depth: int

    def record_op(self, cls: type[Function], inputs: tuple, constants: dict, out: Tensor) -> None:
        """One primitive call: ``out = cls.apply(*inputs, **constants)``, already run."""
        ...


_ACTIVE: list[Recorder] = []


def active_recorder() -> Recorder | None:
    """The recorder of the innermost running recording, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


class Patcher:
    """Replaces attributes for the length of a recording and puts them back (in reverse order)."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any, bool]] = []  # (owner, name, previous, was own)

    def set(self, owner: Any, name: str, value: Any) -> None:
        """``setattr(owner, name, value)``, remembered so that ``restore`` undoes it."""
        own = name in vars(owner)
        self._undo.append((owner, name, vars(owner).get(name), own))
        setattr(owner, name, value)

    def restore(self) -> None:
        """Undo every ``set``, newest first (an attribute that was inherited is deleted again)."""
        while self._undo:
            owner, name, previous, own = self._undo.pop()
            if own:
                setattr(owner, name, previous)
            else:
                delattr(owner, name)


def run_inside(recorder: Recorder, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` with ``recorder.depth`` raised: its primitives are not reported."""
    recorder.depth += 1
    try:
        return call(*args, **kwargs)
    finally:
        recorder.depth -= 1


def _apply(cls: type[Function], *inputs: Tensor, **constants: Any) -> Tensor:
    recorder = active_recorder()
    if recorder is None or recorder.depth:
        return _ORIGINAL_APPLY(cls, *inputs, **constants)
    out = run_inside(recorder, _ORIGINAL_APPLY, cls, *inputs, **constants)
    recorder.record_op(cls, inputs, constants, out)
    return out


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Patcher]:
    """Make ``recorder`` the active one while the block runs (see the module docstring).

    Args:
        recorder: gets ``record_op`` for every primitive call made at depth 0.

    Returns:
        A context manager that yields the ``Patcher`` for the block's own redirections.

    Example:
        >>> import deepgrad as dg
        >>> class Names:
        ...     depth = 0
        ...     def __init__(self):
        ...         self.ops = []
        ...     def record_op(self, cls, inputs, constants, out):
        ...         self.ops.append(cls.__name__)
        >>> names = Names()
        >>> with recording(names):
        ...     y = dg.ones(3).exp().sum()
        >>> names.ops
        ['Exp', 'Sum']
    """
    patcher = Patcher()
    _ACTIVE.append(recorder)
    try:
        patcher.set(Function, "apply", classmethod(_apply))
        yield patcher
    finally:
        patcher.restore()
        _ACTIVE.pop()
