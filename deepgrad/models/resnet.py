"""A small residual network for 28x28 digits, and its plain twin (the degradation lab).

The CIFAR-style layout of He et al. (2016, section 4.2), scaled to MNIST: a 3x3 stem
convolution, three stages of ``nn.BasicBlock`` (the second and third halve the height and width
and double the channels), global average pooling and one Linear layer. With ``blocks=(n, n, n)``
the network has 6n + 2 weighted layers (n = 3 gives ResNet-20); ``plain=True`` builds the same
layers without the shortcuts.
"""

from __future__ import annotations

from collections.abc import Sequence

from deepgrad import nn
from deepgrad.autograd import Tensor
from deepgrad.models.cnn import _as_images
from deepgrad.models.common import check_init, initialize


def _positive_ints(owner: str, name: str, values: Sequence[int], count: int) -> tuple[int, ...]:
    values = tuple(values)
    ok = len(values) == count and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    )
    if not ok:
        raise ValueError(f"{owner}: {name} must be {count} positive ints (got {values!r}).")
    return values


class ResNet(nn.Module):
    """A residual network for small images: stem, three stages of BasicBlocks, pool, classify.

    conv 3x3 (c1) -> BN -> ReLU -> stage 1 (c1, HxW) -> stage 2 (c2, H/2) -> stage 3 (c3, H/4)
    -> global average pool -> Linear(c3, classes)

    Stage s has ``blocks[s]`` BasicBlocks; the first block of stages 2 and 3 has stride 2 and a
    projection shortcut. Depth (weighted layers) = 2 + 2 * sum(blocks).

    Convolution weights are drawn as ``init`` says (Kaiming by default, He et al. 2015); batch
    norms start at gamma = 1, beta = 0.

    Args:
        num_classes: outputs. Default: 10.
        in_channels: input channels. Default: 1.
        blocks: BasicBlocks per stage. Default: (2, 2, 2) (a ResNet-14).
        channels: channels of the three stages. Default: (16, 32, 64).
        plain: leave the shortcuts out (a plain network of the same depth). Default: False.
        init: "zeros", "normal", "xavier", "kaiming" or "default" (see ``models.initialize``).
            Default: "kaiming".

    Attributes:
        depth: the number of weighted layers (convolutions on the main path, and the Linear).

    Shape:
        x: (N, in_channels, H, W), or flat (N, in_channels * 784) digits -> (N, num_classes)
        logits.

    Example:
        >>> import deepgrad as dg
        >>> net = ResNet(blocks=(1, 1, 1), channels=(4, 8, 16))
        >>> net(dg.randn(2, 1, 28, 28)).shape, net.depth
        ((2, 10), 8)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        blocks: Sequence[int] = (2, 2, 2),
        channels: Sequence[int] = (16, 32, 64),
        plain: bool = False,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        blocks = _positive_ints("ResNet", "blocks", blocks, 3)
        channels = _positive_ints("ResNet", "channels", channels, 3)
        check_init("ResNet", init)
        self.in_channels, self.plain = in_channels, bool(plain)
        self.blocks, self.channels = blocks, channels
        self.depth = 2 + 2 * sum(blocks)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        c_in = channels[0]
        for stage, (n, c_out) in enumerate(zip(blocks, channels)):
            layers = []
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(nn.BasicBlock(c_in, c_out, stride, residual=not self.plain))
                c_in = c_out
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[2], num_classes)
        initialize(self, init, "relu")

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            x = _as_images("ResNet", x, self.in_channels, 28)
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


__all__ = ["ResNet"]
