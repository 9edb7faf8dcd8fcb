"""The building block of residual networks (He, Zhang, Ren & Sun, 2016): ``BasicBlock``.

A residual block learns a correction F(x) to its input instead of a whole new mapping:
y = relu(F(x) + shortcut(x)). When F is not needed the block can stay close to the identity by
driving F to zero, which a stack of plain layers finds hard to do (the "degradation problem":
deeper plain networks train to a higher training loss than shallower ones).

The submodule names follow torchvision's ``BasicBlock`` (``conv1``, ``bn1``, ``conv2``, ``bn2``,
``downsample``), so that state dicts port in both directions.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import DeviceLike, DTypeLike, Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import positive_int
from deepgrad.nn import functional as F
from deepgrad.nn.container import Sequential
from deepgrad.nn.conv import Conv2d
from deepgrad.nn.module import Module
from deepgrad.nn.normalization import BatchNorm2d

__all__ = ["BasicBlock"]


class BasicBlock(Module):
    """Two 3x3 convolutions with batch norm and a shortcut around them:

    F(x) = bn2(conv2(relu(bn1(conv1(x)))))
    y = relu(F(x) + shortcut(x)),  shortcut(x) = x, or bn(conv1x1(x)) when the shape changes

    ``conv1`` carries the ``stride``. When ``stride != 1`` or the number of channels changes,
    x no longer has F(x)'s shape and the shortcut is a projection ("option B" of the paper): a
    1x1 convolution with the same stride followed by batch norm (``downsample``). With
    ``residual=False`` the block has no shortcut at all, y = relu(F(x)): the "plain" block of
    the paper's degradation experiment, with the same convolutions and the same depth.

    The convolutions have no bias (the batch norm after each has one). The layers keep their
    own default initialization; ``deepgrad.models.ResNet`` re-draws the weights.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (and of the inner convolution).
        stride: stride of ``conv1`` and of the projection; 2 halves the height and width.
            Default: 1.
        residual: add the shortcut. False gives the plain block (no ``downsample`` either).
            Default: True.
        device, dtype: of the parameters. Default: cpu, float32.

    Attributes:
        expansion: output channels per ``out_channels`` (1, as torchvision's BasicBlock).
        downsample: the projection shortcut, or None (identity shortcut, or a plain block).

    Shape:
        x: (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).

    Example:
        >>> import deepgrad as dg
        >>> block = BasicBlock(8, 16, stride=2)
        >>> block(dg.randn(2, 8, 28, 28)).shape
        (2, 16, 14, 14)
        >>> type(block.downsample[0]).__name__
        'Conv2d'

    Paper: "Deep Residual Learning for Image Recognition", CVPR 2016.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        residual: bool = True,
        device: DeviceLike | None = None,
        dtype: DTypeLike = None,
    ) -> None:
        super().__init__()
        positive_int(in_channels, "in_channels", "BasicBlock")
        positive_int(out_channels, "out_channels", "BasicBlock")
        positive_int(stride, "stride", "BasicBlock")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.residual = stride, bool(residual)
        self.conv1 = Conv2d(
            in_channels, out_channels, 3, stride, 1, bias=False, device=device, dtype=dtype
        )
        self.bn1 = BatchNorm2d(out_channels, device=device, dtype=dtype)
        self.conv2 = Conv2d(
            out_channels, out_channels, 3, 1, 1, bias=False, device=device, dtype=dtype
        )
        self.bn2 = BatchNorm2d(out_channels, device=device, dtype=dtype)
        self.downsample: Sequential | None = None
        if self.residual and (stride != 1 or in_channels != out_channels):
            self.downsample = Sequential(
                Conv2d(
                    in_channels,
                    out_channels,
                    1,
                    stride=stride,
                    bias=False,
                    device=device,
                    dtype=dtype,
                ),
                BatchNorm2d(out_channels, device=device, dtype=dtype),
            )

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"BasicBlock: input must be (N, {self.in_channels}, H, W) "
                f"(got shape {tuple(x.shape)}); check in_channels or the layer before."
            )
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.residual:
            return F.relu(out)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)

    def extra_repr(self) -> str:
        plain = "" if self.residual else ", residual=False"
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}{plain}"
