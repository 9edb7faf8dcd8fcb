"""Anomaly mode: find the primitive that first produced NaN or inf, and the line that called it.

``detect_anomaly()`` (a context manager and a decorator) and ``set_detect_anomaly(mode)`` turn
it on, as in PyTorch. While it is on:

- every primitive call records the user's source line that made it: the first stack frame
  outside the deepgrad package (file, line, function; the code text is read only for a message);
- after each primitive's forward, a floating output that holds NaN, or inf that no input held,
  raises ``AnomalyError`` naming the primitive, the inputs' and output's shapes and dtypes, and
  that source line;
- after each node's backward, a floating gradient that holds NaN or inf raises ``AnomalyError``
  naming the primitive, the input index, the shapes and the line that created the node;
- any other error raised by a node's backward gets that line as a note.

Unlike PyTorch, which checks only backward gradients and only for NaN, deepgrad checks the
forward too and treats inf as an anomaly: overflow (``exp(1000)``) and poles (``log(0)``,
``1 / 0``) are where NaN usually starts. An inf that an input already held (a ``-inf`` attention
mask flowing through ``+``) is not new and passes; so does one written by a constant such as
``masked_fill(mask, -inf)``. ``check_nan=False`` records the source lines without checking
values.

Off (the default), the cost is one flag check per primitive call and one per backward pass.

Example:
    >>> import deepgrad
    >>> x = deepgrad.tensor([-1.0, 1.0], requires_grad=True)
    >>> with detect_anomaly():
    ...     y = x.log()      # doctest: +SKIP
    AnomalyError: Log: forward produced NaN (1 of 2 values) ...
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from deepgrad.backend import get_array_module

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_SOURCE_KEY = "_anomaly_source"  # where a node keeps its SourceLine (in the Context's __dict__)


class AnomalyError(RuntimeError):
    """Anomaly mode found a NaN or inf: in a primitive's forward output or in a gradient its
    backward returned. The message names the primitive, the shapes and the user's source line."""


class AnomalyMode:
    """The process-wide flags. ``Function.apply`` reads ``AnomalyMode.enabled`` on every op."""

    enabled = False
    check_nan = True
    in_backward = False  # set by the engine: the ops inside a backward are checked per node


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on."""
    return AnomalyMode.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly mode is on and checks values for NaN and inf."""
    return AnomalyMode.enabled and AnomalyMode.check_nan


class SourceLine(NamedTuple):
    """Where a primitive was called from: the first stack frame outside the deepgrad package."""

    filename: str
    lineno: int
    function: str

    @property
    def code(self) -> str:
        """The text of the line (read from the file now; empty when it cannot be read)."""
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self) -> str:
        code = self.code
        return f"{self.filename}:{self.lineno} in {self.function}" + (f": `{code}`" if code else "")


def user_source_line(skip: int = 1) -> SourceLine | None:
    """The first frame outside the deepgrad package above the caller's ``skip`` frames.

    When every frame is inside deepgrad (the ``deepgrad`` command), the innermost one outside
    deepgrad's autograd and ops (the layer or model code that called the op) is used instead.
    """
    frame = sys._getframe(skip + 1)
    fallback = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            return SourceLine(filename, frame.f_lineno, frame.f_code.co_name)
        if fallback is None and not filename.startswith(_INTERNAL_DIRS):
            fallback = SourceLine(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return fallback


_INTERNAL_DIRS = tuple(_PACKAGE_DIR + d + os.sep for d in ("autograd", "ops", "backend"))


# -- turning it on ---------------------------------------------------------------------------
class detect_anomaly:
    """Check every primitive's forward and backward for NaN and inf inside a block or function.

    A context manager and a decorator (``@detect_anomaly()``). Leaving the block restores the
    previous mode, also when an exception escapes, so contexts nest. Checking costs a pass over
    every output and gradient and a stack walk per primitive call: use it to debug, not to train.

    Args:
        check_nan: check the values (True), or only record each node's source line, which then
            appears in the notes of errors raised by backward (False). Default: True.

    Example:
        >>> with detect_anomaly():      # doctest: +SKIP
        ...     loss = model(x).log().mean()
        ...     loss.backward()
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)
        self._previous: list[tuple[bool, bool]] = []

    def __enter__(self) -> detect_anomaly:
        self._previous.append((AnomalyMode.enabled, AnomalyMode.check_nan))
        AnomalyMode.enabled, AnomalyMode.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc: Any) -> bool:
        AnomalyMode.enabled, AnomalyMode.check_nan = self._previous.pop()
        return False

    def __call__(self, func: F) -> F:
        if not callable(func):
            raise TypeError(
                f"detect_anomaly: can only decorate a function (got {type(func).__name__}); "
                "use @detect_anomaly() or `with detect_anomaly():`."
            )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class set_detect_anomaly:
    """Turn anomaly mode on or off: at once when called, and back at the end of a ``with`` block.

    Args:
        mode: True to turn anomaly mode on, False to turn it off.
        check_nan: check values for NaN and inf (see ``detect_anomaly``). Default: True.

    Example:
        >>> _ = set_detect_anomaly(True)
        >>> is_anomaly_enabled()
        True
        >>> _ = set_detect_anomaly(False)
        >>> with set_detect_anomaly(True):
        ...     is_anomaly_enabled()
        True
        >>> is_anomaly_enabled()
        False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._previous = (AnomalyMode.enabled, AnomalyMode.check_nan)
        AnomalyMode.enabled, AnomalyMode.check_nan = bool(mode), bool(check_nan)

    def __enter__(self) -> set_detect_anomaly:
        return self

    def __exit__(self, *exc: Any) -> bool:
        AnomalyMode.enabled, AnomalyMode.check_nan = self._previous
        return False


# -- the checks (called only while anomaly mode is on) -----------------------------------------
def _describe(array: Any) -> str:
    return f"shape {tuple(array.shape)} {array.dtype}"


def _is_floating(array: Any) -> bool:
    return getattr(array, "dtype", None) is not None and array.dtype.kind in "fc"


def _all_finite(array: Any) -> bool:
    return bool(get_array_module(array).isfinite(array).all())


def _nonfinite(array: Any) -> str:
    """What is not finite in a floating array: "NaN and inf (3 of 8 values)"."""
    xp = get_array_module(array)
    nan, inf = int(xp.isnan(array).sum()), int(xp.isinf(array).sum())
    kinds = " and ".join(k for k, n in (("NaN", nan), ("inf", inf)) if n)
    return f"{kinds} ({nan + inf} of {array.size} values)"


def _holds_inf(value: Any) -> bool:
    if isinstance(value, float):
        return value in (float("inf"), float("-inf"))
    if _is_floating(value):
        return bool(get_array_module(value).isinf(value).any())
    return False


def _input_line(index: int, array: Any) -> str:
    bad = _is_floating(array) and not _all_finite(array)
    return f"input {index}: {_describe(array)}" + (f", holds {_nonfinite(array)}" if bad else "")


def check_forward(fn: type, ctx: Any, arrays: Sequence[Any], out: Any, constants: dict) -> None:
    """Record the call's source line on ``ctx``; with ``check_nan``, raise on a new NaN or inf."""
    source = user_source_line(2)
    ctx.__dict__[_SOURCE_KEY] = source
    if (
        not AnomalyMode.check_nan
        or AnomalyMode.in_backward
        or not _is_floating(out)
        or _all_finite(out)
    ):
        return
    has_nan = bool(get_array_module(out).isnan(out).any())
    if not has_nan and (
        any(_holds_inf(a) for a in arrays) or any(_holds_inf(c) for c in constants.values())
    ):
        return  # the inf came in: it is not new here
    inputs = "; ".join(_input_line(i, a) for i, a in enumerate(arrays))
    where = f"called at {source}" if source is not None else "called from deepgrad itself"
    raise AnomalyError(
        f"{fn.__name__}: forward produced {_nonfinite(out)} in its output "
        f"(got output {_describe(out)}; {inputs}); {where}. Keep the inputs inside the "
        "operation's domain there (clamp, add an epsilon), clean non-finite data, or lower the "
        "learning rate if the weights diverged."
    )


def check_backward(node: Any, dxs: tuple, dy: Any) -> None:
    """Raise if a gradient that ``node``'s backward returned holds NaN or inf."""
    if not AnomalyMode.check_nan:
        return
    for index, dx in enumerate(dxs):
        data = getattr(dx, "_data", None)
        if data is None or not _is_floating(data) or _all_finite(data):
            continue
        shape = getattr(node.parents[index], "shape", None)
        incoming = "finite" if _all_finite(dy._data) else f"holding {_nonfinite(dy._data)}"
        raise AnomalyError(
            f"{node.fn.__name__}: backward produced {_nonfinite(data)} in the gradient for input "
            f"{index} (got gradient {_describe(data)}, input shape "
            f"{tuple(shape) if shape is not None else '?'}, incoming gradient dy "
            f"{_describe(dy._data)}, {incoming}); the node was {_created_at(node)}. The derivative "
            "is infinite or undefined at these inputs (e.g. sqrt or log at 0): keep the input "
            "away from that point there (add an epsilon, clamp)."
        )


def _created_at(node: Any) -> str:
    source = node.__dict__.get(_SOURCE_KEY)
    if source is None:
        return "created outside anomaly mode (run the forward in detect_anomaly() to see where)"
    return f"created at {source}"


def add_source_note(exc: BaseException, node: Any) -> None:
    """Add to an error raised by ``node``'s backward the line that created the node."""
    if isinstance(exc, AnomalyError) or node is None:
        return
    if node.__dict__.get(_SOURCE_KEY) is not None:
        exc.add_note(f"anomaly mode: the failing node ({node.fn.__name__}) was {_created_at(node)}")
