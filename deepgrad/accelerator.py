"""deepgrad.accelerator: the device-agnostic questions of ``torch.accelerator``.

deepgrad has one accelerator, CUDA (NVIDIA GPUs through CuPy; see ``deepgrad.cuda``). The
functions here answer for it, so the idiom of PyTorch's official examples carries over:

    acc = torch.accelerator
    device = acc.current_accelerator().type if acc.is_available() else "cpu"

On a machine without CuPy or without a GPU ``is_available()`` is False, ``device_count()`` is 0,
``current_accelerator()`` is None, and the actions that need a GPU raise ``DeviceError`` with the
reason.

Example:
    >>> import deepgrad as dg
    >>> acc = dg.accelerator
    >>> device = acc.current_accelerator() if acc.is_available() else dg.device("cpu")
    >>> dg.zeros(2, device=device).device.type == device.type
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from deepgrad import cuda
from deepgrad.backend import Device, DeviceError


def is_available() -> bool:
    """True when an accelerator (a usable CUDA GPU) is present."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """The accelerator's device type, ``device('cuda')``, or None when there is none.

    Args:
        check_available: PyTorch returns the accelerator it was built for even when no device is
            present unless this is True. deepgrad's CUDA support is CuPy, which counts as
            installed only when a GPU is usable, so both values give the same answer here.
            Default: False.
    """
    del check_available  # see the docstring: the answer is the same either way
    return Device("cuda", None) if cuda.is_available() else None


def device_count() -> int:
    """The number of accelerator devices (0 without a usable GPU)."""
    return cuda.device_count()


def _require(name: str) -> None:
    if not cuda.is_available():
        raise DeviceError(
            f"deepgrad.accelerator.{name}: no accelerator is available "
            f"({cuda.unavailable_reason()}); "
            "check deepgrad.accelerator.is_available() first and use 'cpu' otherwise."
        )


def current_device_index() -> int:
    """The index of the current accelerator device (raises DeviceError without one)."""
    _require("current_device_index")
    return cuda.current_device()


def set_device_index(device: Device | str | int) -> None:
    """Make ``device`` (an index, 'cuda:N' or a Device) the current accelerator device."""
    _require("set_device_index")
    cuda.set_device(device)


@contextlib.contextmanager
def device_index(device: int | None) -> Iterator[None]:
    """Within the block, ``device`` is the current accelerator device (None: change nothing)."""
    if device is None:
        yield
        return
    _require("device_index")
    with cuda.device(device):
        yield


def synchronize(device: Device | str | int | None = None) -> None:
    """Wait for every kernel queued on ``device`` (default: the current one); needs a GPU."""
    _require("synchronize")
    cuda.synchronize(device)


__all__ = [
    "current_accelerator",
    "current_device_index",
    "device_count",
    "device_index",
    "is_available",
    "set_device_index",
    "synchronize",
]
