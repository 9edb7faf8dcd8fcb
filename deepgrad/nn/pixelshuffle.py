"""PixelShuffle and PixelUnshuffle: rearrange channels into blocks of pixels and back."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import validation
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]: r^2 channels become an r x r block
    of pixels (the sub-pixel convolution upsampling of Shi et al., 2016).

    Args:
        upscale_factor: r.

    Shape:
        (*, C * r^2, H, W) -> (*, C, H * r, W * r).

    Example:
        >>> import deepgrad as dg
        >>> PixelShuffle(3)(dg.randn(1, 9, 4, 4)).shape
        (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        validation.positive_int(upscale_factor, "upscale_factor", "PixelShuffle")
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """y[n, c*r*r + i*r + j, h, w] = x[n, c, h*r + i, w*r + j]: the inverse of PixelShuffle.

    Args:
        downscale_factor: r.

    Shape:
        (*, C, H * r, W * r) -> (*, C * r^2, H, W).

    Example:
        >>> import deepgrad as dg
        >>> PixelUnshuffle(2)(dg.randn(1, 1, 4, 6)).shape
        (1, 4, 2, 3)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        validation.positive_int(downscale_factor, "downscale_factor", "PixelUnshuffle")
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
