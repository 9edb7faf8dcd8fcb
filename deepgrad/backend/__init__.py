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


def erf(xp):
    """The array module's ``erf`` (SciPy on the CPU, cupyx.scipy on CUDA)."""
    if xp is np:
        import scipy.special

        return scipy.special.erf
    import cupyx.scipy.special

    return cupyx.scipy.special.erf


def to_dtype(dtype) -> np.dtype | None:
    """Turn ``'float32'``, ``np.float32``, ``deepgrad.float32``, ``float`` ... into a NumPy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    if isinstance(dtype, str):
        if dtype in DTYPES:
            return DTYPES[dtype]
        raise DTypeError(f"unknown dtype {dtype!r}; allowed: {', '.join(sorted(DTYPES))}")
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


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or dtype.kind == "V"  # "V": bfloat16 from ml_dtypes


def get_array_module(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    cupy = get_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def device_of(array) -> Device:
    """The Device an array lives on."""
    if isinstance(array, np.ndarray):
        return _CPU
    cupy = get_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return Device("cuda", array.device.id)
    return _CPU


def array_module_for(device: Device):
    if device.type == "cpu":
        return np
    return get_cupy(required=True, device=device)


def to_device(array, device: Device):
    """Copy ``array`` onto ``device`` (no copy when it is already there)."""
    if device.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return array.get()
    cupy = get_cupy(required=True, device=device)
    with cupy.cuda.Device(device.index or 0):
        return cupy.asarray(array)


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
                raise TypeError(f"tensor: cannot make a tensor from data of type {array.dtype} ({type(data).__name__})")
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


def scatter_add(xp, target, index, values):
    """``target[index] += values`` with repeated indices accumulating (np.add.at / cupyx.scatter_add)."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)
    return target


__all__ = [
    "Device",
    "DeviceError",
    "DTypeError",
    "ShapeError",
    "erf",
    "cuda_available",
    "cuda_unavailable_reason",
    "device_count",
    "parse_device",
    "get_array_module",
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
