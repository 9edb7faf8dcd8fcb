"""Convolutional networks for 28x28 digits: LeNet-5 and a small modern ConvNet."""

from __future__ import annotations

from collections.abc import Sequence

from deepgrad import nn
from deepgrad.autograd import Tensor
from deepgrad.backend import ShapeError
from deepgrad.backend.validation import one_of, probability
from deepgrad.models.common import (
    DROPOUT_FIX,
    check_activation,
    check_init,
    initialize,
    make_activation,
)


def _as_images(owner: str, x: Tensor, channels: int, size: int) -> Tensor:
    """(N, C, H, W) from (N, C, H, W) or flat (N, C*H*W) digits."""
    if x.ndim == 2 and x.shape[1] == channels * size * size:
        return x.reshape(x.shape[0], channels, size, size)
    if x.ndim != 4 or x.shape[1] != channels:
        raise ShapeError(
            f"{owner}: input must be images (N, {channels}, {size}, {size}) or flat (N, {channels * size * size}) "
            f"(got shape {tuple(x.shape)})."
        )
    return x


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) for 28x28 digits, with max-pooling and ReLUs by default.

    conv 5x5 (6, padding 2) -> act -> pool 2 -> conv 5x5 (16) -> act -> pool 2 -> 400 -> 120 -> 84 -> classes

    Args:
        num_classes: outputs. Default: 10.
        in_channels: input channels. Default: 1.
        activation: the activation's name ("tanh" with ``pool="avg"`` is the 1998 original). Default: "relu".
        pool: "max" or "avg". Default: "max".
        dropout: dropout probability before each of the last two Linear layers. Default: 0.
        init: "zeros", "normal", "xavier", "kaiming" or "default" (see ``models.initialize``). Default: "kaiming".

    Shape:
        x: (N, in_channels, 28, 28) or (N, in_channels * 784) -> (N, num_classes) logits.

    Example:
        >>> import deepgrad as dg
        >>> LeNet5()(dg.randn(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: str = "relu",
        pool: str = "max",
        dropout: float = 0.0,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        check_activation("LeNet5", activation)
        check_init("LeNet5", init)
        one_of(pool, ("max", "avg"), "pool", "LeNet5")
        probability(dropout, "dropout", "LeNet5", fix=DROPOUT_FIX)
        self.in_channels = in_channels
        pooling = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2),
            make_activation(activation, 6),
            pooling(2),
            nn.Conv2d(6, 16, 5),
            make_activation(activation, 16),
            pooling(2),
        )
        head: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in ((400, 120), (120, 84)):
            head += [nn.Linear(n_in, n_out), make_activation(activation, n_out)]
        if dropout > 0:
            head.insert(3, nn.Dropout(dropout))
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(84, num_classes))
        self.classifier = nn.Sequential(*head)
        initialize(self, init, activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(_as_images("LeNet5", x, self.in_channels, 28)))


class ConvNet(nn.Module):
    """A small modern CNN for 28x28 digits: two (conv 3x3 -> [BN] -> act -> max-pool 2) blocks, then
    a hidden Linear layer with dropout.

    (N, 1, 28, 28) -> (N, c1, 14, 14) -> (N, c2, 7, 7) -> hidden -> classes

    Args:
        num_classes: outputs. Default: 10.
        in_channels: input channels. Default: 1.
        channels: filters of the two convolution blocks. Default: (16, 32).
        hidden: units of the hidden Linear layer. Default: 128.
        activation: the activation's name. Default: "relu".
        dropout: dropout probability before the last Linear layer. Default: 0.25.
        batch_norm: BatchNorm2d after each convolution. Default: False.
        init: the weight initialization (see ``models.initialize``). Default: "kaiming".

    Shape:
        x: (N, in_channels, 28, 28) or (N, in_channels * 784) -> (N, num_classes) logits.

    Example:
        >>> import deepgrad as dg
        >>> ConvNet(channels=(4, 8), hidden=16)(dg.randn(2, 784)).shape
        (2, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32),
        hidden: int = 128,
        activation: str = "relu",
        dropout: float = 0.25,
        batch_norm: bool = False,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        check_activation("ConvNet", activation)
        check_init("ConvNet", init)
        probability(dropout, "dropout", "ConvNet", fix=DROPOUT_FIX)
        channels = tuple(channels)
        if len(channels) != 2 or not all(isinstance(c, int) and c >= 1 for c in channels):
            raise ValueError(f"ConvNet: channels must be two positive ints (got {channels!r}).")
        self.in_channels = in_channels
        blocks: list[nn.Module] = []
        for c_in, c_out in zip((in_channels, channels[0]), channels):
            blocks.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(c_out))
            blocks += [make_activation(activation, c_out), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        head: list[nn.Module] = [
            nn.Flatten(),
            nn.Linear(channels[1] * 7 * 7, hidden),
            make_activation(activation, hidden),
        ]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_classes))
        self.classifier = nn.Sequential(*head)
        initialize(self, init, activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(_as_images("ConvNet", x, self.in_channels, 28)))


__all__ = ["ConvNet", "LeNet5"]
