"""The state of automatic mixed precision: which device types run which ops in which dtype right now.

``deepgrad.amp.autocast`` pushes onto this stack; the ops that autocast touches ask it (through
``deepgrad.ops.autocast``) on every call. The stack is per thread, as in PyTorch, so a
DataLoader worker thread never sees the training thread's autocast. Nothing here knows about
Tensors: the casts themselves are differentiable ops, one layer up.

Two policies, as in PyTorch's autocast:

- ``"lower"``: matmul, linear, conv (the ops that gain from half precision) run in the autocast
  dtype; float32 inputs are cast down, float64 ones are left alone.
- ``"float32"``: softmax, log_softmax, cross_entropy and nll_loss run in float32; half inputs
  are cast up, so exp/log and the loss keep their precision and a scaled loss cannot overflow
  float16 (whose largest value is 65504).
"""

from __future__ import annotations

import threading

import numpy as np

DEVICE_TYPES = ("cpu", "cuda")
LOWER, FLOAT32 = "lower", "float32"


class _Stack(threading.local):
    def __init__(self):
        self.entries: list[
            tuple[str, np.dtype | None]
        ] = []  # (device type, dtype); None = disabled


_stack = _Stack()


def push(device_type: str, dtype: np.dtype | None) -> None:
    """Enter an autocast region for ``device_type`` (``dtype`` None: autocast switched off there)."""
    _stack.entries.append((device_type, dtype))


def pop() -> None:
    _stack.entries.pop()


def active() -> bool:
    """True inside any autocast region (the ops' cheap first check)."""
    return bool(_stack.entries)


def dtype_for(device_type: str) -> np.dtype | None:
    """The lower-precision dtype autocast uses on ``device_type`` here, or None when it is off."""
    for entry_type, dtype in reversed(_stack.entries):
        if entry_type == device_type:
            return dtype
    return None


def target_dtype(policy: str, device_type: str, dtype: np.dtype) -> np.dtype | None:
    """The dtype an input of ``dtype`` on ``device_type`` is cast to under ``policy``, or None (leave it)."""
    lower = dtype_for(device_type)
    if lower is None:
        return None
    if policy == LOWER:
        # float64 is never cast (PyTorch's rule too): asking for float64 means asking for its precision.
        return lower if dtype != lower and dtype.kind in "fV" and dtype.itemsize <= 4 else None
    if policy == FLOAT32:
        return np.dtype("float32") if dtype.kind in "fV" and dtype.itemsize == 2 else None
    raise ValueError(f"autocast: unknown policy {policy!r}; allowed: {LOWER!r}, {FLOAT32!r}")
