"""``torch.backends.cudnn``: flags accepted and kept, with no effect (deepgrad does not use cuDNN).

Convolution on CUDA runs as im2col and one cuBLAS matrix product (``deepgrad/ops/conv.py``), so
there is no cuDNN algorithm to choose (``benchmark``), to make deterministic (``deterministic``;
deepgrad's own kernels are), to switch off (``enabled``) or to run in TF32 (``allow_tf32``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = True


def is_available() -> bool:
    """False: deepgrad has no cuDNN path."""
    return False


def version() -> int | None:
    """None: no cuDNN library is used."""
    return None


@contextlib.contextmanager
def flags(
    enabled: bool = False,
    benchmark: bool = False,
    deterministic: bool = False,
    allow_tf32: bool = True,
) -> Iterator[None]:
    """Set the four flags within the block and restore them after (as PyTorch's ``flags``)."""
    module = globals()
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    saved = {name: module[name] for name in names}
    module.update(
        zip(names, (bool(enabled), bool(benchmark), bool(deterministic), bool(allow_tf32)))
    )
    try:
        yield
    finally:
        module.update(saved)


__all__ = [
    "allow_tf32",
    "benchmark",
    "deterministic",
    "enabled",
    "flags",
    "is_available",
    "version",
]
