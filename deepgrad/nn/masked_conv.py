"""Causal convolutions of the autoregressive models: ``MaskedConv2d`` (PixelCNN) and
``CausalConv1d`` (WaveNet).

An autoregressive model factorizes p(x) = prod_i p(x_i | x_<i) in a fixed order (raster order
for images, time for sequences). Its layers must never let output i see input i or later: the
masked convolution zeroes the kernel taps at and after the centre, the causal convolution pads
only on the left.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.validation import one_of
from deepgrad.nn import functional as F
from deepgrad.nn.conv import Conv1d, Conv2d
from deepgrad.ops.composite import pad as _pad
from deepgrad.ops.creation import arange
from deepgrad.ops.extra import get_default_dtype

MASK_TYPES = ("A", "B")
_MASK_FIX = '"A" for the first layer (a pixel does not see itself), "B" for the layers after it'


def causal_mask(
    kernel_size: tuple[int, int], mask_type: str, device: Any = None, dtype: Any = None
) -> Tensor:
    """The (kH, kW) raster-order mask: 1 for the taps before the centre (all rows above it, and
    the taps to its left in its row), the centre itself only for type "B", 0 elsewhere.

    Example:
        >>> causal_mask((3, 3), "A")
        tensor([[1., 1., 1.],
                [1., 0., 0.],
                [0., 0., 0.]])
    """
    one_of(mask_type, MASK_TYPES, "mask_type", "causal_mask", fix=_MASK_FIX)
    height, width = kernel_size
    centre = (height // 2) * width + width // 2
    # raster order inside the kernel is the image's raster order relative to the centre pixel
    taps = arange(height * width, device=device)
    before = taps <= centre if mask_type == "B" else taps < centre
    return before.to(dtype if dtype is not None else get_default_dtype()).reshape(height, width)


class MaskedConv2d(Conv2d):
    """2-D convolution with a causal kernel (PixelCNN, van den Oord et al., 2016):
    y = conv2d(x, W * M) + b, with M = ``causal_mask(kernel_size, mask_type)``.

    Output pixel (i, j) sees the input pixels above row i and left of column j in row i, and for
    type "B" also (i, j) itself, in every input channel. The first layer of a PixelCNN is type "A"
    (a pixel must not see its own value); the layers after it are type "B" (their input at
    (i, j) already depends only on the pixels before it). The mask is a buffer (not trained, not
    saved); the product W * M makes the gradient of every masked entry of W zero.

    Channels are not split into colour groups: every output channel sees every input channel at
    the allowed positions, which is the right mask for one-channel images (binarized MNIST).

    Args:
        in_channels, out_channels: as in Conv2d.
        kernel_size: int or (kH, kW), both odd (the mask needs a centre tap).
        mask_type: "A" (centre excluded) or "B" (centre included). Default: "A".
        stride, padding, dilation, groups, bias, padding_mode, device, dtype: as in Conv2d.
            Pass ``padding=kernel_size // 2`` (or "same") to keep the image size, as PixelCNN does.

    Shape:
        as Conv2d: (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    Example:
        >>> import deepgrad as dg
        >>> conv = MaskedConv2d(1, 8, 7, mask_type="A", padding=3)
        >>> conv(dg.rand(2, 1, 28, 28)).shape, float(conv.mask.sum())
        ((2, 8, 28, 28), 24.0)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask_type: str = "A",
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        one_of(mask_type, MASK_TYPES, "mask_type", "MaskedConv2d", fix=_MASK_FIX)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(
                f"MaskedConv2d: kernel_size must be odd in both dimensions "
                f"(got {self.kernel_size}); use e.g. 3, 5 or 7 so that the mask has a centre tap."
            )
        self.mask_type = mask_type
        mask = causal_mask(self.kernel_size, mask_type, self.weight.device, self.weight.dtype)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, input: Tensor) -> Tensor:
        x, padding = self._padded(input)
        weight = self.weight * self.mask
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}"


class CausalConv1d(Conv1d):
    """Causal (dilated) 1-D convolution, WaveNet's building block (van den Oord et al., 2016):
    y[t] = b + sum_k W[k] x[t - (K - 1 - k) d], i.e. Conv1d on x padded with (K - 1) d zeros on
    the left only.

    y[t] depends on x[t], x[t - d], ..., x[t - (K - 1) d] and never on a later step; the output
    has the input's length. Stacking layers with dilations 1, 2, 4, ... doubles the receptive
    field per layer: (K - 1) * sum(dilations) + 1 steps.

    Args:
        in_channels, out_channels: as in Conv1d.
        kernel_size: taps K (an int). WaveNet uses 2.
        dilation: spacing d of the taps. Default: 1.
        groups, bias, device, dtype: as in Conv1d.

    Shape:
        (N, C_in, L) or (C_in, L) -> (N, C_out, L) or (C_out, L).

    Example:
        >>> import deepgrad as dg
        >>> CausalConv1d(1, 4, 2, dilation=4)(dg.randn(3, 1, 50)).shape
        (3, 4, 50)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.left_padding = (self.kernel_size[0] - 1) * self.dilation[0]

    def forward(self, input: Tensor) -> Tensor:
        x = _pad(input, (self.left_padding, 0))
        return F.conv1d(x, self.weight, self.bias, 1, 0, self.dilation, self.groups)


__all__ = ["MASK_TYPES", "CausalConv1d", "MaskedConv2d", "causal_mask"]
