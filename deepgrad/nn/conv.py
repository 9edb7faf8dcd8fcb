"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (the math is in F.conv*)."""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.validation import one_of, positive_int
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter
from deepgrad.ops.composite import pad as _pad
from deepgrad.ops.conv import ntuple
from deepgrad.ops.creation import empty

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared parameters, validation and initialization of the convolution layers."""

    _dims = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        output_padding=0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name, dims = type(self).__name__, self._dims
        for arg, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            positive_int(value, arg, name)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                f"groups ({groups})."
            )
        one_of(padding_mode, _PADDING_MODES, "padding_mode", name)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, dims)
        self.stride = ntuple(name, "stride", stride, dims)
        self.dilation = ntuple(name, "dilation", dilation, dims)
        if isinstance(padding, str):
            if self._transposed or padding not in ("valid", "same"):
                allowed = "ints" if self._transposed else "ints, 'valid' or 'same'"
                raise ValueError(f"{name}: padding must be {allowed} (got {padding!r})")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions (got stride={stride})"
                )
            self.padding = padding
        else:
            self.padding = ntuple(name, "padding", padding, dims, minimum=0)
        if self._transposed:
            if padding_mode != "zeros":
                raise ValueError(
                    f"{name}: only padding_mode='zeros' is supported (got {padding_mode!r})"
                )
            self.output_padding = ntuple(name, "output_padding", output_padding, dims, minimum=0)
            for op, s, d in zip(self.output_padding, self.stride, self.dilation):
                if op >= s and op >= d:
                    raise ValueError(
                        f"{name}: output_padding must be smaller than either stride or dilation (got "
                        f"output_padding={self.output_padding}, stride={self.stride}, dilation={self.dilation})"
                    )
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5)), b likewise."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _padded(self, x: Tensor):
        """(input, padding for F): non-zero padding modes pad the input first and convolve with padding 0."""
        if self.padding_mode == "zeros":
            return x, self.padding
        if isinstance(self.padding, str):
            pads = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1) if self.padding == "same" else 0
                pads.append((total // 2, total - total // 2))
        else:
            pads = [(p, p) for p in self.padding]
        amounts = tuple(a for pair in reversed(pads) for a in pair)
        return _pad(x, amounts, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation): y[n, o] = b[o] + sum_c W[o, c] * x[n, c] over each window.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (number of filters).
        kernel_size: int or (kH, kW).
        stride: int or (sH, sW). Default: 1.
        padding: int, (pH, pW), 'valid' or 'same'. Default: 0.
        dilation: int or (dH, dW). Default: 1.
        groups: independent channel groups (in_channels for a depthwise convolution). Default: 1.
        bias: learn a bias per output channel. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.
        device, dtype: where and in which float type the parameters are made.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out),
        H_out = (H + 2 pH - dH (kH - 1) - 1) // sH + 1, W_out likewise.

    Parameters:
        weight: (C_out, C_in / groups, kH, kW) ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
            fan_in = C_in / groups * kH * kW (PyTorch's default, kaiming_uniform_ with a = sqrt(5)).
        bias: (C_out,) ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Example:
        >>> import deepgrad as dg
        >>> Conv2d(1, 6, 5)(dg.randn(2, 1, 28, 28)).shape
        (2, 6, 24, 24)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
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

    def forward(self, input: Tensor) -> Tensor:
        x, padding = self._padded(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L): as Conv2d along one dimension.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as in
            Conv2d, one spatial dimension (``padding``: an int, 'valid' or 'same').
        padding_mode, device, dtype: as in Conv2d.

    Shape:
        input (N, C_in, L) or (C_in, L) -> (N, C_out, L_out), L_out = (L + 2 p - d (k - 1) - 1) // s + 1.

    Parameters:
        weight: (C_out, C_in / groups, k) ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in / groups * k.
        bias: (C_out,), the same distribution.

    Example:
        >>> import deepgrad as dg
        >>> Conv1d(3, 8, 5, padding="same")(dg.randn(2, 3, 40)).shape
        (2, 8, 40)
    """

    _dims = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
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

    def forward(self, input: Tensor) -> Tensor:
        x, padding = self._padded(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution: the gradient of Conv2d with respect to its input, as a layer
    (each input pixel adds W times itself into an output window; used to upsample).

    Args:
        in_channels, out_channels, kernel_size, stride, padding (ints), dilation, groups, bias:
            those of the convolution being transposed.
        output_padding: extra rows/columns on one side of the output, < stride or < dilation. Default: 0.
        padding_mode: 'zeros' only.
        device, dtype: where and in which float type the parameters are made.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out),
        H_out = (H - 1) sH - 2 pH + dH (kH - 1) + output_padding + 1.

    Parameters:
        weight: (C_in, C_out / groups, kH, kW) ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
            fan_in = C_out / groups * kH * kW (PyTorch computes it from weight.shape[1]).
        bias: (C_out,), the same distribution.

    Example:
        >>> import deepgrad as dg
        >>> ConvTranspose2d(16, 3, 4, stride=2, padding=1)(dg.randn(2, 16, 8, 8)).shape
        (2, 3, 16, 16)
    """

    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
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
            output_padding=output_padding,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        return F.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvNd):
    """1-D transposed convolution over (N, C_in, L): as ConvTranspose2d along one dimension.

    Shape:
        input (N, C_in, L) -> (N, C_out, (L - 1) s - 2 p + d (k - 1) + output_padding + 1).

    Parameters:
        weight: (C_in, C_out / groups, k) ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_out / groups * k.
        bias: (C_out,), the same distribution.

    Example:
        >>> import deepgrad as dg
        >>> ConvTranspose1d(4, 2, 3, stride=2)(dg.randn(1, 4, 10)).shape
        (1, 2, 21)
    """

    _dims = 1
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
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
            output_padding=output_padding,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        return F.conv_transpose1d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]
