"""Conversions: ``to`` (dtype and device), ``clone``, PyTorch's old ``type`` spelling, DLPack.

Two primitives live here: the device copy (``_ToDevice``) and ``Clone``. Casts between
dtypes are ``Cast`` in ``ops/elementwise.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.autograd.function import Context, Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import (
    Device,
    DeviceError,
    device_of,
    get_array_module,
    get_cupy,
    parse_device,
    to_device,
    to_dtype,
)
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


# -- DLPack: zero-copy exchange with NumPy, CuPy, PyTorch, JAX ... -------------------------------
_DLPACK_CPU, _DLPACK_CUDA, _DLPACK_CUDA_HOST = 1, 2, 3  # DLDeviceType codes of the DLPack standard


def dlpack_capsule(
    x: Tensor,
    stream: Any = None,
    max_version: tuple[int, int] | None = None,
    dl_device: tuple[int, int] | None = None,
    copy: bool | None = None,
) -> Any:
    """``x.__dlpack__(...)``: a DLPack capsule viewing ``x``'s memory (no copy unless asked).

    The arguments are the array API standard's; each is passed on to the backing NumPy or CuPy
    array only when given, so older producers keep working. As in PyTorch, a tensor that
    requires grad is refused with a ``BufferError``: the consumer could change it behind
    autograd's back.
    """
    if x.requires_grad:
        raise BufferError(
            "__dlpack__: can't export a tensor that requires grad (got requires_grad=True); "
            "export tensor.detach(), which shares the memory."
        )
    given = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
    return x._data.__dlpack__(**{k: v for k, v in given.items() if v is not None})


def dlpack_device(x: Tensor) -> tuple[int, int]:
    """``x.__dlpack_device__()``: (DLPack device type, index), e.g. (1, 0) for the CPU."""
    kind, index = x._data.__dlpack_device__()
    return int(kind), int(index)


def from_dlpack(
    ext_tensor: Any, *, device: str | Device | None = None, copy: bool | None = None
) -> Tensor:
    """A Tensor sharing memory with ``ext_tensor`` (a NumPy/CuPy array, a torch tensor ...).

    y = the same bytes, seen as a deepgrad Tensor: writing through one changes the other.

    Args:
        ext_tensor: any object with ``__dlpack__`` and ``__dlpack_device__`` (the DLPack
            protocol). CPU memory becomes a NumPy-backed tensor, CUDA memory a CuPy-backed one.
        device: where the result must live; a different device than the data's copies it.
            Default: the data's device.
        copy: True: always copy; False: never copy (an error if a copy is needed);
            None (default): copy only to change device.

    Returns:
        A Tensor with ``requires_grad=False``.

    Raises:
        TypeError: ``ext_tensor`` does not speak DLPack (a bare capsule from ``to_dlpack`` is
            not accepted: pass the tensor itself).
        DeviceError: the data lives on a device deepgrad has no backend for.
        BufferError: the producer cannot export (e.g. PyTorch refuses tensors requiring grad).

    Example:
        >>> import numpy as np, deepgrad
        >>> a = np.zeros(3, dtype=np.float32)
        >>> t = deepgrad.from_dlpack(a)
        >>> t[1] = 5.0
        >>> a
        array([0., 5., 0.], dtype=float32)
    """
    if not hasattr(ext_tensor, "__dlpack__") or not hasattr(ext_tensor, "__dlpack_device__"):
        raise TypeError(
            f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__ (got "
            f"{type(ext_tensor).__name__}); pass the array or tensor itself, not a capsule."
        )
    kind, index = ext_tensor.__dlpack_device__()
    if kind in (_DLPACK_CPU, _DLPACK_CUDA_HOST):
        source = Device("cpu")
        array = np.from_dlpack(ext_tensor, copy=copy and device is None)
    elif kind == _DLPACK_CUDA:
        source = Device("cuda", int(index))
        array = get_cupy(required=True, device=source).from_dlpack(ext_tensor)
    else:
        raise DeviceError(
            f"from_dlpack: the data lives on DLPack device type {int(kind)} (index {int(index)}); "
            "deepgrad reads CPU (1) and CUDA (2) memory; copy it to one of them first."
        )
    target = source if device is None else parse_device(device)
    if target != source:
        if copy is False:
            raise ValueError(
                f"from_dlpack: copy=False but the data is on {source} and device={target} was "
                "asked for; moving it needs a copy: pass copy=None or True."
            )
        array = to_device(array, target)
    elif copy and device is not None:
        array = array.copy()
    return Tensor._make(array, None)
