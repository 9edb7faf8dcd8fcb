"""Optional compiled kernels (numba), chosen automatically when numba is installed.

``pip install "deepgrad[fast]"`` adds numba. The ops ask ``kernel(name)`` for a compiled kernel
and fall back to their NumPy code when it answers None: numba missing, switched off with
``use_numba(False)``, or the arrays not float32 NumPy arrays (``float32_numpy``). numba is
imported on the first request, never by ``import deepgrad`` (importing it takes ~0.15 s);
kernels are compiled once per machine and cached on disk.

A kernel is added only where it measured faster than the NumPy code (docs/performance.md);
the NumPy code stays the reference the tests compare every kernel with.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

KERNELS = (
    "lstm_forward_step",
    "lstm_backward_step",
    "gru_forward_step",
    "gru_backward_step",
    "max_pool_2x2_backward",
    "lstm_forward_sequence",
    "lstm_backward_sequence",
    "conv2d_forward",
    "conv2d_weight_grad",
    "gemm_tn",
    "layer_norm_forward",
    "layer_norm_backward",
    "softmax_shift",
    "softmax_normalize",
    "softmax_backward",
    "gelu_forward",
)
"""The kernels that exist: each replaces a stretch of NumPy calls in the op named by its prefix."""

_SEQUENCE = ("lstm_forward_sequence", "lstm_backward_sequence")  # in _numba_rnn
_GEMM = ("gemm_tn",)  # in _numba_gemm

_enabled = True
_module: ModuleType | None = None
_rnn_module: ModuleType | None = None
_gemm_module: ModuleType | None = None
_available: bool | None = None


def numba_available() -> bool:
    """Whether numba is installed (checked without importing it)."""
    global _available
    if _available is None:
        _available = importlib.util.find_spec("numba") is not None
    return _available


def numba_enabled() -> bool:
    """Whether the ops use the numba kernels now: numba installed and not switched off."""
    return _enabled and numba_available()


class use_numba:
    """Switch the numba kernels on or off; usable as a call or as a context manager.

    ``use_numba(False)`` switches them off from now on; ``with use_numba(False): ...`` switches
    them off inside the block and restores the previous setting after it. Switching on has no
    effect when numba is not installed.

    Example:
        >>> from deepgrad.backend.kernels import numba_enabled, use_numba
        >>> with use_numba(False):
        ...     numba_enabled()
        False
    """

    def __init__(self, enabled: bool) -> None:
        global _enabled
        if not isinstance(enabled, bool):
            raise TypeError(f"use_numba: enabled must be True or False (got {enabled!r}).")
        self.previous = _enabled
        _enabled = enabled

    def __enter__(self) -> use_numba:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _enabled
        _enabled = self.previous


def kernel(name: str) -> Callable[..., Any] | None:
    """The compiled kernel ``name`` (one of KERNELS), or None when the numba kernels are off."""
    global _module, _rnn_module, _gemm_module
    if name not in KERNELS:
        raise ValueError(f"kernel: unknown kernel {name!r}; the kernels are {', '.join(KERNELS)}.")
    if not numba_enabled():
        return None
    if name in _SEQUENCE:
        if _rnn_module is None:
            from deepgrad.backend import _numba_rnn

            _rnn_module = _numba_rnn
        return getattr(_rnn_module, name)
    if name in _GEMM:
        if _gemm_module is None:
            from deepgrad.backend import _numba_gemm

            _gemm_module = _numba_gemm
        return getattr(_gemm_module, name)
    if _module is None:
        from deepgrad.backend import _numba_kernels

        _module = _numba_kernels
    return getattr(_module, name)


def kernel_wins(
    label: str,
    reference: Callable[[Any, Any], Any],
    fast: Callable[[Any, Any], Any],
    a: Any,
    b: Any,
) -> bool:
    """Whether the numba ``fast(a, b)`` beats its NumPy ``reference(a, b)`` on these operands.

    ``blas.choose`` between the two, the reference first (the kernel must win by
    ``blas.MARGIN``): measured once per machine and kept in the decisions file under ``label``,
    so every process computes with the same kernels. The callers keep the answer per shape class.
    """
    import numba  # present: the caller's kernel compiled

    from deepgrad.backend.blas import GemmBackend, choose

    candidates = [
        GemmBackend("numpy", reference, _not_batched, "NumPy"),
        GemmBackend("numba", fast, _not_batched, f"numba {numba.__version__}"),
    ]
    return choose(label, candidates, a, b).name == "numba"


def _not_batched(a: Any, b: Any) -> None:
    return None


def size_class(count: int) -> str:
    """The sizes with ``count``'s bit length, a shape class in decision labels: 2048 -> '2048-4095'."""
    bits = count.bit_length()
    return f"{2 ** (bits - 1)}-{2**bits - 1}" if bits > 1 else str(count)


def float32_numpy(*arrays: Any) -> bool:
    """True when every array is a float32 NumPy array: the kernels' inputs (float64 keeps NumPy)."""
    return all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays)


def active_kernels() -> tuple[str, ...]:
    """The kernels the ops use now (all of KERNELS when numba is enabled, none otherwise)."""
    return KERNELS if numba_enabled() else ()


__all__ = [
    "KERNELS",
    "active_kernels",
    "float32_numpy",
    "kernel",
    "kernel_wins",
    "numba_available",
    "numba_enabled",
    "size_class",
    "use_numba",
]
