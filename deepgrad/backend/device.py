"""Devices: where a tensor's array lives ("cpu" or "cuda:N").

CuPy is imported lazily, once, the first time a CUDA device is asked for; a
machine without CuPy or without a GPU never pays for the import.
"""

from __future__ import annotations

_cupy = None
_cupy_error: str | None = None
_cupy_checked = False


class DeviceError(RuntimeError):
    """A device that does not exist here, or two devices mixed in one operation."""


class Device:
    """A compute device: ``Device("cpu")``, ``Device("cuda", 0)``.

    ``Device("cuda")`` without an index is the current CUDA device (0 unless
    ``deepgrad.cuda.set_device`` or ``deepgrad.cuda.device`` chose another), as in PyTorch.
    """

    __slots__ = ("index", "type")

    def __init__(self, type: str, index: int | None = None):
        if type not in ("cpu", "cuda"):
            raise DeviceError(
                f"device: unknown device type {type!r}; allowed: 'cpu', 'cuda', 'cuda:N'"
            )
        self.type = type
        if type == "cpu":
            self.index = None
        elif index is None:
            cupy = get_cupy()
            self.index = 0 if cupy is None else cupy.cuda.runtime.getDevice()
        else:
            self.index = index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = parse_device(other)
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}'"
            + ("" if self.index is None else f", index={self.index}")
            + ")"
        )


def parse_device(spec) -> Device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``, a Device or None (cpu) -> Device."""
    if spec is None:
        return Device("cpu")
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, int):
        return Device("cuda", spec)
    if isinstance(spec, str):
        name, _, index = spec.partition(":")
        if name in ("cpu", "cuda") and (not index or (name == "cuda" and index.isdigit())):
            return Device(name, int(index) if index else None)
    raise DeviceError(
        f"device: cannot parse {spec!r}; allowed: 'cpu', 'cuda', 'cuda:N' or a Device"
    )


_INSTALL = (
    "install the CUDA extra that matches your driver: `pip install deepgrad[cuda12]` or "
    "`pip install deepgrad[cuda13]`"
)


def _load_cupy() -> None:
    global _cupy, _cupy_error, _cupy_checked
    _cupy_checked = True
    try:
        import cupy
    except ModuleNotFoundError as exc:
        if exc.name != "cupy":  # CuPy is there but something it needs is not
            _cupy_error = f"CuPy could not be imported ({exc}); reinstall it: {_INSTALL}"
        else:
            _cupy_error = f"CuPy is not installed; {_INSTALL}"
        return
    except ImportError as exc:  # e.g. a CUDA library of the wrong version
        _cupy_error = f"CuPy could not be imported ({exc}); {_INSTALL}, matching your CUDA version"
        return
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken: CuPy raises its own error types
        _cupy_error = (
            f"CuPy is installed but no CUDA GPU could be used ({exc}); check the NVIDIA driver with `nvidia-smi` "
            "and that the CuPy wheel matches it (cupy-cuda12x for CUDA 12, cupy-cuda13x for CUDA 13)"
        )
        return
    if count == 0:
        _cupy_error = (
            "CuPy is installed but no CUDA GPU was found; run on a machine with an NVIDIA GPU, "
            "or use device='cpu'"
        )
        return
    _cupy = cupy


def get_cupy(required: bool = False, device: Device | None = None):
    """The cupy module when a GPU can be used; None (or a DeviceError if ``required``) otherwise."""
    if not _cupy_checked:
        _load_cupy()
    if _cupy is None and required:
        raise DeviceError(f"device {device or 'cuda'}: CUDA is not available here: {_cupy_error}.")
    cuda = _cupy is not None and device is not None and device.type == "cuda"
    if cuda and device.index >= _cupy.cuda.runtime.getDeviceCount():
        raise DeviceError(
            f"device {device}: only {device_count()} CUDA device(s) exist; "
            f"use cuda:0..cuda:{device_count() - 1}."
        )
    return _cupy


def cuda_available() -> bool:
    """True when CuPy is installed and at least one CUDA GPU can be used."""
    return get_cupy() is not None


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here (None when it can)."""
    get_cupy()
    return _cupy_error


def device_count() -> int:
    """Number of usable CUDA GPUs (0 without CuPy)."""
    cupy = get_cupy()
    return 0 if cupy is None else cupy.cuda.runtime.getDeviceCount()
