"""A small WaveNet (van den Oord et al., 2016): causal dilated convolutions with gated
activations and residual and skip connections, deck 003's autoregressive model of sequences.

Output step t sees the input steps t, t - 1, ... back to the receptive field and never a later
one, so ``logits[..., t]`` can be trained to predict ``x[..., t + 1]``:
p(x) = prod_t p(x_{t+1} | x_<=t), with one pass of the network for the whole sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

from deepgrad import nn
from deepgrad.autograd import Tensor
from deepgrad.backend.validation import int_at_least, positive_int


class WaveNetBlock(nn.Module):
    """One residual layer: z = tanh(f) * sigmoid(g), (f, g) = CausalConv1d_d(x) split in halves;
    returns (x + W_res z, W_skip z), W_res and W_skip 1x1 convolutions.

    Shape:
        (N, residual_channels, L) -> ((N, residual_channels, L), (N, skip_channels, L)).
    """

    def __init__(
        self, residual_channels: int, skip_channels: int, kernel_size: int, dilation: int
    ) -> None:
        super().__init__()
        self.conv = nn.CausalConv1d(
            residual_channels, 2 * residual_channels, kernel_size, dilation=dilation
        )
        self.residual = nn.Conv1d(residual_channels, residual_channels, 1)
        self.skip = nn.Conv1d(residual_channels, skip_channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f, g = self.conv(x).chunk(2, dim=1)
        z = f.tanh() * g.sigmoid()
        return x + self.residual(z), self.skip(z)


class WaveNet(nn.Module):
    """A WaveNet-style stack: causal input layer, gated residual blocks with growing dilations,
    skip connections summed into a 1x1 output network.

    h = CausalConv1d(x);   (h, s_l) = block_l(h) for dilations d_1 .. d_L;
    logits = W2 relu(W1 relu(sum_l s_l))

    Receptive field: (kernel_size - 1) * (1 + sum(dilations)) + 1 steps (``receptive_field``).

    Args:
        in_channels: features per input step. Default: 1.
        out_channels: logits per step (the classes of the next step). Default: 2.
        residual_channels: width of the residual stream. Default: 16.
        skip_channels: width of the skip connections and the output network. Default: 32.
        dilations: dilation of each block. Default: (1, 2, 4, 8).
        kernel_size: taps of every causal convolution. Default: 2.

    Shape:
        x: (N, in_channels, L) -> logits (N, out_channels, L); logits[..., t] depends only on
        x[..., :t + 1].

    Example:
        >>> import deepgrad as dg
        >>> net = WaveNet(1, 4, dilations=(1, 2, 4))
        >>> net(dg.randn(2, 1, 30)).shape, net.receptive_field
        ((2, 4, 30), 9)
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        residual_channels: int = 16,
        skip_channels: int = 32,
        dilations: Sequence[int] = (1, 2, 4, 8),
        kernel_size: int = 2,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("residual_channels", residual_channels),
            ("skip_channels", skip_channels),
        ):
            positive_int(value, name, "WaveNet")
        int_at_least(kernel_size, 2, "kernel_size", "WaveNet", fix="a causal tap needs 2 or more")
        self.dilations = tuple(positive_int(d, "dilations", "WaveNet") for d in dilations)
        if not self.dilations:
            raise ValueError(
                "WaveNet: dilations is empty (got ()); give at least one, e.g. (1, 2, 4)."
            )
        self.kernel_size = kernel_size
        self.input = nn.CausalConv1d(in_channels, residual_channels, kernel_size)
        self.blocks = nn.ModuleList(
            WaveNetBlock(residual_channels, skip_channels, kernel_size, d) for d in self.dilations
        )
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(skip_channels, skip_channels, 1),
            nn.ReLU(),
            nn.Conv1d(skip_channels, out_channels, 1),
        )

    @property
    def receptive_field(self) -> int:
        """How many input steps (the current one included) one output step sees."""
        return (self.kernel_size - 1) * (1 + sum(self.dilations)) + 1

    def forward(self, x: Tensor) -> Tensor:
        h = self.input(x)
        skips: Tensor | None = None
        for block in self.blocks:
            h, skip = block(h)
            skips = skip if skips is None else skips + skip
        assert skips is not None, "internal: WaveNet has at least one block"
        return self.head(skips)

    def extra_repr(self) -> str:
        return f"dilations={self.dilations}, receptive field {self.receptive_field}"


__all__ = ["WaveNet", "WaveNetBlock"]
