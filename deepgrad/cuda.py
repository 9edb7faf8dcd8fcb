"""deepgrad.cuda: is a GPU here, which one is in use, its random seed and its memory (like ``torch.cuda``).

deepgrad runs on NVIDIA GPUs through CuPy, an optional dependency: ``pip install deepgrad[cuda12]``
or ``pip install deepgrad[cuda13]`` (the extra that matches your CUDA driver). Every function here
works on a machine without CuPy or without a GPU: the questions (``is_available``,
``device_count``, ``memory_allocated``) answer False or 0, the seeding functions keep the seed for
later, and the actions that need a GPU (``synchronize``, ``current_device``, ``get_device_name``,
``set_device``) raise a ``DeviceError`` that says why CUDA is unavailable and how to install it.

Example:
    >>> import deepgrad as dg
    >>> device = "cuda" if dg.cuda.is_available() else "cpu"
    >>> x = dg.ones(2, 3, device=device)
    >>> x.device.type == device
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from deepgrad.backend import Device, DeviceError, parse_device
from deepgrad.backend import device as _device
from deepgrad.backend.random import default_generator


def is_available() -> bool:
    """True when CuPy is installed and at least one CUDA GPU can be used."""
    return _device.cuda_available()


def unavailable_reason() -> str | None:
    """Why CUDA cannot be used here (no CuPy, no GPU, a broken driver ...), or None when it can."""
    return _device.cuda_unavailable_reason()


def device_count() -> int:
    """The number of usable CUDA GPUs (0 without CuPy or without a GPU)."""
    return _device.device_count()


def _cupy(name: str):
    """The cupy module, or a DeviceError naming ``name``, why CUDA is unavailable and how to install."""
    cupy = _device.get_cupy()
    if cupy is None:
        raise DeviceError(
            f"deepgrad.cuda.{name}: CUDA is not available here: {unavailable_reason()}."
        )
    return cupy


def _index(name: str, device) -> int:
    """A device argument (None: the current one, an int, 'cuda:1', a Device) -> its index, checked."""
    cupy = _cupy(name)
    if device is None:
        return cupy.cuda.runtime.getDevice()
    parsed = parse_device(device)
    if parsed.type != "cuda":
        raise DeviceError(
            f"deepgrad.cuda.{name}: expected a CUDA device (got {parsed}); pass 'cuda' or 'cuda:N'."
        )
    count = device_count()
    if parsed.index >= count:
        raise DeviceError(
            f"deepgrad.cuda.{name}: cuda:{parsed.index} does not exist (got {count} CUDA device(s)); "
            f"use cuda:0..cuda:{count - 1}."
        )
    return parsed.index


def current_device() -> int:
    """The index of the current CUDA device (where new CUDA tensors are made)."""
    return _cupy("current_device").cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make ``device`` (an int, 'cuda:N' or a Device) the current CUDA device."""
    index = _index("set_device", device)
    _cupy("set_device").cuda.Device(index).use()


@contextlib.contextmanager
def device(device) -> Iterator[Device]:
    """Within the block, ``device`` is the current CUDA device; the previous one comes back after.

    Example::

        with deepgrad.cuda.device(1):
            x = deepgrad.zeros(3, device="cuda:1")
    """
    index = _index("device", device)
    with _cupy("device").cuda.Device(index):
        yield Device("cuda", index)


def synchronize(device=None) -> None:
    """Wait until every kernel queued on ``device`` (default: the current one) has finished.

    GPU work runs asynchronously; time a GPU computation only after synchronizing.
    """
    index = _index("synchronize", device)
    _cupy("synchronize").cuda.Device(index).synchronize()


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    index = _index("get_device_name", device)
    name = _cupy("get_device_name").cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by live CUDA tensors on ``device`` (0 without a GPU).

    CuPy keeps freed blocks in a memory pool for reuse; they are not counted here (see
    ``memory_reserved``). The count is the pool's, so it is per process, and ``device`` must be
    the current device or None.
    """
    if not is_available():
        return 0
    _check_current("memory_allocated", device)
    return int(_cupy("memory_allocated").get_default_memory_pool().used_bytes())


def memory_reserved(device=None) -> int:
    """Bytes of GPU memory CuPy's pool holds on ``device``, in use or kept for reuse (0 without a GPU)."""
    if not is_available():
        return 0
    _check_current("memory_reserved", device)
    return int(_cupy("memory_reserved").get_default_memory_pool().total_bytes())


def empty_cache() -> None:
    """Hand the GPU memory kept for reuse back to the driver (nothing to do without a GPU)."""
    if is_available():
        _cupy("empty_cache").get_default_memory_pool().free_all_blocks()


def _check_current(name: str, device) -> None:
    index = _index(name, device)
    current = current_device()
    if index != current:
        raise DeviceError(
            f"deepgrad.cuda.{name}: CuPy's memory pool belongs to the current device cuda:{current} "
            f"(got cuda:{index}); ask inside `with deepgrad.cuda.device({index}):`."
        )


def manual_seed(seed: int) -> None:
    """Seed the random draws made on CUDA devices (dropout masks, randn(device='cuda') ...).

    The CPU stream is left alone (``deepgrad.manual_seed`` seeds both). Safe to call without a
    GPU: the seed is used once one is.
    """
    default_generator.manual_seed_cuda(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the random draws on every CUDA device (they all start from the same seed, as in PyTorch)."""
    default_generator.manual_seed_cuda(seed)


def initial_seed() -> int:
    """The seed the CUDA random draws started from."""
    return default_generator.initial_seed_cuda()


__all__ = [
    "current_device",
    "device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "initial_seed",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "memory_allocated",
    "memory_reserved",
    "set_device",
    "synchronize",
    "unavailable_reason",
]
