"""``torch.backends.cuda``: matmul precision flags and attention-kernel switches, all no-ops.

deepgrad computes float32 matrix products in float32 on every device (CuPy's cuBLAS default, no
TF32), and attention is computed by its plain formula (there are no fused flash or
memory-efficient kernels to pick), so these flags are kept but change nothing. ``is_built()``
answers whether deepgrad can use CUDA here.
"""

from __future__ import annotations

from deepgrad import cuda as _cuda


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: the flags of float32/float16/bfloat16 products (no-ops here).

    Setting an attribute that PyTorch does not have raises AttributeError, so a typo is caught.
    """

    __slots__ = (
        "allow_bf16_reduced_precision_reduction",
        "allow_fp16_reduced_precision_reduction",
        "allow_tf32",
    )

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"matmul({values})"


matmul = _MatmulFlags()

_sdp = {"flash": True, "mem_efficient": True, "math": True}


def is_built() -> bool:
    """True when deepgrad can run on CUDA here (CuPy installed and a GPU usable)."""
    return _cuda.is_available()


def enable_flash_sdp(enabled: bool) -> None:
    """Accepted; deepgrad's attention has only the math kernel."""
    _sdp["flash"] = bool(enabled)


def flash_sdp_enabled() -> bool:
    """The value last given to ``enable_flash_sdp`` (default True)."""
    return _sdp["flash"]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Accepted; deepgrad's attention has only the math kernel."""
    _sdp["mem_efficient"] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    """The value last given to ``enable_mem_efficient_sdp`` (default True)."""
    return _sdp["mem_efficient"]


def enable_math_sdp(enabled: bool) -> None:
    """Accepted; the math kernel is deepgrad's only one and stays in use."""
    _sdp["math"] = bool(enabled)


def math_sdp_enabled() -> bool:
    """The value last given to ``enable_math_sdp`` (default True)."""
    return _sdp["math"]


__all__ = [
    "enable_flash_sdp",
    "enable_math_sdp",
    "enable_mem_efficient_sdp",
    "flash_sdp_enabled",
    "is_built",
    "math_sdp_enabled",
    "matmul",
    "mem_efficient_sdp_enabled",
]
