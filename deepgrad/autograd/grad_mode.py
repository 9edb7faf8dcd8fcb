"""Grad mode: whether operations record the graph for backward.

``no_grad()``, ``enable_grad()`` and ``set_grad_enabled(flag)`` work as context
managers and as decorators, like PyTorch's (``@no_grad`` and ``@no_grad()``
both work). Leaving the block or the function restores the previous mode, also
when an exception escapes. The flag is process-wide (not per thread):
deepgrad's background threads (DataLoader prefetching) never compute gradients.
"""

from __future__ import annotations

import functools


class GradMode:
    """Holds the flag. ``Function.apply`` reads ``GradMode.enabled`` on every op, so it is a plain class attribute."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether operations record the graph right now."""
    return GradMode.enabled


class _GradModeContext:
    """Sets ``GradMode.enabled`` to ``self.mode`` inside a ``with`` block or a decorated function."""

    mode = True

    def __enter__(self):
        # A stack, so that one instance can be entered again while it is active.
        self._previous.append(GradMode.enabled)
        GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc) -> bool:
        GradMode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"{type(self).__name__}: can only decorate a function (got {type(func).__name__})")
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            previous = GradMode.enabled
            GradMode.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                GradMode.enabled = previous

        return wrapper


class no_grad(_GradModeContext):
    """Operations inside record no graph: for evaluation and for weight updates.

    Example:
        >>> with no_grad():
        ...     is_grad_enabled()
        False
        >>> @no_grad
        ... def evaluate():
        ...     return is_grad_enabled()
        >>> evaluate()
        False
    """

    mode = False

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._previous = []
        if func is not None:  # used as a bare decorator: @no_grad
            return self(func)
        return self

    def __init__(self, func=None):
        pass


class enable_grad(no_grad):
    """Record the graph even inside ``no_grad`` (e.g. a function that needs gradients during evaluation).

    Example:
        >>> with no_grad():
        ...     with enable_grad():
        ...         is_grad_enabled()
        True
    """

    mode = True


class set_grad_enabled(_GradModeContext):
    """Turn graph recording on or off: as a function call, a ``with`` block or a decorator.

    Like PyTorch's, calling it sets the mode at once; used in a ``with`` block, the
    previous mode comes back at the end of the block.

    Args:
        mode: True to record the graph, False not to.

    Example:
        >>> with set_grad_enabled(False):
        ...     is_grad_enabled()
        False
        >>> is_grad_enabled()
        True
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._before_call = GradMode.enabled
        self._previous = [self._before_call]
        GradMode.enabled = self.mode

    def __enter__(self):
        if self._previous:  # the mode was already set by the constructor; its "previous" is pending
            return self
        return super().__enter__()

    def __exit__(self, *exc) -> bool:
        GradMode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        GradMode.enabled = (
            self._previous.pop() if self._previous else self._before_call
        )  # a decorator changes nothing now
        return super().__call__(func)
