"""Grad mode: whether operations record the graph for backward.

``no_grad()``, ``enable_grad()`` and ``set_grad_enabled(flag)`` work as context
managers and as decorators, like PyTorch's. The flag is process-wide (not per
thread): deepgrad's background threads (DataLoader prefetching) never compute
gradients.
"""

from __future__ import annotations

import functools


class GradMode:
    """Holds the flag. ``Function.apply`` reads ``GradMode.enabled`` on every op, so it is a plain class attribute."""

    enabled = True


def is_grad_enabled() -> bool:
    return GradMode.enabled


class set_grad_enabled:
    """Turn graph recording on or off inside a ``with`` block or a decorated function.

    Example:
        >>> with set_grad_enabled(False):
        ...     is_grad_enabled()
        False
    """

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.prev = GradMode.enabled
        GradMode.enabled = self.mode  # like PyTorch, calling it as a function sets the mode at once

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        GradMode.enabled = self.prev
        return False

    def __call__(self, func):
        mode = self.mode
        GradMode.enabled = self.prev  # used as a decorator: do not leave the mode changed

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = GradMode.enabled
            GradMode.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                GradMode.enabled = prev

        return wrapper


class no_grad(set_grad_enabled):
    """Operations inside record no graph: for evaluation and for weight updates.

    Example:
        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """

    def __init__(self):
        self.mode = False

    def __enter__(self):
        self.prev = GradMode.enabled
        GradMode.enabled = False
        return self

    def __call__(self, func):
        self.prev = GradMode.enabled
        return super().__call__(func)


class enable_grad(no_grad):
    """Record the graph even inside ``no_grad``."""

    def __init__(self):
        self.mode = True

    def __enter__(self):
        self.prev = GradMode.enabled
        GradMode.enabled = True
        return self
