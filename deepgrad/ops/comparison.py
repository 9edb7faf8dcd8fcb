"""Whole-tensor comparisons: ``isclose``, ``allclose``, ``equal``. They have no gradient.

``isclose(a, b)`` is ``|a - b| <= atol + rtol * |b|`` elementwise (NaN equal to NaN only with
``equal_nan=True``), as in PyTorch and NumPy; ``allclose`` is ``isclose(...).all()`` as a Python
bool; ``equal`` is True when both tensors have the same shape and the same elements.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, ShapeError


def _arrays(name: str, a: Tensor, b: Tensor | float) -> tuple:
    if not isinstance(a, Tensor):
        raise TypeError(f"{name}: input must be a Tensor (got {type(a).__name__})")
    if not isinstance(b, Tensor):
        return a._data, b
    if type(a._data) is not type(b._data):
        raise DeviceError(
            f"{name}: the tensors are on {a.device} and {b.device}; move one with .to(...)"
        )
    return a._data, b._data


def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|``, broadcast; a bool tensor."""
    a, b = _arrays("isclose", input, other)
    try:
        close = input.xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError as error:
        raise ShapeError(
            f"isclose: shapes {input.shape} and {getattr(other, 'shape', ())} do not broadcast"
        ) from error
    return Tensor._make(close, None)


def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """True when ``isclose(input, other, rtol, atol, equal_nan)`` holds for every element.

    Example:
        >>> import deepgrad as dg
        >>> dg.allclose(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 2.0 + 1e-9]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same elements (NaN never equals NaN)."""
    a, b = _arrays("equal", input, other)
    return a.shape == getattr(b, "shape", None) and bool((a == b).all())
