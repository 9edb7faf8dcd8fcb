"""``torch.backends.mps``: Apple's Metal GPUs, which deepgrad does not support (answers False)."""

from __future__ import annotations


def is_available() -> bool:
    """False: deepgrad has no MPS (Apple GPU) backend; use 'cpu' on a Mac."""
    return False


def is_built() -> bool:
    """False: deepgrad has no MPS (Apple GPU) backend."""
    return False


__all__ = ["is_available", "is_built"]
