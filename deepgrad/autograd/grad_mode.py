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
            raise TypeError(
                f"{type(self).__name__}: can only decorate a function (got {type(func).__name__})"
            )
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


class inference_mode(_GradModeContext):
    """Code inside records no graph, like ``no_grad``: PyTorch's mode for pure inference.

    ``@inference_mode``, ``@inference_mode()`` and ``with inference_mode():`` all work;
    ``inference_mode(False)`` leaves the grad mode as it is (PyTorch's way to switch it off
    conditionally). ``is_inference_mode_enabled()`` tells whether a block is active.

    Differs from PyTorch: deepgrad has no separate "inference tensors". Tensors made inside are
    ordinary tensors that do not require grad (PyTorch's ``no_grad`` kind), so they may later be
    used in autograd freely, and there is no ``Tensor.is_inference()``. PyTorch's extra speed
    from skipping version counters does not apply: deepgrad's bookkeeping is already that cheap.

    Example:
        >>> with inference_mode():
        ...     is_grad_enabled(), is_inference_mode_enabled()
        (False, True)
        >>> is_inference_mode_enabled()
        False
    """

    mode = False
    depth = 0  # how many inference_mode blocks are active (class-wide, like GradMode.enabled)

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        self._previous = []
        self._active = True
        if callable(mode):  # used as a bare decorator: @inference_mode
            return self(mode)
        return self

    def __init__(self, mode=True) -> None:
        if not callable(mode):
            self._active = bool(mode)

    def __enter__(self):
        if not self._active:
            self._previous.append(GradMode.enabled)
            return self
        inference_mode.depth += 1
        return super().__enter__()

    def __exit__(self, *exc) -> bool:
        if self._active:
            inference_mode.depth -= 1
        GradMode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"inference_mode: can only decorate a function (got {type(func).__name__})"
            )

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(self._active):
                return func(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    """Whether an ``inference_mode`` block (or decorated function) is running."""
    return inference_mode.depth > 0
