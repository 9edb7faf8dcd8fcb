"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool2d (the math is in F.*)."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module
from deepgrad.ops.conv import ntuple


class _MaxPoolNd(Module):
    _dims = 2

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        name, dims = type(self).__name__, self._dims
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, dims)
        self.stride = self.kernel_size if stride is None else ntuple(name, "stride", stride, dims)
        self.padding = ntuple(name, "padding", padding, dims, minimum=0)
        self.dilation = ntuple(name, "dilation", dilation, dims)
        for p, k in zip(self.padding, self.kernel_size):
            if p > k // 2:
                raise ValueError(
                    f"{name}: padding should be at most half of the kernel size (got {padding}, "
                    f"kernel_size={kernel_size})"
                )
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: the largest value of each kernel_size window (padding counts as -inf).

    Args:
        kernel_size: int or (kH, kW).
        stride: int or (sH, sW). Default: kernel_size.
        padding: -inf padding on both sides, at most half the kernel. Default: 0.
        dilation: spacing between window elements. Default: 1.
        return_indices: also return the flat H * W index of each max (for unpooling). Default: False.
        ceil_mode: round the output size up. Default: False.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), H_out = (H + 2 pH - dH (kH - 1) - 1) // sH + 1.

    Example:
        >>> import deepgrad as dg
        >>> MaxPool2d(2)(dg.randn(1, 6, 24, 24)).shape
        (1, 6, 12, 12)
    """

    def forward(self, input: Tensor):
        return F.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L) or (C, L); arguments as MaxPool2d, one dimension.

    Example:
        >>> import deepgrad as dg
        >>> MaxPool1d(3, stride=2)(dg.randn(2, 4, 9)).shape
        (2, 4, 4)
    """

    _dims = 1

    def forward(self, input: Tensor):
        return F.max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class _AvgPoolNd(Module):
    _dims = 2

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        name, dims = type(self).__name__, self._dims
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, dims)
        self.stride = self.kernel_size if stride is None else ntuple(name, "stride", stride, dims)
        self.padding = ntuple(name, "padding", padding, dims, minimum=0)
        for p, k in zip(self.padding, self.kernel_size):
            if p > k // 2:
                raise ValueError(
                    f"{name}: padding should be at most half of the kernel size (got {padding}, "
                    f"kernel_size={kernel_size})"
                )
        if divisor_override is not None and (
            isinstance(divisor_override, bool)
            or not isinstance(divisor_override, int)
            or divisor_override == 0
        ):
            raise ValueError(
                f"{name}: divisor_override must be a non-zero int or None (got {divisor_override!r})"
            )
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling: the mean of each kernel_size window.

    Args:
        kernel_size: int or (kH, kW).
        stride: int or (sH, sW). Default: kernel_size.
        padding: zero padding on both sides, at most half the kernel. Default: 0.
        ceil_mode: round the output size up. Default: False.
        count_include_pad: count the zero padding in the divisor. Default: True.
        divisor_override: divide by this instead of the window size. Default: None.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), H_out = (H + 2 pH - kH) // sH + 1.

    Example:
        >>> import deepgrad as dg
        >>> AvgPool2d(2)(dg.ones(1, 1, 4, 4)).sum().item()
        4.0
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L) or (C, L); arguments as AvgPool2d (no divisor_override).

    Example:
        >>> import deepgrad as dg
        >>> AvgPool1d(2)(dg.ones(1, 1, 6)).shape
        (1, 1, 3)
    """

    _dims = 1

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


def _check_output_size(name: str, output_size, dims: int):
    sizes = (
        (output_size,) * dims
        if output_size is None or isinstance(output_size, int)
        else tuple(output_size)
    )
    if len(sizes) != dims or any(
        s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1) for s in sizes
    ):
        raise ValueError(
            f"{name}: output_size must be a positive int, None, or a tuple of {dims} (got {output_size!r})"
        )
    return output_size


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size: output cell (i, j) averages
    rows [floor(i H / H_out), ceil((i + 1) H / H_out)) and the same for columns.

    Args:
        output_size: int or (H_out, W_out); None in a position keeps that input size.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out).

    Example:
        >>> import deepgrad as dg
        >>> AdaptiveAvgPool2d(1)(dg.randn(2, 16, 7, 7)).shape
        (2, 16, 1, 1)
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = _check_output_size("AdaptiveAvgPool2d", output_size, 2)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to length output_size (windows as in AdaptiveAvgPool2d).

    Example:
        >>> import deepgrad as dg
        >>> AdaptiveAvgPool1d(4)(dg.randn(2, 3, 10)).shape
        (2, 3, 4)
    """

    def __init__(self, output_size: int) -> None:
        super().__init__()
        self.output_size = _check_output_size("AdaptiveAvgPool1d", output_size, 1)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size (windows as in AdaptiveAvgPool2d).

    Args:
        output_size: int or (H_out, W_out); None keeps that input size.
        return_indices: also return the flat H * W index of each max. Default: False.

    Example:
        >>> import deepgrad as dg
        >>> AdaptiveMaxPool2d((2, 3))(dg.randn(1, 4, 7, 8)).shape
        (1, 4, 2, 3)
    """

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = _check_output_size("AdaptiveMaxPool2d", output_size, 2)
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "MaxPool1d",
    "MaxPool2d",
]
