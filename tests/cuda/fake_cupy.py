"""A test-only stand-in for CuPy, so the device bookkeeping runs on machines without a GPU.

``install(monkeypatch)`` hands deepgrad's lazy CuPy loader (``deepgrad.backend.device``) a module
whose ``ndarray`` is a NumPy subclass and whose functions run NumPy. Tensors then report
``device='cuda:0'``, ``.to('cuda')`` / ``.cpu()`` copy, mixing devices raises, and random draws go
through a ``RandomState`` with CuPy's method names.

It imitates the CuPy behaviours that catch real bugs, and no more:

- array functions and ufuncs refuse host (NumPy) arrays mixed into CUDA work, as CuPy does
  (``TypeError: Unsupported type``); only ``asarray``/``array`` copy host data over;
- reductions give 0-d arrays, never NumPy scalars;
- ``flags`` has contiguity and ownership only (CuPy has no ``flags.writeable``);
- ``random.RandomState`` has CuPy's legacy API only (``random_sample``, ``randint``; no
  ``random`` or ``integers``), and float32/float64 only;
- ``cupyx.scatter_add`` refuses the element types CUDA's atomicAdd lacks (int64, int8, bool ...);
- there is no ``ElementwiseKernel`` by default, so deepgrad's CUDA kernels are not exercised;
  ``install(monkeypatch, kernels=True)`` adds ``ElementwiseKernel`` and ``ReductionKernel`` run
  with NumPy for a subset of C (``fake_cupy_kernels.py``), for deepgrad.compile's generated ones.

What it cannot catch: NumPy functions applied directly to these arrays (``np.asarray(x)``
silently works on a subclass, where CuPy raises), CUDA kernels, streams and real numerics.
The tests under ``tests/cuda`` that need those run only with real CuPy and a GPU.
"""

from __future__ import annotations

import contextlib
import sys
import types

import numpy as np
import scipy.special
from fake_cupy_kernels import kernel_classes

_state = {"device": 0, "count": 1, "allocated": 0}


class FakeCudaArray(np.ndarray):
    """A NumPy array that says it lives on a CUDA device."""

    def __array_finalize__(self, obj):
        self._device_id = getattr(obj, "_device_id", _state["device"])

    @property
    def device(self):
        return types.SimpleNamespace(id=self._device_id)

    @property
    def flags(self):
        """CuPy's flags: contiguity and ownership, and no ``writeable`` (CuPy arrays are always writable)."""
        own = super().flags
        return types.SimpleNamespace(
            c_contiguous=own.c_contiguous, f_contiguous=own.f_contiguous, owndata=own.owndata
        )

    def get(self) -> np.ndarray:
        """Device-to-host copy (a plain NumPy array)."""
        return np.array(self.view(np.ndarray), copy=True)

    def copy(self, order="C"):
        out = super().copy(order)
        out._device_id = _state["device"]  # CuPy's copy allocates on the current device
        return out

    def __dlpack_device__(self):
        """DLPack's (kDLCUDA, device id), as CuPy's arrays say; the capsule itself is NumPy's."""
        return (2, self._device_id)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (0, False), "version": 3}

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [_device_operand(x, ufunc.__name__) for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(_device_operand(o, ufunc.__name__) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(
            func(*_unwrap_tree(args, func.__name__), **_unwrap_tree(kwargs, func.__name__))
        )


def _device_operand(x, name: str):
    if isinstance(x, FakeCudaArray):
        return x.view(np.ndarray)
    if isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(
            f"fake cupy: {name} got a host {type(x).__name__} mixed into CUDA arrays (real CuPy raises "
            "'Unsupported type' here); move it to the device first"
        )
    return x


def _unwrap_tree(value, name: str):
    if isinstance(value, dict):
        return {k: _unwrap_tree(v, name) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_tree(v, name) for v in value)
    if isinstance(value, FakeCudaArray):
        return value.view(np.ndarray)
    if isinstance(value, np.ndarray):
        raise TypeError(
            f"fake cupy: {name} got a host NumPy array mixed into CUDA work (real CuPy raises here)"
        )
    return value


def _wrap(result):
    if isinstance(result, FakeCudaArray):
        return result
    if isinstance(result, np.ndarray):
        return result.view(FakeCudaArray)
    if isinstance(result, np.generic):
        return np.asarray(result).view(FakeCudaArray)  # CuPy reductions give 0-d arrays
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


def _function(fn, name: str, host_ok: bool = False):
    def call(*args, **kwargs):
        if host_ok:
            args = tuple(a.view(np.ndarray) if isinstance(a, FakeCudaArray) else a for a in args)
            return _wrap(np.array(fn(*args, **kwargs), copy=True))
        return _wrap(fn(*_unwrap_tree(args, name), **_unwrap_tree(kwargs, name)))

    call.__name__ = name
    return call


def _namespace_of(module, prefix: str):
    def getter(name):
        obj = getattr(module, name)
        if isinstance(obj, type) or not callable(obj):
            return obj
        return _function(obj, f"{prefix}.{name}")

    return getter


class _LazyNamespace(types.SimpleNamespace):
    def __init__(self, getter, **fixed):
        super().__init__(**fixed)
        self._getter = getter

    def __getattr__(self, name):
        return self._getter(name)


# -- cupy.random -------------------------------------------------------------------------------
def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.char not in "fd":
        raise TypeError("cupy.random only supports float32 and float64")
    return dtype


class FakeRandomState:
    """CuPy's ``RandomState`` API (the legacy NumPy names) over a NumPy generator."""

    def __init__(self, seed=None):
        seed = int(np.asarray(seed)) if seed is not None else 0
        if not 0 <= seed < 2**64:
            raise ValueError("Seed must be an integer between 0 and 2**64 - 1")
        self._rng = np.random.default_rng(seed)

    def random_sample(self, size=None, dtype=float):
        return _wrap(self._rng.random(size=() if size is None else size, dtype=_float_dtype(dtype)))

    def rand(self, *size, dtype=float):
        return self.random_sample(size=size, dtype=dtype)

    def standard_normal(self, size=None, dtype=float):
        return _wrap(
            self._rng.standard_normal(size=() if size is None else size, dtype=_float_dtype(dtype))
        )

    def randn(self, *size, dtype=float):
        return self.standard_normal(size=size, dtype=dtype)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return _wrap((self._rng.normal(loc, scale, size=size)).astype(_float_dtype(dtype)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return _wrap(self._rng.uniform(low, high, size=size).astype(np.dtype(dtype)))

    def randint(self, low, high=None, size=None, dtype=int):
        if high is None:
            low, high = 0, low
        return _wrap(self._rng.integers(low, high, size=() if size is None else size).astype(dtype))

    def permutation(self, a):
        if isinstance(a, int):
            return _wrap(self._rng.permutation(a))
        return a[_wrap(self._rng.permutation(len(a)))]

    def shuffle(self, a) -> None:
        if not isinstance(a, FakeCudaArray):
            raise TypeError("The array must be cupy.ndarray")
        a[...] = a[self._rng.permutation(len(a))]


# -- cupy.cuda -----------------------------------------------------------------------------------
class FakeDevice:
    def __init__(self, device=None):
        self.id = _state["device"] if device is None else int(device)
        self._previous = []

    def use(self) -> None:
        _state["device"] = self.id

    def synchronize(self) -> None:
        _state.setdefault("synchronized", 0)
        _state["synchronized"] += 1

    def __enter__(self):
        self._previous.append(_state["device"])
        _state["device"] = self.id
        return self

    def __exit__(self, *exc):
        _state["device"] = self._previous.pop()


class _Runtime:
    @staticmethod
    def getDeviceCount() -> int:
        return _state["count"]

    @staticmethod
    def getDevice() -> int:
        return _state["device"]

    @staticmethod
    def getDeviceProperties(index: int) -> dict:
        return {"name": f"Fake GPU {index}".encode()}


class _Stream:
    def synchronize(self) -> None:
        _state.setdefault("synchronized", 0)
        _state["synchronized"] += 1


class _MemoryPool:
    def used_bytes(self) -> int:
        return _state["allocated"]

    def total_bytes(self) -> int:
        return _state["allocated"]

    def free_all_blocks(self) -> None:
        _state["freed"] = True


def make_modules(count: int = 1, kernels: bool = False):
    """(cupy, cupyx, cupyx.scipy, cupyx.scipy.special) fakes; ``count`` fake GPUs; ``kernels``:
    with ``ElementwiseKernel`` and ``ReductionKernel`` (``fake_cupy_kernels.py``)."""
    _state.update(device=0, count=count, allocated=0)
    cupy = types.ModuleType("cupy")
    cupy.ndarray = FakeCudaArray
    getter = _namespace_of(np, "cupy")
    host_ok = {
        name: _function(getattr(np, name), f"cupy.{name}", host_ok=True)
        for name in ("asarray", "array")
    }
    cupy.__getattr__ = lambda name: host_ok[name] if name in host_ok else getter(name)
    cupy.random = types.SimpleNamespace(RandomState=FakeRandomState)
    cupy.cuda = types.SimpleNamespace(
        runtime=_Runtime, Device=FakeDevice, get_current_stream=lambda: _Stream()
    )
    cupy.linalg = _LazyNamespace(_namespace_of(np.linalg, "cupy.linalg"))
    cupy.lib = types.SimpleNamespace(
        stride_tricks=_LazyNamespace(_namespace_of(np.lib.stride_tricks, "cupy.lib.stride_tricks"))
    )
    pool = _MemoryPool()
    cupy.get_default_memory_pool = lambda: pool
    if kernels:
        cupy.ElementwiseKernel, cupy.ReductionKernel = kernel_classes(FakeCudaArray)

    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = _scatter_add
    special = types.ModuleType("cupyx.scipy.special")
    special.erf = _function(scipy.special.erf, "cupyx.scipy.special.erf")
    scipy_mod = types.ModuleType("cupyx.scipy")
    scipy_mod.special = special
    cupyx.scipy = scipy_mod
    return cupy, cupyx, scipy_mod, special


_ATOMIC = {np.dtype(t) for t in ("int32", "float16", "float32", "float64", "uint32", "uint64")}


def _scatter_add(a, slices, value) -> None:
    """cupyx.scatter_add: like CuPy, host index arrays and values are accepted (copied to the device)."""
    if a.dtype not in _ATOMIC:
        raise TypeError(
            "scatter_add only supports int32, float16, float32, float64, uint32, uint64, as data type"
        )
    np.add.at(a.view(np.ndarray), _host_view(slices), _host_view(value))


def _host_view(value):
    if isinstance(value, tuple):
        return tuple(_host_view(v) for v in value)
    return value.view(np.ndarray) if isinstance(value, FakeCudaArray) else value


def install(monkeypatch, count: int = 1, kernels: bool = False):
    """Make deepgrad see the fake CuPy (``count`` GPUs) for the rest of the test; returns the fake module.

    ``kernels``: the fake has ``ElementwiseKernel`` and ``ReductionKernel`` (``fake_cupy_kernels.py``).
    """
    from deepgrad.backend import device as device_module

    cupy, cupyx, scipy_mod, special = make_modules(count, kernels)
    monkeypatch.setattr(device_module, "_cupy", cupy)
    monkeypatch.setattr(device_module, "_cupy_error", None)
    monkeypatch.setattr(device_module, "_cupy_checked", True)
    for name, module in (
        ("cupyx", cupyx),
        ("cupyx.scipy", scipy_mod),
        ("cupyx.scipy.special", special),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    return cupy


def state() -> dict:
    """The fake's counters (current device, synchronize calls ...), for assertions."""
    return _state


@contextlib.contextmanager
def allocated(nbytes: int):
    """Pretend the memory pool holds ``nbytes`` (for memory_allocated tests)."""
    previous = _state["allocated"]
    _state["allocated"] = nbytes
    try:
        yield
    finally:
        _state["allocated"] = previous
