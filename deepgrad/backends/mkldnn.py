"""``torch.backends.mkldnn``: oneDNN switches, accepted with no effect (NumPy's BLAS does the work)."""

from __future__ import annotations

enabled: bool = True


def is_available() -> bool:
    """False: deepgrad does not call oneDNN (MKL-DNN) itself."""
    return False


__all__ = ["enabled", "is_available"]
