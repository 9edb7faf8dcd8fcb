"""Padding layers: constant (and zero), reflection, replication and circular padding in 1, 2 and 3
dimensions. Each holds its padding amounts and calls ``F.pad`` (``deepgrad.pad``)."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module

__all__ = [
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
]


def _amounts(name: str, padding, dims: int) -> tuple:
    """An int (the same on every side) or 2 * dims ints: (left, right, top, bottom, front, back)."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * (2 * dims)
    amounts = tuple(padding)
    if len(amounts) != 2 * dims or not all(isinstance(p, int) for p in amounts):
        raise ValueError(
            f"{name}: padding must be an int or {2 * dims} ints (left, right"
            f"{', top, bottom' if dims > 1 else ''}{', front, back' if dims > 2 else ''}) "
            f"(got {padding!r})."
        )
    return amounts


class _PadNd(Module):
    """y = pad(x, padding, mode): the last ``_dims`` dimensions padded (PyTorch's order: the last
    dimension's (left, right) first)."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _amounts(type(self).__name__, padding, self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dimension with ``value``: y = [value] * left ++ x ++ [value] * right.

    Args:
        padding: an int, or (left, right).
        value: the fill value.

    Shape:
        (*, W) -> (*, W + left + right).

    Example:
        >>> import deepgrad as dg
        >>> ConstantPad1d((1, 2), 9.0)(dg.tensor([[1.0, 2.0]]))
        tensor([[9., 1., 2., 9., 9.]])
    """

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dimensions with ``value``.

    Args:
        padding: an int, or (left, right, top, bottom).
        value: the fill value.

    Shape:
        (*, H, W) -> (*, H + top + bottom, W + left + right).
    """

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dimensions with ``value``.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).
        value: the fill value.

    Shape:
        (*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right).
    """

    _dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pad the last dimension with zeros (ConstantPad1d with value 0).

    Shape:
        (*, W) -> (*, W + left + right).
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dimensions with zeros; padding is an int or (left, right, top, bottom).

    Shape:
        (*, H, W) -> (*, H + top + bottom, W + left + right).

    Example:
        >>> import deepgrad as dg
        >>> ZeroPad2d((1, 0, 0, 1))(dg.ones(1, 1, 1, 1))
        tensor([[[[0., 1.],
                  [0., 0.]]]])
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dimensions with zeros (ConstantPad3d with value 0).

    Shape:
        (*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right).
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad the last dimension with its mirror image, the edge not repeated:
    [1, 2, 3] padded (2, 1) is [3, 2, 1, 2, 3, 2]. Amounts must be smaller than the size.

    Args:
        padding: an int, or (left, right).

    Shape:
        (N, C, W) or (C, W) -> (..., W + left + right).

    Example:
        >>> import deepgrad as dg
        >>> ReflectionPad1d((2, 1))(dg.tensor([[1.0, 2.0, 3.0]]))
        tensor([[3., 2., 1., 2., 3., 2.]])
    """

    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last two dimensions with their mirror images (the edge not repeated).

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        (N, C, H, W) or (C, H, W) -> (..., H + top + bottom, W + left + right).
    """

    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pad the last three dimensions with their mirror images (the edge not repeated).

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        (N, C, D, H, W) or (C, D, H, W)
        -> (..., D + front + back, H + top + bottom, W + left + right).
    """

    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dimension by repeating its edge values: [1, 2, 3] padded (2, 1) is
    [1, 1, 1, 2, 3, 3].

    Args:
        padding: an int, or (left, right).

    Shape:
        (N, C, W) or (C, W) -> (..., W + left + right).
    """

    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last two dimensions by repeating their edge values.

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        (N, C, H, W) or (C, H, W) -> (..., H + top + bottom, W + left + right).
    """

    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pad the last three dimensions by repeating their edge values.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        (N, C, D, H, W) or (C, D, H, W)
        -> (..., D + front + back, H + top + bottom, W + left + right).
    """

    _dims, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Pad the last dimension by wrapping around: [1, 2, 3] padded (2, 1) is [2, 3, 1, 2, 3, 1].

    Args:
        padding: an int, or (left, right); each at most the size.

    Shape:
        (N, C, W) or (C, W) -> (..., W + left + right).
    """

    _dims, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pad the last two dimensions by wrapping around (a torus).

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        (N, C, H, W) or (C, H, W) -> (..., H + top + bottom, W + left + right).
    """

    _dims, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Pad the last three dimensions by wrapping around.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        (N, C, D, H, W) or (C, D, H, W)
        -> (..., D + front + back, H + top + bottom, W + left + right).
    """

    _dims, _mode = 3, "circular"
