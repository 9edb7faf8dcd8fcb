"""PyTorch's legacy typed constructors: ``FloatTensor``, ``DoubleTensor``, ``LongTensor`` ...

Old course code (the seeds' "PyTorch: Tensors" slide) writes
``dtype = torch.FloatTensor`` and ``torch.randn(N, D).type(dtype)``. These
classes make that work: each carries a ``dtype``, ``FloatTensor(2, 3)`` makes
a zero-filled tensor of that shape (PyTorch leaves it uninitialized),
``FloatTensor([1, 2])`` converts data, and ``isinstance(t, FloatTensor)``
checks the dtype.
"""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.ops.creation import tensor, zeros


class _LegacyType(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'deepgrad.{cls.__name__}'>"


class _LegacyTensor(metaclass=_LegacyType):
    dtype = np.dtype("float32")

    def __new__(cls, *args):
        if not args:
            return zeros(0, dtype=cls.dtype)
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=cls.dtype)
        if len(args) != 1:
            raise TypeError(
                f"{cls.__name__}: pass sizes (ints) or one data argument (got {args!r})"
            )
        return tensor(args[0], dtype=cls.dtype)


class FloatTensor(_LegacyTensor):
    """Legacy ``torch.FloatTensor`` (float32): ``FloatTensor(2, 3)`` allocates, ``FloatTensor(data)`` converts."""

    dtype = np.dtype("float32")


class DoubleTensor(_LegacyTensor):
    """Legacy ``torch.DoubleTensor`` (float64): ``DoubleTensor(2, 3)`` allocates, ``DoubleTensor(data)`` converts."""

    dtype = np.dtype("float64")


class HalfTensor(_LegacyTensor):
    """Legacy ``torch.HalfTensor`` (float16): ``HalfTensor(2, 3)`` allocates, ``HalfTensor(data)`` converts."""

    dtype = np.dtype("float16")


class LongTensor(_LegacyTensor):
    """Legacy ``torch.LongTensor`` (int64): ``LongTensor(2, 3)`` allocates, ``LongTensor(data)`` converts."""

    dtype = np.dtype("int64")


class IntTensor(_LegacyTensor):
    """Legacy ``torch.IntTensor`` (int32): ``IntTensor(2, 3)`` allocates, ``IntTensor(data)`` converts."""

    dtype = np.dtype("int32")


class ByteTensor(_LegacyTensor):
    """Legacy ``torch.ByteTensor`` (uint8): ``ByteTensor(2, 3)`` allocates, ``ByteTensor(data)`` converts."""

    dtype = np.dtype("uint8")


class BoolTensor(_LegacyTensor):
    """Legacy ``torch.BoolTensor`` (bool): ``BoolTensor(2, 3)`` allocates, ``BoolTensor(data)`` converts."""

    dtype = np.dtype("bool")
