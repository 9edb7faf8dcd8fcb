"""Conversions: ``to`` (dtype and device), ``clone`` and PyTorch's old ``type`` spelling.

Two primitives live here: the device copy (``_ToDevice``) and ``Clone``. Casts between
dtypes are ``Cast`` in ``ops/elementwise.py``.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.function import Context, Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import Device, device_of, get_array_module, parse_device, to_device, to_dtype
from deepgrad.ops import elementwise as ew


class _ToDevice(Function):
    """y = x copied to another device.   dx = dy copied back"""

    @staticmethod
    def forward(ctx: Context, x: Any, device: Device) -> Any:
        ctx.source = device_of(x)
        out = to_device(x, device)
        # ctx.xp is the array module of the node's output: for a copy it is the destination's.
        ctx.xp = get_array_module(out)
        return out

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> Tensor:
        return to(dy, ctx.source)


class Clone(Function):
    """y = a copy of x.   dx = dy"""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return x.copy()

    @staticmethod
    def backward(ctx: Context, dy: Tensor) -> Tensor:
        return dy


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own memory; gradients flow back to ``x``."""
    return Clone.apply(x)


def contiguous(x: Tensor) -> Tensor:
    """``x`` itself when its memory is in row-major (C) order, else a row-major copy (``clone``)."""
    return x if x._data.flags.c_contiguous else Clone.apply(x)


def stride(x: Tensor) -> tuple[int, ...]:
    """The step in memory, in elements, from one index to the next along each dimension."""
    itemsize = x._data.itemsize
    return tuple(s // itemsize for s in x._data.strides)


def to(
    x: Tensor,
    *args: Any,
    dtype: Any = None,
    device: str | Device | None = None,
    copy: bool = False,
) -> Tensor:
    """``x.to(dtype)``, ``x.to(device)``, ``x.to(device, dtype)`` or ``x.to(other_tensor)``.

    Returns ``x`` itself when nothing changes (unless ``copy=True``). Device copies and
    float casts are differentiable.
    """
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif (isinstance(arg, str) and (arg.startswith("cuda") or arg == "cpu")) or (
            hasattr(arg, "type") and hasattr(arg, "index")
        ):
            device = arg
        else:
            dtype = arg
    out = x
    if device is not None:
        device = parse_device(device)
        if device != x.device:
            out = _ToDevice.apply(out, device=device)
    if dtype is not None:
        out = ew.to_dtype(out, to_dtype(dtype))
    if copy and out is x:
        out = clone(x)
    return out


_TYPE_NAMES = {
    "torch.FloatTensor": "float32",
    "torch.DoubleTensor": "float64",
    "torch.LongTensor": "int64",
    "torch.IntTensor": "int32",
    "torch.BoolTensor": "bool",
}


def type_name(x: Tensor) -> str:
    """``t.type()``: the dtype's name, as ``"deepgrad.float32"``."""
    return f"deepgrad.{x.dtype}"


def to_type(x: Tensor, dtype: Any) -> Tensor:
    """``t.type(dtype)``: convert, accepting PyTorch's old names (``"torch.FloatTensor"``)."""
    if isinstance(dtype, str):
        dtype = _TYPE_NAMES.get(dtype, dtype.replace("deepgrad.", ""))
    return ew.to_dtype(x, to_dtype(dtype))
