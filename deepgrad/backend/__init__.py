"""Array backends: NumPy on the CPU, CuPy on CUDA GPUs.

Everything above this package asks *here* which array module (``xp``) an array
belongs to, so the same op code runs on both (DESIGN principle 3). The dtype
policy lives here too: dtypes are NumPy dtype objects (``deepgrad.float32`` is
``numpy.dtype('float32')``), which CuPy understands as well.
"""

from __future__ import annotations

import numpy as np

from deepgrad.backend.device import (
    Device,
    DeviceError,
    cuda_available,
    cuda_unavailable_reason,
    device_count,
    get_cupy,
    parse_device,
)
from deepgrad.backend.ops_compat import erf, scatter_add

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DTYPES = {
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "int8": int8,
    "int16": int16,
    "int32": int32,
    "int": int32,
    "int64": int64,
    "long": int64,
    "uint8": uint8,
    "bool": bool_,
}

_CPU = Device("cpu")


class DTypeError(TypeError):
    """A dtype that an operation cannot work with."""


class ShapeError(ValueError):
    """Shapes that an operation cannot combine; the message names the op and the shapes."""


def to_dtype(dtype) -> np.dtype | None:
    """Turn ``'float32'``, ``np.float32``, ``deepgrad.float32``, ``float`` ... into a NumPy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    if isinstance(dtype, str):
        if dtype in DTYPES:
            return DTYPES[dtype]
        if dtype == "bfloat16":
            return bfloat16_dtype()
        raise DTypeError(f"unknown dtype {dtype!r}; allowed: {', '.join(sorted(DTYPES))}, bfloat16")
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise DTypeError(f"unknown dtype {dtype!r}") from exc


def bfloat16_dtype() -> np.dtype:
    """The bfloat16 dtype (8 exponent bits, 7 mantissa bits) from the ``ml_dtypes`` package.

    NumPy has no bfloat16 of its own; ``ml_dtypes`` adds one that NumPy (and CuPy 14+) compute with.
    Imported on first use, so deepgrad does not depend on it.
    """
    try:
        import ml_dtypes
    except ImportError:
        raise DTypeError(
            "bfloat16: NumPy has no bfloat16 dtype of its own (got no ml_dtypes package); "
            "install it with `pip install ml_dtypes`, or use float16."
        ) from None
    return np.dtype(ml_dtypes.bfloat16)


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or dtype.kind == "V"  # "V": bfloat16 from ml_dtypes


def get_array_module(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if type(array) is np.ndarray:
        return np
    cupy = get_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def is_writeable(array) -> bool:
    """Whether writing into ``array`` in place is safe.

    NumPy says so in ``flags.writeable`` (False for broadcast views and read-only constants).
    CuPy arrays have no such flag and are always writable; a view with a zero stride (a
    broadcast) is still unsafe to write into, since its elements share memory.
    """
    if type(array) is np.ndarray:
        return array.flags.writeable
    writeable = getattr(array.flags, "writeable", None)
    if writeable is not None:
        return writeable
    return array.size <= 1 or 0 not in array.strides


def device_of(array) -> Device:
    """The Device an array lives on."""
    if type(array) is np.ndarray:
        return _CPU
    cupy = get_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return Device("cuda", array.device.id)
    return _CPU


def array_module_for(device: Device):
    """numpy for the CPU; cupy for a CUDA device, which must be the current one (new arrays land there)."""
    if device.type == "cpu":
        return np
    cupy = get_cupy(required=True, device=device)
    current = cupy.cuda.runtime.getDevice()
    if device.index != current:
        raise DeviceError(
            f"device {device}: new tensors are made on the current CUDA device (cuda:{current}) (got {device}); "
            f"make {device} current first with `with deepgrad.cuda.device({device.index}):` or "
            f"deepgrad.cuda.set_device({device.index}), or create on cuda:{current} and call .to('{device}')."
        )
    return cupy


def to_device(array, device: Device):
    """Copy ``array`` onto ``device`` (no copy when it is already there)."""
    cupy = get_cupy()
    on_gpu = cupy is not None and isinstance(array, cupy.ndarray)
    if device.type == "cpu":
        if on_gpu:
            return array.get()
        return array if isinstance(array, np.ndarray) else np.asarray(array)
    cupy = get_cupy(required=True, device=device)
    if on_gpu and array.device.id == device.index:
        return array
    with cupy.cuda.Device(device.index):
        # copy() allocates on the current device, so an array on another GPU is copied across.
        return array.copy() if on_gpu else cupy.asarray(array)


def as_array(data, dtype=None, device=None):
    """Any array-like (Tensor, NumPy/CuPy array, list, scalar) -> backend array.

    Python floats become float32, ints int64 (like ``torch.tensor``); arrays keep their dtype.
    """
    dtype = to_dtype(dtype)
    if hasattr(data, "_data") and hasattr(data, "grad_fn"):  # a Tensor
        array = data._data
    elif isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        array = data
    else:
        if isinstance(data, (list, tuple)) and any(hasattr(d, "_data") for d in _flatten(data)):
            data = _nested_to_numpy(data)
        array = np.asarray(data)
        if dtype is None:
            if array.dtype.kind == "f":
                array = array.astype(np.dtype("float32"))
            elif array.dtype.kind in "iu":
                array = array.astype(np.dtype("int64"))
            elif array.dtype.kind not in "b":
                raise TypeError(
                    f"tensor: cannot make a tensor from data of type {array.dtype} ({type(data).__name__})"
                )
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    if device is not None:
        array = to_device(array, parse_device(device))
    return array


def _flatten(seq):
    for item in seq:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _nested_to_numpy(seq):
    if isinstance(seq, (list, tuple)):
        return [_nested_to_numpy(s) for s in seq]
    return np.asarray(seq) if hasattr(seq, "_data") else seq


from deepgrad.backend.sysinfo import BackendInfo, info

__all__ = [
    "BackendInfo",
    "info",
    "Device",
    "DeviceError",
    "DTypeError",
    "ShapeError",
    "erf",
    "bfloat16_dtype",
    "is_floating",
    "cuda_available",
    "cuda_unavailable_reason",
    "device_count",
    "parse_device",
    "get_array_module",
    "is_writeable",
    "device_of",
    "array_module_for",
    "to_device",
    "to_dtype",
    "scatter_add",
    "as_array",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool_",
]
