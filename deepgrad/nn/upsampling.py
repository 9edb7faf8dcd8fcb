"""Upsample (and its fixed-mode forms UpsamplingNearest2d, UpsamplingBilinear2d): a layer around
``F.interpolate``."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


class Upsample(Module):
    """y = interpolate(x, size, scale_factor, mode, align_corners): resample the spatial
    dimensions of (N, C, *spatial) (see ``F.interpolate`` for the formulas of each mode).

    Args:
        size: the output spatial size (an int or one per spatial dimension). Default: None.
        scale_factor: the multiplier of the spatial size (a float or one per dimension).
            Give exactly one of size and scale_factor. Default: None.
        mode: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear' or
            'area'. Default: 'nearest'.
        align_corners: for the linear modes and 'bicubic': line up the corner pixels (True) or the pixel
            centres (False). Default: None (False).
        recompute_scale_factor: compute the coordinate scale from the output size. Default: None.

    Shape:
        (N, C, *spatial) -> (N, C, *output_size), output_size = size or
        floor(spatial * scale_factor).

    Example:
        >>> import deepgrad as dg
        >>> Upsample(scale_factor=2, mode="bilinear")(dg.randn(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(
        self,
        size=None,
        scale_factor=None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _MODES:
            raise ValueError(f"{name}: unknown mode {mode!r}; allowed: {', '.join(_MODES)}.")
        if (size is None) == (scale_factor is None):
            raise ValueError(
                f"{name}: give exactly one of size and scale_factor (got size={size!r}, "
                f"scale_factor={scale_factor!r})."
            )
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(
            input, self.size, self.scale_factor, self.mode, self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )  # fmt: skip

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample of (N, C, H, W) with mode='nearest'.

    Args:
        size: the output (H_out, W_out) or an int. Default: None.
        scale_factor: the multiplier of H and W. Default: None.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample of (N, C, H, W) with mode='bilinear' and align_corners=True (as PyTorch's).

    Args:
        size: the output (H_out, W_out) or an int. Default: None.
        scale_factor: the multiplier of H and W. Default: None.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
